"""The TinyGPT network: a Llama-shaped decoder with a preallocated KV cache.

Each block is pre-norm: ``x + attention(rmsnorm(x))`` then ``x + mlp(rmsnorm(x))``.
Attention uses rotary position embeddings (the rotate-half form Llama uses) and
grouped-query attention, through ``scaled_dot_product_attention`` for a prompt and
through three small products for one new token (``Block.step``); the MLP is
SwiGLU. For decoding speed at batch size 1 the query/key/value projections are
one matrix, and so are the MLP's gate and up projections: fewer, larger matrix
products per token.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int  # number of token ids
    dim: int  # width of the residual stream
    n_layers: int  # number of Transformer blocks
    n_heads: int  # query heads per block
    n_kv_heads: int  # key/value heads; each serves n_heads // n_kv_heads query heads
    ffn_dim: int  # hidden width of the SwiGLU MLP
    context_length: int  # longest sequence, prompt and reply together
    rope_theta: float = 10000.0  # base of the rotary embedding frequencies
    norm_eps: float = 1e-5  # RMSNorm epsilon
    tie_embeddings: bool = True  # the output projection reuses the token embedding

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads


class KVCache:
    """Keys and values of every layer for one sequence, allocated once up front.

    The memory is reserved for the whole context but left uninitialised: positions
    past ``length`` are never read, and the operating system commits pages only as
    they are written.
    """

    def __init__(self, config: GPTConfig, dtype: torch.dtype, device: torch.device):
        shape = (config.n_layers, 1, config.n_kv_heads, config.context_length, config.head_dim)
        self.keys = torch.empty(shape, dtype=dtype, device=device)
        self.values = torch.empty(shape, dtype=dtype, device=device)
        self.length = 0  # positions filled so far

    def prefix(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The filled part, keys and values each layers x kv_heads x length x head_dim."""
        return self.keys[:, 0, :, : self.length], self.values[:, 0, :, : self.length]

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Add one position: keys and values each layers x kv_heads x head_dim."""
        if self.length == self.keys.shape[3]:
            raise ValueError(f"{self.length + 1} positions exceed the context length")
        self.keys[:, 0, :, self.length] = keys
        self.values[:, 0, :, self.length] = values
        self.length += 1


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # normalise in fp32 like the reference implementations, then return to x's dtype
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        c = config
        self.attn_norm = RMSNorm(c.dim, c.norm_eps)
        self.qkv = nn.Linear(c.dim, (c.n_heads + 2 * c.n_kv_heads) * c.head_dim, bias=False)
        self.out = nn.Linear(c.n_heads * c.head_dim, c.dim, bias=False)
        self.mlp_norm = RMSNorm(c.dim, c.norm_eps)
        self.gate_up = nn.Linear(c.dim, 2 * c.ffn_dim, bias=False)
        self.down = nn.Linear(c.ffn_dim, c.dim, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: KVCache | None,
        layer: int,
    ) -> torch.Tensor:
        x = x + self._attention(self.attn_norm(x), cos, sin, cache, layer)
        return x + self._mlp(x)

    def _mlp(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(self.mlp_norm(x)).chunk(2, dim=-1)
        mlp: torch.Tensor = self.down(F.silu(gate) * up)
        return mlp

    def _rotated_qkv(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values of ``x`` (batch x steps x dim), each batch x steps x
        heads x head_dim, with the rotary embedding applied to queries and keys."""
        c = self.config
        batch, steps, _ = x.shape
        qkv = self.qkv(x).view(batch, steps, c.n_heads + 2 * c.n_kv_heads, c.head_dim)
        # queries and keys are rotated together: half the element-wise operations
        qk = qkv[:, :, : c.n_heads + c.n_kv_heads]
        qk = qk * cos + rotate_half(qk) * sin
        return qk[:, :, : c.n_heads], qk[:, :, c.n_heads :], qkv[:, :, c.n_heads + c.n_kv_heads :]

    def _attention(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: KVCache | None,
        layer: int,
    ) -> torch.Tensor:
        batch, steps, _ = x.shape
        q, k, v = (t.transpose(1, 2) for t in self._rotated_qkv(x, cos, sin))
        start = 0
        if cache is not None:
            start = cache.length
            cache.keys[layer, :, :, start : start + steps] = k
            cache.values[layer, :, :, start : start + steps] = v
            k = cache.keys[layer, :, :, : start + steps]
            v = cache.values[layer, :, :, : start + steps]
        q = q.to(k.dtype)  # the cache may hold fp32 for a bf16 model (see new_cache)
        if start == 0:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        else:  # new tokens after a cached prefix: causal among them, all of the prefix
            mask = torch.ones(steps, start + steps, dtype=torch.bool, device=x.device).tril(start)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
        out: torch.Tensor = self.out(y.transpose(1, 2).reshape(batch, steps, -1).to(x.dtype))
        return out

    def step(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One new token (``x``: 1 x 1 x dim) after the cached ``keys`` and ``values``
        (kv_heads x length x head_dim), which it only reads: returns the block's output
        and the token's own key and value, for the caller to append.

        Attention is three small products: the query heads that share a key/value head
        are stacked as rows of one matrix, so grouped-query attention needs no copies,
        and the new token's own score and value are added beside the cached ones. At
        decoding sizes this costs a fraction of the general kernel (``bench/fast.py``).
        """
        c = self.config
        q, k, v = (t[0, 0].to(keys.dtype) for t in self._rotated_qkv(self.attn_norm(x), cos, sin))
        groups = q.view(c.n_kv_heads, c.n_heads // c.n_kv_heads, c.head_dim) * c.head_dim**-0.5
        scores = torch.cat(
            (groups @ keys.transpose(-1, -2), (groups * k[:, None]).sum(-1, keepdim=True)), -1
        )
        weights = torch.softmax(scores, dim=-1)
        y = weights[..., :-1] @ values + weights[..., -1:] * v[:, None]
        x = x + self.out(y.reshape(1, 1, -1).to(x.dtype))
        return x + self._mlp(x), k, v


class TinyGPT(nn.Module):
    rope_cos: torch.Tensor  # cos and sin of every position's rotary angles
    rope_sin: torch.Tensor

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.dim)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.dim, config.norm_eps)
        self.lm_head = nn.Linear(config.dim, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.embed.weight
        inv_freq = 1.0 / (
            config.rope_theta
            ** (torch.arange(0, config.head_dim, 2, dtype=torch.float32) / config.head_dim)
        )
        angles = torch.outer(torch.arange(config.context_length, dtype=torch.float32), inv_freq)
        angles = torch.cat((angles, angles), dim=-1)
        self.register_buffer("rope_cos", angles.cos(), persistent=False)
        self.register_buffer("rope_sin", angles.sin(), persistent=False)

    def forward(
        self, ids: torch.Tensor, cache: KVCache | None = None, *, last_only: bool = False
    ) -> torch.Tensor:
        """Logits for ``ids`` (batch x steps); with a cache, positions follow what it holds."""
        start = cache.length if cache is not None else 0
        steps = ids.shape[1]
        if start + steps > self.config.context_length:
            raise ValueError(f"{start + steps} positions exceed the context length")
        if cache is not None and ids.shape == (1, 1):
            return self._step_cached(ids[0], cache)[None, None]
        x = self.embed(ids).to(self.norm.weight.dtype)  # a quantized model's table is bf16
        # shaped to broadcast over (batch, steps, heads, head_dim)
        cos = self.rope_cos[start : start + steps, None].to(x.dtype)
        sin = self.rope_sin[start : start + steps, None].to(x.dtype)
        for layer, block in enumerate(self.blocks):
            x = block(x, cos, sin, cache, layer)
        if cache is not None:
            cache.length = start + steps
        if last_only:
            x = x[:, -1:]
        logits: torch.Tensor = self.lm_head(self.norm(x))
        return logits

    def step(
        self, token: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decode one token after a cached prefix, as a pure function: the logits for
        ``token`` (shape 1), and its key and value at every layer (layers x kv_heads x
        head_dim) for the caller to append to ``keys`` and ``values`` (layers x kv_heads
        x length x head_dim). Nothing is mutated and every shape but the length is
        fixed, so this is the function ``tinygpt.aot`` builds ahead of time."""
        position = keys.shape[2]
        x = self.embed(token)[None].to(self.norm.weight.dtype)
        cos = self.rope_cos.narrow(0, position, 1)[None].to(x.dtype)
        sin = self.rope_sin.narrow(0, position, 1)[None].to(x.dtype)
        new_keys, new_values = [], []
        for layer, block in enumerate(self.blocks):
            assert isinstance(block, Block)
            x, k, v = block.step(x, cos, sin, keys[layer], values[layer])
            new_keys.append(k)
            new_values.append(v)
        logits: torch.Tensor = self.lm_head(self.norm(x))
        return logits[0, 0], torch.stack(new_keys), torch.stack(new_values)

    def _step_cached(self, token: torch.Tensor, cache: KVCache) -> torch.Tensor:
        logits, keys, values = self.step(token, *cache.prefix())
        cache.append(keys, values)
        return logits

    def new_cache(self) -> KVCache:
        """A cache for one sequence. On the CPU it holds fp32 whatever the weights: bf16
        attention products are slow there and lose precision as the context grows, while
        fp32 ones run on the fast matrix kernels (``bench/train.py``, ``bench/fast.py``)."""
        weight = self.embed.weight
        dtype = torch.float32 if weight.device.type == "cpu" else weight.dtype
        return KVCache(self.config, dtype, weight.device)


class TransposedLinear(nn.Module):
    """A bias-free linear layer that keeps its weight as (in, out), contiguous.

    At batch size 1 on the CPU, fp32 ``x @ W_t`` with that layout streams the
    weight through memory about 1.4x faster than ``F.linear(x, W)`` (measured on
    this project's 2-core machine, ``bench/decode.py``); in bf16 it is no faster.
    """

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight_t = nn.Parameter(weight.detach().t().contiguous(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight_t


def transpose_linears(model: nn.Module) -> None:
    """Swap every ``nn.Linear`` (bias-free) for a ``TransposedLinear``, for inference."""
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Linear) and child.bias is None:
                setattr(module, name, TransposedLinear(child.weight))
