"""Time of one engine step — a prefill chunk, a decode batch, or both mixed — split by cause.

Each op (mixer projections, attention core, MLP or experts, LM head) takes
`max(FLOPs / effective FLOP/s, bytes / effective bandwidth)`; its time is booked to `compute` when the
FLOPs bind and to `weights` or `kv` (whichever bytes it streams) when memory binds. Communication and
fixed overheads are added on top (no overlap assumed). So `compute + weights + kv + comm + overhead`
is exactly the step time.

The step is that of one micro-batch traversing every pipeline stage: with `pp` stages a decode batch
is split into `pp` micro-batches and one full pipeline cycle advances each by one token, so the
cycle time equals the time of one micro-batch through all layers (see `decode_micro_batch`).

Every argument may be a numpy array; all broadcast together (batch × context × layout × hardware).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from infercost._types import ArrayLike, FloatArray
from infercost.perf.comm import allreduce_time, alltoall_time, handoff_time
from infercost.perf.hierarchy import kv_seconds_per_byte
from infercost.perf.resources import Layout, Resources
from infercost.specs.model import LayerGroup, ModelSpec


@dataclass(frozen=True)
class StepTime:
    """Seconds per step by cause; `total` is their sum. Also the ideal (peak-rate) resource times."""

    compute: FloatArray
    weights: FloatArray
    kv: FloatArray
    comm: FloatArray
    overhead: FloatArray
    flops_per_chip: FloatArray
    weight_bytes_per_chip: FloatArray
    kv_bytes_per_chip: FloatArray

    @property
    def total(self) -> FloatArray:
        return self.compute + self.weights + self.kv + self.comm + self.overhead

    def at(self, index: int) -> StepTime:
        """The step at one position of a 1-d sweep (several steps timed in one call)."""
        return StepTime(*(np.asarray(getattr(self, f.name))[index] for f in fields(self)))

    def breakdown_s(self) -> dict[str, FloatArray]:
        return {
            "compute": self.compute,
            "weights": self.weights,
            "kv": self.kv,
            "comm": self.comm,
            "overhead": self.overhead,
        }


class _Ledger:
    """Accumulates op times, booking each to the resource that bound it."""

    def __init__(
        self, res: Resources, shape_like: FloatArray, kv_s_per_byte: FloatArray | None = None
    ) -> None:
        self.res = res
        hbm = res.memory_bw * res.memory_eff * res.kv_memory_eff
        self.tiered = kv_s_per_byte is not None
        self.kv_s_per_byte = 1.0 / hbm if kv_s_per_byte is None else kv_s_per_byte
        zero = np.zeros_like(shape_like, dtype=float)
        self.compute = zero.copy()
        self.weights = zero.copy()
        self.kv = zero.copy()
        self.flops = zero.copy()
        self.weight_bytes = zero.copy()
        self.kv_bytes = zero.copy()

    def op(
        self,
        flops: FloatArray,
        tokens_per_chip: FloatArray,
        *,
        weight_bytes: FloatArray | float = 0.0,
        kv_bytes: FloatArray | float = 0.0,
        flops_peak: FloatArray,
        half_tokens: FloatArray | None = None,
    ) -> None:
        res = self.res
        m = np.maximum(tokens_per_chip, 1e-9)
        half = res.compute_half_tokens if half_tokens is None else half_tokens
        rate = flops_peak * res.compute_eff * m / (m + half)
        t_compute = flops / rate
        bandwidth = res.memory_bw * res.memory_eff
        t_weights = weight_bytes / bandwidth
        # ops that read no KV stay finite even when the KV tiers cannot hold the working set
        t_kv = kv_bytes * self.kv_s_per_byte if not self.tiered or np.any(kv_bytes) else 0.0
        memory_bound = t_weights + t_kv > t_compute
        self.compute = self.compute + np.where(memory_bound, 0.0, t_compute)
        self.kv = self.kv + np.where(memory_bound, t_kv, 0.0)
        self.weights = self.weights + np.where(memory_bound, t_weights, 0.0)
        self.flops = self.flops + flops
        self.weight_bytes = self.weight_bytes + weight_bytes
        self.kv_bytes = self.kv_bytes + kv_bytes


def kv_shard_fraction(num_kv_heads: int, kind: str, tp: FloatArray) -> FloatArray:
    """Share of a layer's KV cache one tensor-parallel rank holds.

    GQA heads split across ranks until there are more ranks than KV heads, then heads are replicated;
    the MLA latent is shared by all heads, so every rank holds all of it.
    """
    if kind != "gqa" or num_kv_heads == 0:
        return np.ones_like(tp)
    frac: FloatArray = np.ceil(num_kv_heads / tp) / num_kv_heads
    return frac


def step_time(
    model: ModelSpec,
    res: Resources,
    layout: Layout,
    *,
    decode_seqs: ArrayLike = 0,
    decode_context: ArrayLike = 0,
    prefill_tokens: ArrayLike = 0,
    prefill_context: ArrayLike = 0,
    prefill_seqs: ArrayLike = 1,
) -> StepTime:
    """Time of one step for one micro-batch through all layers of one replica.

    decode_seqs: sequences decoding one token each, at `decode_context` tokens of context;
    prefill_tokens: prefill tokens in the step, split evenly over `prefill_seqs` sequences (one
    chunk each, may be fractional for steady-state averages) whose sequences already have
    `prefill_context` tokens cached (0 for first chunks).
    """
    b = np.asarray(decode_seqs, dtype=float)
    ctx = np.asarray(decode_context, dtype=float)
    chunk = np.asarray(prefill_tokens, dtype=float)
    past = np.asarray(prefill_context, dtype=float)
    tp, dp, ep, pp = layout.tp, layout.dp, layout.ep, layout.pp

    tokens = b + chunk
    active = (tokens > 0).astype(float)  # an empty step reads no weights
    prefill_seqs_ = np.where(chunk > 0, np.asarray(prefill_seqs, dtype=float), 0.0)
    per_seq_chunk = np.where(chunk > 0, chunk / np.maximum(prefill_seqs_, 1e-12), 0.0)
    shards = tp * dp  # chips one stage spans
    tokens_per_chip = tokens / dp  # each data-parallel group handles its share of the batch
    shape = np.broadcast_arrays(tokens, tp, res.memory_bw, ctx, past)[0]
    wb, kvb = res.weight_bytes, res.kv_bytes
    prefill_mid = past + (per_seq_chunk + 1.0) / 2.0  # average context a chunk token attends to

    def kv_reads(g: LayerGroup) -> tuple[FloatArray, FloatArray]:
        """KV bytes one layer of the group reads per chip: by decode queries, by prefill chunks."""
        att = g.attention
        per_token = (
            att.kv_elements_per_token() * kvb * kv_shard_fraction(att.num_kv_heads, att.kind, tp)
        )
        return (
            b / dp * att.attended_tokens(ctx) * per_token,
            prefill_seqs_ * att.attended_tokens(past + per_seq_chunk) * per_token,
        )

    def kv_read(g: LayerGroup) -> FloatArray:
        decode, prefill = kv_reads(g)
        return decode + prefill

    def state_read(g: LayerGroup) -> FloatArray:
        """Recurrent-state bytes one Mamba layer reads and writes per chip."""
        assert g.mamba is not None
        out: FloatArray = 2.0 * g.mamba.state_elements() * kvb / tp * (b / dp + prefill_seqs_)
        return out

    kv_s_per_byte = None
    if res.kv_tiered:  # the whole step's KV working set decides which tiers it is read from
        working_set = np.zeros_like(shape, dtype=float)
        for g in model.layers:
            if g.attention.kind != "none":
                working_set = working_set + g.count * kv_read(g)
            if g.mamba:
                working_set = working_set + g.count * state_read(g)
        kv_s_per_byte = kv_seconds_per_byte(res, working_set)
    ledger = _Ledger(res, shape, kv_s_per_byte)

    comm = np.zeros_like(shape, dtype=float)
    message = tokens_per_chip * model.hidden_size * res.activation_bytes

    for g in model.layers:
        n = float(g.count)
        att, ffn = g.attention, g.ffn
        mixer_params = att.params + (g.mamba.params if g.mamba else 0)
        dense_params = ffn.dense_params + ffn.router_params + g.norm_params + mixer_params

        # weight matmuls that every token passes through (mixer projections, dense MLP, shared experts)
        scans = g.mamba.scan_flops_per_token() if g.mamba else 0
        ledger.op(
            n * (2.0 * dense_params + scans) * tokens / shards,
            tokens_per_chip,
            weight_bytes=n * dense_params * wb / tp * active,
            flops_peak=res.linear_flops,
        )

        # routed experts: only the experts this step's tokens hit are read
        if ffn.kind == "moe":
            touched = ffn.experts_touched(tokens)
            ledger.op(
                n * 2.0 * tokens * ffn.top_k * ffn.expert_params / shards,
                tokens * ffn.top_k / np.maximum(touched, 1.0) / dp,  # rows per expert GEMM
                weight_bytes=n * touched * ffn.expert_params * wb / shards,
                flops_peak=res.linear_flops * res.moe_compute_eff,
                half_tokens=res.moe_half_tokens,
            )

        # attention core, two kernels as engines run them: decode queries read their KV; the
        # prefill chunk attends causally (each kernel's efficiency set by its own token count)
        if att.kind != "none":
            decode_kv, prefill_kv = kv_reads(g)
            decode_flops = b * att.core_flops_per_query(att.attended_tokens(ctx), absorbed=True)
            prefill_flops = chunk * att.core_flops_per_query(
                att.attended_tokens(prefill_mid), absorbed=False
            )
            for flops, queries, kv_bytes in (
                (decode_flops, b, decode_kv),
                (prefill_flops, chunk, prefill_kv),
            ):
                ledger.op(
                    n * flops / shards,
                    queries / dp,
                    kv_bytes=n * kv_bytes,
                    flops_peak=res.attention_flops,
                )
        if g.mamba:  # recurrent state: read and written once per sequence per step
            ledger.op(
                np.zeros_like(shape),
                tokens_per_chip,
                kv_bytes=n * state_read(g),
                flops_peak=res.linear_flops,
            )

        # tensor-parallel all-reduces, or the expert all-to-all that replaces the MoE one
        reduces: FloatArray = np.full_like(ep, float(g.allreduces))
        if ffn.kind == "moe" and g.allreduces > 0:
            routed = tokens / shards * ffn.top_k * model.hidden_size * res.activation_bytes
            dispatch_and_combine = 2.0 * alltoall_time(res, ep, routed * (ep - 1.0) / ep)
            comm = comm + n * np.where(ep > 1, dispatch_and_combine, 0.0)
            reduces = reduces - (ep > 1)
        comm = comm + n * reduces * allreduce_time(res, tp, message) * active

    # LM head: logits for every decoding sequence and the last token of each prefill chunk
    logits_tokens = b + prefill_seqs_
    ledger.op(
        2.0 * model.logits_params * logits_tokens / shards,
        logits_tokens / dp,
        weight_bytes=model.logits_params * res.embedding_bytes / tp * active,
        flops_peak=res.linear_flops,
    )

    stage_hops = (pp - 1.0) * handoff_time(res, tp * dp * pp, message * dp) * active
    comm = comm + np.where(pp > 1, stage_hops, 0.0)
    overhead = (res.step_overhead_s + res.layer_overhead_s * model.num_layers) * active
    return StepTime(
        compute=ledger.compute,
        weights=ledger.weights,
        kv=ledger.kv,
        comm=comm,
        overhead=overhead + np.zeros_like(shape),
        flops_per_chip=ledger.flops,
        weight_bytes_per_chip=ledger.weight_bytes,
        kv_bytes_per_chip=ledger.kv_bytes,
    )


def decode_micro_batch(batch: ArrayLike, pp: FloatArray) -> FloatArray:
    """Sequences per pipeline micro-batch when `batch` sequences fill `pp` stages."""
    out: FloatArray = np.ceil(np.asarray(batch, dtype=float) / pp)
    return out
