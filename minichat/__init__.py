"""minichat: chat with local language models, through one backend interface.

The public API: build or load a ``ChatBackend``, decode with a validated
``GenerationConfig``, keep turns in a ``Conversation``. Importing minichat does
not import torch; the local backends do when they load a model.
"""

from minichat.backend import ChatBackend, FinishReason, Message, Outcome, Stats, Stream
from minichat.backends.registry import DEFAULT_MODEL, load_backend
from minichat.config import GenerationConfig
from minichat.conversation import Conversation, Exchange
from minichat.errors import (
    ConfigError,
    GenerationError,
    InputError,
    MinichatError,
    ModelLoadError,
    ModelNotFoundError,
    PromptTooLongError,
)

__all__ = [
    "DEFAULT_MODEL",
    "ChatBackend",
    "ConfigError",
    "Conversation",
    "Exchange",
    "FinishReason",
    "GenerationConfig",
    "GenerationError",
    "InputError",
    "Message",
    "MinichatError",
    "ModelLoadError",
    "ModelNotFoundError",
    "Outcome",
    "PromptTooLongError",
    "Stats",
    "Stream",
    "load_backend",
]
