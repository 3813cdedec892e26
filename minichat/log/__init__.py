"""The chat log: every exchange of every chat kept in SQLite, searchable (``store``)."""
