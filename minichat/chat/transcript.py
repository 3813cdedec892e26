"""Saving and loading a chat: conversation, parameters and model as one JSON file.

Files are written atomically (a temporary file in the same folder, then a
rename), so an interrupted save never leaves a broken file and an older save
under the same name survives until the new one is complete. Loading checks
everything before anything changes, and says what is wrong with a bad file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minichat.backend import Message
from minichat.config import GenerationConfig
from minichat.errors import ConfigError, MinichatError
from minichat.safety.files import read_regular, write_atomically
from minichat.tools.spec import ToolCall

FORMAT = "minichat-chat"
VERSION = 1
ROLES = ("user", "assistant", "tool")
MAX_BYTES = 64 * 2**20  # a saved chat read back: far beyond any context, yet bounded


@dataclass(frozen=True)
class Transcript:
    model: str
    system: str | None
    config: GenerationConfig
    messages: list[Message]


def save(path: Path, transcript: Transcript) -> None:
    """Write the chat to ``path``; a path that cannot be written is a ``MinichatError``."""
    data = to_data(transcript)
    if path.is_dir():
        raise MinichatError(f"{path} is a folder; give a file name, e.g. {path / 'chat.json'}")
    try:
        # a conversation is the user's alone, wherever it is saved (as shell history is)
        write_atomically(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n", private=True)
    except OSError as error:
        raise MinichatError(f"cannot save to {path}: {error.strerror or error}") from None


def to_data(transcript: Transcript) -> dict[str, Any]:
    """The chat as the JSON ``save`` writes (and ``minichat logs show --json``)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": transcript.model,
        "system": transcript.system,
        "parameters": transcript.config.to_dict(),
        "messages": [message_data(m) for m in transcript.messages],
    }


def message_data(m: Message) -> dict[str, Any]:
    return {
        "role": m.role,
        "content": m.content,
        **({"cut_off": True} if m.cut_off else {}),
        **({"context": m.context, "sources": list(m.sources)} if m.context else {}),
        **({"tool_calls": [c.to_dict() for c in m.tool_calls]} if m.tool_calls else {}),
        **({"tool_call_id": m.tool_call_id} if m.tool_call_id is not None else {}),
    }


def load(path: Path) -> Transcript:
    try:
        raw = read_regular(path, MAX_BYTES)
        if len(raw) > MAX_BYTES:
            raise ValueError(f"it is larger than {MAX_BYTES >> 20} MiB")
        data = json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise MinichatError(f"no saved chat at {path}") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise MinichatError(f"{path} is not a saved minichat chat: {reason}") from None
    return from_data(data, str(path))


def from_data(data: Any, where: str) -> Transcript:
    """A chat from ``save``'s JSON, checked whole (``where`` names it in an error)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise MinichatError(f'{where} is not a saved minichat chat (no "format": "{FORMAT}")')
    try:
        config = GenerationConfig.from_mapping(dict(data.get("parameters") or {}))
        messages = [_message(m) for m in data.get("messages", [])]
        model, system = data.get("model"), data.get("system")
        if not isinstance(model, str) or not (system is None or isinstance(system, str)):
            raise ValueError("model must be a string and system a string or null")
    except (ConfigError, ValueError, TypeError, KeyError) as error:
        raise MinichatError(f"{where} is damaged: {error}") from None
    return Transcript(model, system, config, messages)


def _message(data: Any) -> Message:
    if not isinstance(data, dict) or data.get("role") not in ROLES:
        raise ValueError(f"a message must have a role of {' or '.join(ROLES)}: {data!r}")
    if not isinstance(data.get("content"), str):
        raise ValueError(f"a message's content must be text: {data!r}")
    context, sources = data.get("context"), data.get("sources", [])
    if not (context is None or isinstance(context, str)) or not isinstance(sources, list):
        raise ValueError(f"a message's context must be text and its sources a list: {data!r}")
    cut_off = bool(data.get("cut_off", False))
    calls = tuple(
        ToolCall(str(c["id"]), str(c["function"]["name"]), str(c["function"]["arguments"]))
        for c in data.get("tool_calls", [])
    )
    call_id = data.get("tool_call_id")
    return Message(
        data["role"],
        data["content"],
        cut_off,
        context,
        tuple(map(str, sources)),
        calls,
        None if call_id is None else str(call_id),
    )
