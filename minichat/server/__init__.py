"""``minichat serve``: any minichat backend behind the OpenAI chat-completions API.

``schema`` is the request as clients send it, validated; ``body`` reads it (size
limit, JSON, nesting, text no tokenizer can encode) before anything else does;
``errors`` answers every error in OpenAI's shape; ``app`` is the FastAPI
application: budgeting as in the CLI, one generation at a time behind a fair
queue, streaming as server-sent events.
"""
