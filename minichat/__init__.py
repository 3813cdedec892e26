"""minichat: chat with local language models, through one backend interface.

The public API: build or load a ``ChatBackend``, decode with a validated
``GenerationConfig``, chat through a ``ChatSession`` (the chat core every surface
uses) or keep turns in a bare ``Conversation``. Importing minichat does
not import torch; the local backends do when they load a model.
"""

from minichat.backend import ChatBackend, FinishReason, Message, Outcome, Stats, Stream
from minichat.catalog import load_backend
from minichat.chat.conversation import Conversation
from minichat.chat.events import Exchange
from minichat.chat.session import ChatSession
from minichat.config import GenerationConfig
from minichat.errors import (
    ConfigError,
    GenerationError,
    InputError,
    MinichatError,
    ModelLoadError,
    ModelNotFoundError,
    PromptTooLongError,
)
from minichat.loading.choices import DEFAULT_MODEL

__all__ = [
    "DEFAULT_MODEL",
    "ChatBackend",
    "ChatSession",
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
