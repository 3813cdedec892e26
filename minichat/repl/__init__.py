"""The interactive chat: ``minichat chat``.

``session`` holds the state (backend, parameters and where each came from,
conversation, statistics); ``commands`` is the one table of slash commands,
each a small function; ``render`` owns Rich output (streamed Markdown, or plain
text); ``prompt`` owns prompt-toolkit input (history, completion, toolbar,
multi-line keys); ``loop`` ties them together. All I/O is passed in, so tests
drive the REPL with prompt-toolkit's pipe input and a capturing console.
"""
