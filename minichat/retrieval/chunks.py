"""``Chunk``: one passage of a document, with where it came from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

Unit = Literal["lines", "pages"]


@dataclass(frozen=True)
class Chunk:
    path: str  # the file, absolute
    start: int  # first line (or page, for a PDF), 1-based
    end: int  # last line (or page), inclusive
    heading: str  # where it sits: "Install > From source", "def load", or ""
    text: str
    unit: Unit = "lines"

    @property
    def embed_text(self) -> str:
        """What is embedded and indexed: the heading path gives a passage its topic."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text

    def location(self, root: Path | None = None) -> str:
        """``notes.md:12-30`` or ``report.pdf p.3``; relative to ``root`` where it can be."""
        path = Path(self.path)
        if root is not None and path.is_relative_to(root):
            path = path.relative_to(root)
        span = str(self.start) if self.start == self.end else f"{self.start}-{self.end}"
        return f"{path} p.{span}" if self.unit == "pages" else f"{path}:{span}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Chunk:
        """The chunk ``to_dict`` wrote; ``ValueError`` for anything of another shape (a
        damaged collection), so a bad type never surfaces later, far from its cause."""
        if not isinstance(data, dict) or set(data) != _FIELDS:
            raise ValueError("a passage has other fields than a passage has")
        numbers = (data["start"], data["end"])
        if not all(isinstance(data[key], str) for key in ("path", "heading", "text")) or not all(
            type(n) is int for n in numbers
        ):
            raise ValueError("a passage has a field of the wrong type")
        if data["unit"] not in ("lines", "pages"):
            raise ValueError(f"a passage counts {data['unit']!r}, neither lines nor pages")
        return cls(**data)


_FIELDS = frozenset(f.name for f in fields(Chunk))
