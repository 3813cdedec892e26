"""Load Llama-family checkpoints (transformers layout) into TinyGPT.

A transformers folder holds ``config.json`` and safetensors files named like
``model.layers.3.self_attn.q_proj.weight``. ``llama_config`` says whether
TinyGPT can run that architecture exactly (Llama without biases or RoPE
scaling: SmolLM2, TinyLlama, ...); ``load_llama`` maps and fuses the tensors.
``save_llama`` writes TinyGPT in the same layout, so a checkpoint we train
loads here, in transformers (``hf:PATH``) and in any tool that reads Llama.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from minichat.tinygpt.model import GPTConfig, TinyGPT, transpose_linears

# Changes the stored tensors (named as transformers names them) before they are used:
# how an adapter is merged (``loading.adapter``)
Merge = Callable[[dict[str, torch.Tensor]], None]


def llama_config(folder: Path) -> GPTConfig | None:
    """TinyGPT's config for the model in ``folder``, or None if TinyGPT cannot run it."""
    try:
        hf = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    rope = hf.get("rope_scaling") or hf.get("rope_parameters") or {}
    heads, dim = hf.get("num_attention_heads"), hf.get("hidden_size")
    supported = (
        hf.get("model_type") == "llama"
        and not hf.get("attention_bias")
        and not hf.get("mlp_bias")
        and hf.get("hidden_act", "silu") == "silu"
        and rope.get("rope_type", "default") == "default"
        and isinstance(heads, int)
        and isinstance(dim, int)
        and hf.get("head_dim", dim // heads) == dim // heads
        and (_safetensors_files(folder) != [])
    )
    if not supported:
        return None
    return GPTConfig(
        vocab_size=hf["vocab_size"],
        dim=dim,
        n_layers=hf["num_hidden_layers"],
        n_heads=heads,
        n_kv_heads=hf.get("num_key_value_heads", heads),
        ffn_dim=hf["intermediate_size"],
        context_length=hf.get("max_position_embeddings", 2048),
        rope_theta=float(rope.get("rope_theta", hf.get("rope_theta", 10000.0))),
        norm_eps=float(hf.get("rms_norm_eps", 1e-5)),
        tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
    )


def load_llama(
    folder: Path,
    config: GPTConfig,
    dtype: torch.dtype,
    device: torch.device,
    merge: Merge | None = None,
) -> TinyGPT:
    """Build TinyGPT with the weights in ``folder`` (raises on missing or odd tensors),
    changed by ``merge`` first."""
    model = load_llama_fp32(folder, config, merge).to(device=device, dtype=dtype)
    if device.type == "cpu" and dtype == torch.float32:
        transpose_linears(model)
    return model


def load_llama_fp32(folder: Path, config: GPTConfig, merge: Merge | None = None) -> TinyGPT:
    """The weights as stored (changed by ``merge``), in fp32 on the CPU: the starting
    point for quantizing."""
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for file in _safetensors_files(folder):
        tensors.update(load_file(str(file)))
    if merge is not None:
        merge(tensors)
    model = empty_model(config)
    model.load_state_dict(_to_tinygpt(tensors, config), strict=True, assign=True)
    if config.tie_embeddings:
        model.lm_head.weight = model.embed.weight
    return model.float().eval()


def empty_model(config: GPTConfig) -> TinyGPT:
    """TinyGPT with placeholder weights, for a state dict to be assigned."""
    with _no_random_init():
        return TinyGPT(config)


def save_llama(model: TinyGPT, folder: Path, dtype: torch.dtype, extra: dict[str, Any]) -> None:
    """Write ``config.json`` (with ``extra`` under ``"minichat"``) and ``model.safetensors``."""
    from safetensors.torch import save_file

    from minichat.safety.files import replacing, write_atomically

    state = {
        name: tensor.detach().to(dtype).contiguous()
        for name, tensor in _to_llama(model.state_dict(), model.config).items()
    }
    with replacing(folder / "model.safetensors") as temporary:
        save_file(state, str(temporary), metadata={"format": "pt"})
    config = {**hf_config(model.config), "torch_dtype": str(dtype).removeprefix("torch.")}
    write_atomically(
        folder / "config.json", json.dumps({**config, "minichat": extra}, indent=2) + "\n"
    )


def hf_config(config: GPTConfig) -> dict[str, Any]:
    """``config`` as a transformers ``LlamaConfig``."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": config.vocab_size,
        "hidden_size": config.dim,
        "num_hidden_layers": config.n_layers,
        "num_attention_heads": config.n_heads,
        "num_key_value_heads": config.n_kv_heads,
        "intermediate_size": config.ffn_dim,
        "max_position_embeddings": config.context_length,
        "rope_theta": config.rope_theta,
        "rms_norm_eps": config.norm_eps,
        "tie_word_embeddings": config.tie_embeddings,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
    }


def _to_llama(state: dict[str, torch.Tensor], config: GPTConfig) -> dict[str, torch.Tensor]:
    """The inverse of ``_to_tinygpt``: split the fused matrices, rename everything."""
    head, kv = config.n_heads * config.head_dim, config.n_kv_heads * config.head_dim
    out = {
        "model.embed_tokens.weight": state["embed.weight"],
        "model.norm.weight": state["norm.weight"],
    }
    if not config.tie_embeddings:
        out["lm_head.weight"] = state["lm_head.weight"]
    for i in range(config.n_layers):
        p, b = f"model.layers.{i}.", f"blocks.{i}."
        q, k, v = torch.split(state[b + "qkv.weight"], [head, kv, kv])
        out |= {f"{p}self_attn.q_proj.weight": q, f"{p}self_attn.k_proj.weight": k}
        out[f"{p}self_attn.v_proj.weight"] = v
        out[f"{p}self_attn.o_proj.weight"] = state[b + "out.weight"]
        gate, up = state[b + "gate_up.weight"].chunk(2)
        out |= {f"{p}mlp.gate_proj.weight": gate, f"{p}mlp.up_proj.weight": up}
        out[f"{p}mlp.down_proj.weight"] = state[b + "down.weight"]
        out[f"{p}input_layernorm.weight"] = state[b + "attn_norm.weight"]
        out[f"{p}post_attention_layernorm.weight"] = state[b + "mlp_norm.weight"]
    return out


def _to_tinygpt(hf: dict[str, torch.Tensor], config: GPTConfig) -> dict[str, Any]:
    def take(name: str) -> torch.Tensor:
        if name not in hf:
            raise KeyError(f"the checkpoint has no tensor {name}")
        return hf.pop(name)

    state = {
        "embed.weight": take("model.embed_tokens.weight"),
        "norm.weight": take("model.norm.weight"),
    }
    if config.tie_embeddings:
        hf.pop("lm_head.weight", None)  # some tied checkpoints store the copy anyway
        state["lm_head.weight"] = state["embed.weight"]
    else:
        state["lm_head.weight"] = take("lm_head.weight")
    for i in range(config.n_layers):
        p, b = f"model.layers.{i}.", f"blocks.{i}."
        attn = [take(f"{p}self_attn.{x}_proj.weight") for x in "qkv"]
        state[b + "qkv.weight"] = torch.cat(attn)
        state[b + "out.weight"] = take(f"{p}self_attn.o_proj.weight")
        state[b + "gate_up.weight"] = torch.cat(
            [take(f"{p}mlp.gate_proj.weight"), take(f"{p}mlp.up_proj.weight")]
        )
        state[b + "down.weight"] = take(f"{p}mlp.down_proj.weight")
        state[b + "attn_norm.weight"] = take(f"{p}input_layernorm.weight")
        state[b + "mlp_norm.weight"] = take(f"{p}post_attention_layernorm.weight")
    return state


@contextmanager
def _no_random_init() -> Iterator[None]:
    """Build layers without drawing random weights that are overwritten at once
    (about a second for the default model); the meta device would avoid it too,
    but its first use imports a large part of torch."""
    saved = nn.Linear.reset_parameters, nn.Embedding.reset_parameters
    nn.Linear.reset_parameters = nn.Embedding.reset_parameters = lambda self: None  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        nn.Linear.reset_parameters, nn.Embedding.reset_parameters = saved  # type: ignore[method-assign]


def _safetensors_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors"))
