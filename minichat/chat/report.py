"""The numbers of a reply, named once: ``/stats``, ``ask -v``, ``ask --json``, the
server's ``usage`` and the web page's status line all say them with these names.

``FIGURES`` is the table: each number's key (OpenAI's name where it has one) and
its label for people. ``usage`` is the machine form (OpenAI's usage object, as the
server and ``ask --json`` give it); ``line`` and ``rows`` are the forms for people.
The passages a reply read from documents are named here too: ``sources_block``
under an answer, ``source_json`` in JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from minichat.backend import Message, Stats
from minichat.chat.events import Exchange
from minichat.chat.transcript import message_data
from minichat.log.store import Record
from minichat.retrieval.search import Hit

# key -> label; in the order a table shows them
FIGURES = {
    "prompt_tokens": "prompt tokens",
    "cached_tokens": "from cache",  # prompt tokens whose keys and values were reused
    "prefilled_tokens": "prefilled",  # prompt tokens computed for this reply
    "completion_tokens": "reply tokens",
    "time_to_first_token": "first token",
    "tokens_per_second": "tok/s",
}


@dataclass
class Totals:
    """A chat's figures summed over its turns."""

    turns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    seconds: float = 0.0

    def add(self, stats: Stats) -> None:
        self.turns += 1
        self.prompt_tokens += stats.prompt_tokens
        self.completion_tokens += stats.new_tokens
        self.cached_tokens += stats.cached_tokens
        self.seconds += stats.total_seconds


def figures(stats: Stats) -> dict[str, Any]:
    """One reply's numbers by ``FIGURES`` key (seconds and tokens/s may be None)."""
    return {
        "prompt_tokens": stats.prompt_tokens,
        "cached_tokens": stats.cached_tokens,
        "prefilled_tokens": stats.prefilled_tokens,
        "completion_tokens": stats.new_tokens,
        "time_to_first_token": stats.time_to_first_token,
        "tokens_per_second": stats.tokens_per_second,
    }


def total_figures(totals: Totals) -> dict[str, Any]:
    return {
        "prompt_tokens": totals.prompt_tokens,
        "cached_tokens": totals.cached_tokens,
        "prefilled_tokens": totals.prompt_tokens - totals.cached_tokens,
        "completion_tokens": totals.completion_tokens,
        "time_to_first_token": None,
        "tokens_per_second": totals.completion_tokens / totals.seconds if totals.seconds else None,
    }


def usage(stats: Stats | None) -> dict[str, Any]:
    """OpenAI's usage object, with the prompt tokens reused from the KV cache in
    ``prompt_tokens_details.cached_tokens`` as OpenAI reports its own prompt cache."""
    numbers = figures(stats) if stats is not None else dict.fromkeys(FIGURES, 0)
    return {
        "prompt_tokens": numbers["prompt_tokens"],
        "completion_tokens": numbers["completion_tokens"],
        "total_tokens": numbers["prompt_tokens"] + numbers["completion_tokens"],
        "prompt_tokens_details": {"cached_tokens": numbers["cached_tokens"]},
    }


def cells(numbers: dict[str, Any]) -> list[str]:
    """The figures as a table's cells, in ``FIGURES`` order."""
    return [_format(key, numbers[key]) for key in FIGURES]


def line(stats: Stats, finish_reason: str) -> str:
    """One line for people: ``prompt tokens 43 · from cache 0 · ... · ended: stop``."""
    shown = [
        f"{label} {cell}"
        for label, cell in zip(FIGURES.values(), cells(figures(stats)), strict=True)
    ]
    return " · ".join([*shown, f"ended: {finish_reason}"])


def brief(stats: Stats) -> str:
    """The reply's length and speed, for a status line."""
    numbers = figures(stats)
    keys = ("completion_tokens", "tokens_per_second")
    return " · ".join(f"{FIGURES[k]} {_format(k, numbers[k])}" for k in keys)


def rows(last: Stats | None, totals: Totals) -> list[list[str]]:
    """``/stats``: the last turn, then the session; headers are ``["", *FIGURES.values()]``."""
    table = [["last turn", *cells(figures(last))]] if last is not None else []
    table.append([f"session, {totals.turns} turns", *cells(total_figures(totals))])
    return table


def _format(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "time_to_first_token":
        return f"{value:.2f} s"
    if key == "tokens_per_second":
        return f"{value:.1f}"
    return str(value)


def sources_block(labels: Sequence[str]) -> str:
    """The block shown under an answer that read documents, cited or not."""
    return "\n".join(["Sources:", *labels])


def source_json(hit: Hit) -> dict[str, Any]:
    """A passage as ``ask --json`` reports it: where it is and how it ranked."""
    found = hit.to_dict()
    del found["text"]
    return found


def log_record(
    exchange: Exchange,
    messages: Sequence[Message],
    *,
    model: str,
    adapter: str | None,
    settings: dict[str, Any],
    surface: str,
    docs: str | None = None,
) -> Record:
    """An exchange as the chat log keeps it: the question (the last user message), the
    reply and its numbers, its calls and sources, and the conversation as it stands."""
    stats = exchange.stats
    return Record(
        model=model,
        adapter=adapter,
        system=next((m.content for m in messages if m.role == "system"), None),
        settings=settings,
        surface=surface,
        prompt=next((m.content for m in reversed(messages) if m.role == "user"), ""),
        reply=exchange.reply,
        finish=exchange.finish_reason,
        cut_off=exchange.cut_off,
        prompt_tokens=stats.prompt_tokens,
        new_tokens=stats.new_tokens,
        first_token_s=stats.time_to_first_token,
        total_s=stats.total_seconds,
        messages=[message_data(m) for m in messages if m.role != "system"],
        tools=[ran.to_dict() for ran in exchange.tools_ran],
        sources=[
            {"label": label, **source_json(hit)}
            for label, hit in zip(exchange.source_labels, exchange.sources, strict=False)
        ],
        docs=docs,
    )
