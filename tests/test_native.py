"""The native path: TinyGPT running Llama weights exactly as transformers does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from minichat import GenerationConfig, Message, ModelLoadError, load_backend
from minichat.backends.native import load_native, supports
from minichat.prompt.template import ChatFormat
from minichat.tinygpt.weights import llama_config, load_llama
from tests.conftest import CHATML, build_byte_tokenizer

CONVERSATIONS = [
    [Message("user", "hi")],
    [Message("system", "Be brief."), Message("user", "Tell me about tea ✓ please")],
    [
        Message("user", "one"),
        Message("assistant", "two"),
        Message("user", "three\nfour"),
    ],
]


@pytest.fixture(scope="module")
def hf_model(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).eval()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_logits_match_transformers(tiny_model_dir: Path, hf_model, dtype: torch.dtype) -> None:  # type: ignore[no-untyped-def]
    config = llama_config(tiny_model_dir)
    assert config is not None
    native = load_llama(tiny_model_dir, config, dtype, torch.device("cpu"))
    reference = hf_model.to(dtype)
    ids = torch.tensor([[5, 80, 81, 200, 13, 7, 99, 42, 17, 3]])
    tolerance = 1e-4 if dtype == torch.float32 else 3e-2
    with torch.inference_mode():
        expected = reference(ids).logits.float()
        torch.testing.assert_close(native(ids).float(), expected, atol=tolerance, rtol=tolerance)
        cache = native.new_cache()  # prefill, one token, then several after a cached prefix
        pieces = [native(ids[:, :4], cache), native(ids[:, 4:5], cache), native(ids[:, 5:], cache)]
        torch.testing.assert_close(
            torch.cat(pieces, dim=1).float(), expected, atol=tolerance, rtol=tolerance
        )
    hf_model.to(torch.float32)


def test_greedy_reply_matches_the_transformers_backend(tiny_model_dir: Path) -> None:
    config = GenerationConfig(temperature=0, max_new_tokens=40, repetition_penalty=1.0)
    native = load_native(tiny_model_dir, device="cpu", dtype="fp32")
    hf = load_backend(f"hf:{tiny_model_dir}", device="cpu", dtype="fp32", engine="hf")
    for messages in CONVERSATIONS:
        a, b = native.stream(messages, config), hf.stream(messages, config)
        assert "".join(a) == "".join(b)
        assert a.stats is not None and b.stats is not None
        assert (a.stats.prompt_tokens, a.stats.new_tokens) == (
            b.stats.prompt_tokens,
            b.stats.new_tokens,
        )


@pytest.mark.parametrize("template", ["chatml", "none", "no-system"])
def test_chat_format_tokenizes_like_apply_chat_template(tmp_path: Path, template: str) -> None:
    source = {
        "chatml": CHATML,
        "none": None,
        "no-system": (
            "{% for m in messages %}{% if m['role'] == 'system' %}"
            "{{ raise_exception('no system role') }}{% endif %}"
            "[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] "
        ),
    }[template]
    tokenizer = build_byte_tokenizer(source)
    tokenizer.save_pretrained(tmp_path)
    from minichat.backends.hf import HFBackend
    from tests.conftest import build_tiny_llama

    reference = HFBackend(build_tiny_llama(len(tokenizer)), tokenizer, "ref")
    ours = ChatFormat(tmp_path)
    for messages in CONVERSATIONS:
        assert ours.encode(messages) == reference.encode(messages)
    assert ours.end_ids == reference.end_ids
    assert ours.extra_stops == reference.extra_stops
    ids = ours.encode(CONVERSATIONS[1])
    assert ours.decode(ids) == reference.decode(ids)


def test_unsupported_architectures_are_left_to_transformers(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    config = json.loads((other / "config.json").read_text())
    config["attention_bias"] = True
    (other / "config.json").write_text(json.dumps(config))
    assert supports(tiny_model_dir) and not supports(other)
    with pytest.raises(ModelLoadError, match="not a Llama-family model"):
        load_native(other)


def test_corrupt_weights_are_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="corrupt or incomplete"):
        load_native(broken)
