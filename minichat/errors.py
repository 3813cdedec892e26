"""Errors a user can cause, each with a message that says what to do.

Everything minichat raises on purpose derives from ``MinichatError``; the CLI
prints such an error as one line and exits non-zero. Any other exception is a
bug and propagates with its traceback.

    MinichatError
    ├── ConfigError           a bad value or unknown key (flag, env, file, command)
    ├── InputError            an empty prompt, stdin that is not UTF-8, data a run cannot use
    ├── ModelNotFoundError    an unknown model name, a missing path or package
    ├── ModelLoadError        a corrupt model, an impossible device/dtype choice
    ├── PromptTooLongError    the newest message cannot fit in the context
    ├── GenerationError       generation failed (out of memory, ...)
    ├── DocumentError         a file that cannot be read as text (binary, broken PDF)
    └── CollectionError       a document collection missing, damaged or built another way
"""

from __future__ import annotations


class MinichatError(Exception):
    """Base of every error a user can cause; its message says what to do."""


class ConfigError(MinichatError):
    """A configuration value is out of range, of the wrong type, or unknown."""


class InputError(MinichatError):
    """The input itself cannot be used: a prompt (empty, binary, not UTF-8), training
    data (a special file, an odd line) or a run's flags."""


class ModelNotFoundError(MinichatError):
    """No model answers to the name given, or what it needs is not installed."""


class ModelLoadError(MinichatError):
    """The model exists but cannot be loaded as asked."""


class PromptTooLongError(MinichatError):
    """Even with every older turn dropped, the prompt does not fit the context."""

    def __init__(self, needed: int, available: int, context_length: int, max_new_tokens: int):
        self.needed = needed
        self.available = available
        if max_new_tokens >= context_length:  # no prompt could fit: the limit is the problem
            message = (
                f"the reply limit of {max_new_tokens} tokens leaves no room for a prompt in "
                f"this model's context of {context_length}; lower it (--max-tokens, /max_tokens)"
            )
        else:
            message = (
                f"the prompt needs {needed} tokens but only {available} fit "
                f"(context {context_length} minus {max_new_tokens} reserved for the reply); "
                "shorten the message or lower the reply limit (--max-tokens, /max_tokens)"
            )
        super().__init__(message)


class GenerationError(MinichatError):
    """Generation failed part-way; the conversation is kept as it was."""


class DocumentError(MinichatError):
    """A file cannot be read as a document (missing, binary, corrupt, encrypted, scanned)."""


class CollectionError(MinichatError):
    """A collection that does not exist, is damaged, or was built another way."""
