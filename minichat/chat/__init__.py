"""The chat core: every chat operation, for every surface.

``ChatSession`` holds one chat (model, parameters and where each came from, the
conversation, statistics) and does what a user asks of it: a turn (its events,
``events``), retry, undo, clear, set the system prompt or a parameter, swap the
model, save and load. The REPL, the web page and one-shot ``ask`` are thin
adapters over it; the server, stateless per request, goes through the same turn
code (``turn.fit_turn``, ``turn.stream_reply``).
Nothing here reads input or prints.
"""
