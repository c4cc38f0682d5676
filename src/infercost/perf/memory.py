"""Memory plan of one chip: weights, runtime reserve, what is left for the KV cache, and what it holds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infercost._types import ArrayLike, FloatArray
from infercost.perf.resources import Layout, Resources
from infercost.perf.step import kv_shard_fraction
from infercost.specs.model import ModelSpec

# Peak activation workspace per token of the largest step, in multiples of hidden_size elements
# (residual, normed input, attention output, MLP intermediate slices): a documented rule of thumb.
ACTIVATION_WIDTHS = 8


@dataclass(frozen=True)
class MemoryPlan:
    capacity_bytes: FloatArray
    usable_bytes: FloatArray  # capacity × memory utilization
    weights_bytes: FloatArray  # per chip
    reserve_bytes: FloatArray  # runtime + activation workspace
    kv_free_bytes: FloatArray  # left for the KV cache (negative: does not fit)
    kv_bytes_per_token: FloatArray  # per chip, one more token of context in every layer
    kv_bytes_per_sequence: FloatArray  # per chip, one sequence at `context`
    kv_capacity_tokens: FloatArray  # replica-wide tokens of cache
    max_concurrent_sequences: FloatArray  # replica-wide, at `context`


def weights_bytes_per_chip(model: ModelSpec, res: Resources, layout: Layout) -> FloatArray:
    """Weights one chip stores: dense parts split `tp` ways, experts over all `tp·dp` chips of a stage,
    layers split over `pp` stages (embedding and LM head shared out the same way)."""
    shards = layout.tp * layout.dp
    total = np.zeros_like(layout.tp * res.memory_bw)
    for g in model.layers:
        dense = g.params - g.ffn.num_experts * g.ffn.expert_params
        experts = g.ffn.num_experts * g.ffn.expert_params
        total = total + g.count * (dense / layout.tp + experts / shards) * res.weight_bytes
    total = total / layout.pp
    tables = (model.embedding_params + model.lm_head_params + model.final_norm_params) * (
        res.embedding_bytes
    )
    out: FloatArray = total + tables / (layout.tp * layout.pp)
    return out


def kv_bytes_per_sequence_per_chip(
    model: ModelSpec, res: Resources, layout: Layout, context: ArrayLike
) -> FloatArray:
    ctx = np.asarray(context, dtype=float)
    total = np.zeros_like(ctx * layout.tp)
    for g in model.layers:
        att = g.attention
        frac = kv_shard_fraction(att.num_kv_heads, att.kind, layout.tp)
        per_layer = att.kv_elements_per_token() * att.cached_tokens(ctx) * frac
        if g.mamba:
            per_layer = per_layer + g.mamba.state_elements() / layout.tp
        total = total + g.count * per_layer
    out: FloatArray = total * res.kv_bytes / layout.pp
    return out


def memory_plan(
    model: ModelSpec,
    res: Resources,
    layout: Layout,
    *,
    context: ArrayLike,
    memory_utilization: float = 0.9,
    max_batched_tokens: int = 8192,
) -> MemoryPlan:
    weights = weights_bytes_per_chip(model, res, layout)
    workspace = max_batched_tokens / layout.dp * ACTIVATION_WIDTHS * model.hidden_size
    reserve = res.runtime_reserve_bytes + workspace * res.activation_bytes
    usable = res.memory_bytes * memory_utilization
    free = usable - weights - reserve
    per_token = kv_bytes_per_sequence_per_chip(model, res, layout, 2.0) - (
        kv_bytes_per_sequence_per_chip(model, res, layout, 1.0)
    )
    per_seq = kv_bytes_per_sequence_per_chip(model, res, layout, context)
    room = np.maximum(free, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tokens = np.where(per_token > 0, room / per_token, np.inf) * layout.dp
        seqs = np.where(per_seq > 0, np.floor(room / per_seq), np.inf) * layout.dp
    return MemoryPlan(
        capacity_bytes=res.memory_bytes + np.zeros_like(free),
        usable_bytes=usable + np.zeros_like(free),
        weights_bytes=weights,
        reserve_bytes=reserve + np.zeros_like(free),
        kv_free_bytes=free,
        kv_bytes_per_token=per_token,
        kv_bytes_per_sequence=per_seq,
        kv_capacity_tokens=tokens,
        max_concurrent_sequences=seqs,
    )
