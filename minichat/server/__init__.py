"""``minichat serve``: any minichat backend behind the OpenAI chat-completions API.

``schema`` is the request as clients send it, validated; ``app`` is the FastAPI
application: budgeting as in the CLI, one generation at a time behind a fair
queue, OpenAI-style errors, streaming as server-sent events.
"""
