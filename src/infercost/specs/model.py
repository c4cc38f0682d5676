"""What a model is, as far as serving cost goes: layers, their kinds, parameter counts, KV-cache layout.

A model is a tuple of `LayerGroup`s; each group is `count` identical decoder layers made of a token mixer
(attention of some kind, or a Mamba-2 block, or nothing) and a feed-forward part (dense MLP, MoE, or
nothing). Everything else — FLOPs, bytes, memory — is derived from these numbers by pure functions.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from infercost._types import ArrayLike, FloatArray


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Attention(Frozen):
    """One attention block. `kind` is `gqa` (covers MHA and MQA), `mla` (DeepSeek latent) or `none`."""

    kind: Literal["gqa", "mla", "none"] = "none"
    num_heads: int = 0
    num_kv_heads: int = 0
    head_dim: int = 0  # query/key head dim (MLA: nope + rope part)
    v_head_dim: int = 0
    window: int | None = (
        None  # sliding-window or chunked-attention span in tokens; None = full context
    )
    kv_lora_rank: int = 0  # MLA latent width
    qk_rope_head_dim: int = 0  # MLA decoupled rope key width (stored per token, shared by heads)
    sparse_topk: int | None = (
        None  # sparse attention (DSA, block-sparse): tokens attended per query
    )
    params: int = 0  # projections, biases, norms, sinks of this block

    def kv_elements_per_token(self) -> int:
        """Cache elements one token adds to this layer (keys + values, or the MLA latent + rope key)."""
        if self.kind == "gqa":
            return self.num_kv_heads * (self.head_dim + self.v_head_dim)
        if self.kind == "mla":
            return self.kv_lora_rank + self.qk_rope_head_dim
        return 0

    def cached_tokens(self, context: ArrayLike) -> FloatArray:
        """Tokens held in this layer's cache for a sequence at `context` tokens."""
        ctx = np.asarray(context, dtype=float)
        return np.minimum(ctx, self.window) if self.window is not None else ctx

    def attended_tokens(self, context: ArrayLike) -> FloatArray:
        """Tokens one query attends to (and whose KV it reads) at `context`."""
        held = self.cached_tokens(context)
        return np.minimum(held, self.sparse_topk) if self.sparse_topk is not None else held

    def core_flops_per_query(self, attended: ArrayLike, *, absorbed: bool) -> FloatArray:
        """FLOPs of QK^T and softmax·V for one query token over `attended` keys (all heads).

        MLA decode runs in the weight-absorbed form (scores and values over the latent); MLA prefill
        decompresses K/V per head (`absorbed=False`), as vLLM and SGLang do.
        """
        n = np.asarray(attended, dtype=float)
        if self.kind == "gqa":
            return 2.0 * self.num_heads * (self.head_dim + self.v_head_dim) * n
        if self.kind == "mla":
            if absorbed:
                return 2.0 * self.num_heads * (2 * self.kv_lora_rank + self.qk_rope_head_dim) * n
            return 2.0 * self.num_heads * (self.head_dim + self.v_head_dim) * n
        return np.zeros_like(n)


class Mamba(Frozen):
    """A Mamba-2 mixer: a constant-size recurrent state per sequence instead of a growing KV cache."""

    num_heads: int
    head_dim: int
    state_size: int
    num_groups: int
    conv_kernel: int
    params: int

    @property
    def inner_size(self) -> int:
        return self.num_heads * self.head_dim

    def state_elements(self) -> int:
        """SSM state plus the rolling convolution window, per sequence."""
        conv_channels = self.inner_size + 2 * self.num_groups * self.state_size
        return self.num_heads * self.head_dim * self.state_size + conv_channels * (
            self.conv_kernel - 1
        )

    def scan_flops_per_token(self) -> int:
        # state update (decay, outer product add) and readout: ~3 multiply-adds per state element
        return 6 * self.num_heads * self.head_dim * self.state_size


class FeedForward(Frozen):
    """Dense MLP (`dense_params`), or a mixture of experts with optional always-on shared experts."""

    kind: Literal["dense", "moe", "none"] = "none"
    dense_params: int = 0  # dense MLP, or the shared experts of an MoE layer
    num_experts: int = 0
    top_k: int = 0
    expert_params: int = 0  # one routed expert
    router_params: int = 0

    @property
    def total_params(self) -> int:
        return self.dense_params + self.num_experts * self.expert_params + self.router_params

    @property
    def active_params(self) -> int:
        return self.dense_params + self.top_k * self.expert_params + self.router_params

    def experts_touched(self, tokens: ArrayLike) -> FloatArray:
        """Expected distinct routed experts hit by `tokens` tokens with uniform top-k routing."""
        t = np.asarray(tokens, dtype=float)
        if self.num_experts == 0:
            return np.zeros_like(t)
        miss = (1.0 - self.top_k / self.num_experts) ** t
        return self.num_experts * (1.0 - miss)


class LayerGroup(Frozen):
    count: int
    attention: Attention = Attention()
    mamba: Mamba | None = None
    ffn: FeedForward = FeedForward()
    norm_params: int = 0
    parallel_block: bool = False  # attention and MLP read the same input (GPT-J, Falcon, PaLM)

    @property
    def params(self) -> int:
        mamba = self.mamba.params if self.mamba else 0
        return self.attention.params + mamba + self.ffn.total_params + self.norm_params

    @property
    def active_params(self) -> int:
        mamba = self.mamba.params if self.mamba else 0
        return self.attention.params + mamba + self.ffn.active_params + self.norm_params

    @property
    def allreduces(self) -> int:
        """Tensor-parallel all-reduces per layer: one per sub-block, one in total for parallel blocks."""
        blocks = int(self.attention.kind != "none" or self.mamba is not None) + int(
            self.ffn.kind != "none"
        )
        return min(blocks, 1) if self.parallel_block else blocks


class ModelSpec(Frozen):
    id: str
    architecture: str
    hidden_size: int
    vocab_size: int
    layers: tuple[LayerGroup, ...]
    embedding_params: int
    lm_head_params: int  # 0 when tied to the embedding
    final_norm_params: int = 0
    max_context: int | None = None
    native_weights: str = (
        "bf16"  # number format of the released checkpoint (default serving format)
    )
    approximate: bool = False  # parts of the architecture are modelled only approximately
    source: str | None = None
    notes: str | None = None

    @property
    def num_layers(self) -> int:
        return sum(g.count for g in self.layers)

    @property
    def tied_embeddings(self) -> bool:
        return self.lm_head_params == 0

    @property
    def layer_params(self) -> int:
        return sum(g.count * g.params for g in self.layers)

    @property
    def total_params(self) -> int:
        return (
            self.embedding_params + self.lm_head_params + self.final_norm_params + self.layer_params
        )

    @property
    def active_params(self) -> int:
        """Parameters touched per token, input embedding and LM head included."""
        active = sum(g.count * g.active_params for g in self.layers)
        return self.embedding_params + self.lm_head_params + self.final_norm_params + active

    @property
    def is_moe(self) -> bool:
        return any(g.ffn.kind == "moe" for g in self.layers)

    @property
    def logits_params(self) -> int:
        """Weights of the output projection (the embedding matrix when tied)."""
        return self.lm_head_params or self.embedding_params

    def linear_flops_per_token(self) -> int:
        """FLOPs of every weight matmul for one token (2 per active weight), LM head included."""
        active_layers = sum(g.count * g.active_params for g in self.layers)
        scans = sum(g.count * g.mamba.scan_flops_per_token() for g in self.layers if g.mamba)
        return 2 * (active_layers + self.logits_params) + scans

    def attention_flops_per_token(self, context: ArrayLike) -> FloatArray:
        """Attention-core FLOPs for one decoded token at `context` (grows with context)."""
        total = np.zeros_like(np.asarray(context, dtype=float))
        for g in self.layers:
            att = g.attention
            total = total + g.count * att.core_flops_per_query(
                att.attended_tokens(context), absorbed=True
            )
        return total

    def kv_bytes_per_token(self, kv_bytes_per_element: float) -> float:
        """Cache bytes one token adds across all layers while the context is inside every window."""
        return kv_bytes_per_element * sum(
            g.count * g.attention.kv_elements_per_token() for g in self.layers
        )

    def kv_bytes_per_token_beyond_windows(self, kv_bytes_per_element: float) -> float:
        """Marginal cache bytes per token at long context: only layers whose cache never stops growing."""
        return kv_bytes_per_element * sum(
            g.count * g.attention.kv_elements_per_token()
            for g in self.layers
            if g.attention.window is None
        )

    def kv_bytes_per_sequence(self, context: ArrayLike, kv_bytes_per_element: float) -> FloatArray:
        """Cache bytes one sequence holds at `context`: windows capped, Mamba states constant."""
        total = np.zeros_like(np.asarray(context, dtype=float))
        for g in self.layers:
            elements = g.attention.kv_elements_per_token() * g.attention.cached_tokens(context)
            if g.mamba:
                elements = elements + g.mamba.state_elements()
            total = total + g.count * elements
        return total * kv_bytes_per_element

    def kv_bytes_by_kind(self, kv_bytes_per_element: float) -> dict[str, float]:
        """Cache bytes per token per layer kind (one layer of that kind), for display."""
        out: dict[str, float] = {}
        for g in self.layers:
            att = g.attention
            if att.kind != "none":
                label = f"{att.kind}" + (f" window {att.window}" if att.window else " full")
                out[label] = att.kv_elements_per_token() * kv_bytes_per_element
            if g.mamba:
                out["mamba state (per sequence)"] = g.mamba.state_elements() * kv_bytes_per_element
        return out
