"""The state of one interactive chat, and the operations slash commands use.

Nothing here reads input or prints: it changes the backend, the parameters
(recording where each value came from) and the conversation, and keeps the
statistics that ``/stats`` and the toolbar show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minichat.backend import ChatBackend, Stats
from minichat.chat import transcript
from minichat.chat.conversation import Conversation, Exchange
from minichat.config import GenerationConfig, fitting_reply_limit
from minichat.errors import ConfigError, MinichatError
from minichat.settings import Settings

LoadModel = Callable[[str], ChatBackend]


@dataclass
class Totals:
    turns: int = 0
    prompt_tokens: int = 0
    reply_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens reused from the KV cache
    seconds: float = 0.0


@dataclass
class ChatSession:
    backend: ChatBackend
    config: GenerationConfig
    conversation: Conversation
    load_model: LoadModel
    sources: dict[str, str] = field(default_factory=dict)  # parameter -> where it came from
    last: Exchange | None = None
    totals: Totals = field(default_factory=Totals)
    context_used: int = 0  # tokens of the last prompt and reply

    @classmethod
    def start(cls, backend: ChatBackend, settings: Settings, load_model: LoadModel) -> ChatSession:
        return cls(
            backend=backend,
            config=settings.generation_for(backend.context_length),
            conversation=Conversation(settings.system),
            load_model=load_model,
            sources=dict(settings.sources),
        )

    def set_parameters(self, source: str, **values: Any) -> None:
        """Change parameters through validation; on an error nothing changes."""
        config = self.config.with_values(**values)
        if config.max_new_tokens >= self.backend.context_length:
            raise ConfigError(
                f"max_new_tokens must be below the context length "
                f"({self.backend.context_length}), got {config.max_new_tokens}"
            )
        self.config = config
        self.sources.update(dict.fromkeys(values, source))

    def refresh_context(self) -> None:
        """Recount the tokens the conversation takes now (after /undo, /model, /load)."""
        prompt = self.conversation.prompt()
        self.context_used = self.backend.count_tokens(prompt) if prompt else 0

    def record(self, exchange: Exchange) -> None:
        stats: Stats = exchange.stats
        self.last = exchange
        self.totals.turns += 1
        self.totals.prompt_tokens += stats.prompt_tokens
        self.totals.reply_tokens += stats.new_tokens
        self.totals.cached_tokens += stats.cached_tokens
        self.totals.seconds += stats.total_seconds
        self.context_used = stats.prompt_tokens + stats.new_tokens

    def swap_model(self, name: str) -> None:
        """Load ``name``; only once it loaded is the old backend let go."""
        backend = self.load_model(name)
        self.backend.close()
        self.backend = backend
        self.sources["model"] = f"/model {name}"
        self.conversation.left_out = 0  # the new model fits what it can from the start
        if self.sources.get("max_new_tokens", "default") == "default":
            self.config = fitting_reply_limit(self.config, backend.context_length)
        self.refresh_context()

    def clear(self) -> None:
        self.conversation.messages.clear()
        self.conversation.left_out = 0
        self.refresh_context()

    def save(self, path: Path) -> None:
        transcript.save(
            path,
            transcript.Transcript(
                self.backend.model_id,
                self.conversation.system,
                self.config,
                list(self.conversation.messages),
            ),
        )

    def load(self, path: Path) -> str | None:
        """Restore a saved chat and its model; returns a note when the saved model
        could not be loaded (the chat is restored anyway)."""
        return self.restore(transcript.load(path), f"/load {path.name}")

    def restore(
        self, saved: transcript.Transcript, source: str, *, keep_model: bool = False
    ) -> str | None:
        note = None
        if saved.model != self.backend.model_id and not keep_model:
            try:
                self.swap_model(saved.model)
            except MinichatError as error:  # keep the chat even if its model is gone
                note = f"kept {self.backend.model_id}: cannot load {saved.model} ({error})"
        self.config = saved.config
        self.sources.update(dict.fromkeys(saved.config.to_dict(), source))
        self.conversation = Conversation(saved.system, list(saved.messages))
        self.refresh_context()
        return note
