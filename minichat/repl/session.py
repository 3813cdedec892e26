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

from minichat import transcript
from minichat.backend import ChatBackend, Stats
from minichat.config import GenerationConfig
from minichat.conversation import Conversation, Exchange
from minichat.errors import MinichatError
from minichat.settings import Settings

LoadModel = Callable[[str], ChatBackend]


@dataclass
class Totals:
    turns: int = 0
    prompt_tokens: int = 0
    reply_tokens: int = 0
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
            config=settings.generation,
            conversation=Conversation(settings.system),
            load_model=load_model,
            sources=dict(settings.sources),
        )

    def set_parameters(self, source: str, **values: Any) -> None:
        """Change parameters through validation; on an error nothing changes."""
        self.config = self.config.with_values(**values)
        self.sources.update(dict.fromkeys(values, source))

    def record(self, exchange: Exchange) -> None:
        stats: Stats = exchange.stats
        self.last = exchange
        self.totals.turns += 1
        self.totals.prompt_tokens += stats.prompt_tokens
        self.totals.reply_tokens += stats.new_tokens
        self.totals.seconds += stats.total_seconds
        self.context_used = stats.prompt_tokens + stats.new_tokens

    def swap_model(self, name: str) -> None:
        """Load ``name``; only once it loaded is the old backend let go."""
        backend = self.load_model(name)
        self.backend.close()
        self.backend = backend
        self.sources["model"] = f"/model {name}"
        self.context_used = 0

    def clear(self) -> None:
        self.conversation.messages.clear()
        self.context_used = 0

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
        """Restore a saved chat; returns a note if its model could not be loaded."""
        saved = transcript.load(path)
        note = None
        if saved.model != self.backend.model_id:
            try:
                self.swap_model(saved.model)
            except MinichatError as error:  # keep the chat even if its model is gone
                note = f"kept {self.backend.model_id}: cannot load {saved.model} ({error})"
        self.config = saved.config
        self.sources.update(dict.fromkeys(saved.config.to_dict(), f"/load {path.name}"))
        self.conversation = Conversation(saved.system, list(saved.messages))
        self.context_used = 0
        return note
