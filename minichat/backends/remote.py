"""``OpenAIBackend``: a model behind any OpenAI-compatible server.

``--model openai:MODEL@http://host:port/v1`` streams from vLLM, Ollama,
llama.cpp's server, TGI or ``minichat serve``; the key comes from
``OPENAI_API_KEY``. Token counts are exact where the server offers vLLM's
``/tokenize`` endpoint (``minichat serve`` and vLLM do) and estimated from the
text length elsewhere. A refused connection, a timeout or an error status is a
``GenerationError`` with the server's own message; the conversation is kept.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Generator, Sequence
from typing import Any, ClassVar

import httpx

from minichat.backend import ChatBackend, FinishReason, Message, Outcome, ToolCall, Tools
from minichat.budget import ensure_fits
from minichat.config import GenerationConfig
from minichat.errors import GenerationError, ModelLoadError, ModelNotFoundError

DEFAULT_CONTEXT = 8192  # when the server does not say
CHARS_PER_TOKEN = 4  # the estimate for servers without /tokenize
TIMEOUT = httpx.Timeout(connect=5.0, read=120.0, write=30.0, pool=5.0)
FINISH: dict[str | None, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
}


def parse_spec(spec: str) -> tuple[str, str]:
    """``MODEL@URL`` -> (model, base URL ending in /v1)."""
    model, at, url = spec.rpartition("@")
    if not at or not model or not url.startswith(("http://", "https://")):
        raise ModelNotFoundError(
            f"openai:{spec}: write openai:MODEL@http://host:port/v1, "
            "e.g. openai:llama3@http://localhost:11434/v1"
        )
    return model, url.rstrip("/")


class OpenAIBackend(ChatBackend):
    name: ClassVar[str] = "openai"

    def __init__(self, model: str, base_url: str, api_key: str | None = None):
        self.model = model
        self.model_id = f"openai:{model}@{base_url}"
        self.base_url = base_url
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(timeout=TIMEOUT, headers=headers)
        card = self._model_card()
        self.context_length = int(
            card.get("context_length") or card.get("max_model_len") or DEFAULT_CONTEXT
        )
        self.exact_counts = True  # until the server shows it has no /tokenize

    def _model_card(self) -> dict[str, Any]:
        data = self._json("GET", "/models", load=True)
        cards = data.get("data", []) if isinstance(data, dict) else []
        for card in cards:
            if isinstance(card, dict) and card.get("id") == self.model:
                return card
        names = ", ".join(str(c.get("id")) for c in cards if isinstance(c, dict)) or "none"
        raise ModelNotFoundError(f"{self.base_url} has no model {self.model!r} (it has: {names})")

    def count_tokens(self, messages: Sequence[Message]) -> int:
        if self.exact_counts:
            root = self.base_url.removesuffix("/v1")
            try:
                response = self.http.post(
                    f"{root}/tokenize",
                    json={
                        "model": self.model,
                        "messages": [m.to_dict() for m in messages],
                        "add_generation_prompt": True,
                    },
                )
                if response.status_code == 200:
                    return int(response.json()["count"])
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            self.exact_counts = False
        return sum(4 + len(m.prompt_text) // CHARS_PER_TOKEN for m in messages) + 4

    def generate(
        self, messages: Sequence[Message], config: GenerationConfig, cancel: threading.Event
    ) -> Generator[str, None, Outcome]:
        return (yield from self._stream(messages, config, cancel, None))

    def generate_with_tools(
        self,
        messages: Sequence[Message],
        config: GenerationConfig,
        cancel: threading.Event,
        tools: Tools,
    ) -> Generator[str, None, Outcome]:
        """The server gets the tools as OpenAI's API has them and says which it calls."""
        return (yield from self._stream(messages, config, cancel, tools))

    def _stream(
        self,
        messages: Sequence[Message],
        config: GenerationConfig,
        cancel: threading.Event,
        tools: Tools | None,
    ) -> Generator[str, None, Outcome]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_dict() for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": config.temperature,
            "top_p": config.top_p,
            "max_tokens": config.max_new_tokens,
            "top_k": config.top_k,
            "repetition_penalty": config.repetition_penalty,
            **({"stop": list(config.stop)} if config.stop else {}),
            **({"seed": config.seed} if config.seed is not None else {}),
        }
        if tools is not None:
            body["tools"] = [tool.to_dict() for tool in tools.tools]
            named = tools.choice not in ("auto", "required", "none")
            body["tool_choice"] = (
                {"type": "function", "function": {"name": tools.choice}} if named else tools.choice
            )
        calls: dict[int, dict[str, str]] = {}  # streamed call fragments, joined by index
        prompt_tokens = self.count_tokens(messages)
        ensure_fits(prompt_tokens, config.max_new_tokens, self.context_length)
        reason: FinishReason = "end_turn"
        usage: dict[str, int] = {}
        pieces = 0
        try:
            with self.http.stream("POST", f"{self.base_url}/chat/completions", json=body) as r:
                if r.status_code != 200:
                    r.read()
                    raise GenerationError(self._error_text(r))
                for line in r.iter_lines():
                    if cancel.is_set():
                        reason = "cancelled"
                        break
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    chunk = json.loads(line[len("data: ") :])
                    if "error" in chunk:
                        raise GenerationError(f"{self.base_url}: {chunk['error'].get('message')}")
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices", []):
                        delta = choice.get("delta") or {}
                        text = delta.get("content")
                        if text:
                            pieces += 1
                            yield text
                        for fragment in delta.get("tool_calls") or []:
                            join_call(calls, fragment)
                        if choice.get("finish_reason"):
                            reason = FINISH.get(choice["finish_reason"], "end_turn")
        except httpx.HTTPError as error:
            raise GenerationError(
                f"lost the connection to {self.base_url} ({type(error).__name__}: {error}); "
                "the conversation is kept"
            ) from None
        found = tuple(
            ToolCall(c["id"], c["name"], c["arguments"]) for _, c in sorted(calls.items())
        )
        return Outcome(
            "tool_calls" if found and reason != "cancelled" else reason,
            int(usage.get("prompt_tokens", prompt_tokens)),
            int(usage.get("completion_tokens", pieces)),
            tool_calls=found if reason != "cancelled" else (),
        )

    def _json(self, method: str, path: str, *, load: bool = False) -> Any:
        error_kind = ModelLoadError if load else GenerationError
        try:
            response = self.http.request(method, f"{self.base_url}{path}")
        except httpx.HTTPError as error:
            raise error_kind(
                f"cannot reach {self.base_url} ({type(error).__name__}: {error}); "
                "is the server running?"
            ) from None
        if response.status_code != 200:
            raise error_kind(self._error_text(response))
        return response.json()

    def _error_text(self, response: httpx.Response) -> str:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        return f"{self.base_url} answered {response.status_code}: {message}"

    def close(self) -> None:
        self.http.close()


def join_call(calls: dict[int, dict[str, str]], fragment: dict[str, Any]) -> None:
    """Add one streamed ``delta.tool_calls`` fragment to the call it belongs to."""
    call = calls.setdefault(
        int(fragment.get("index", len(calls))), {"id": "", "name": "", "arguments": ""}
    )
    function = fragment.get("function") or {}
    call["id"] = fragment.get("id") or call["id"]
    call["name"] += function.get("name") or ""
    call["arguments"] += function.get("arguments") or ""


def load_openai(spec: str, api_key: str | None = None) -> OpenAIBackend:
    model, url = parse_spec(spec)
    return OpenAIBackend(model, url, api_key or os.environ.get("OPENAI_API_KEY"))
