"""The backends: each one a ``ChatBackend``, imported only when chosen.

``registry`` maps a model name to the backend that serves it; nothing here
imports torch until a local model is actually loaded.
"""
