"""Derived performance figures of a deployment: TTFT, TPOT, throughput, floors, critical batch.

Definitions (docs/metrics.md): TTFT here is prefill time with no queueing; TPOT is the decode step time
at batch B at the mean context of a request's generation (isl + osl/2); steady-state output
throughput charges every request's prefill to the same chips (continuous batching, no overlap).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from infercost._types import BoolArray, FloatArray
from infercost.errors import DoesNotFitError, InfercostError
from infercost.perf.memory import MemoryPlan, memory_plan
from infercost.perf.resources import Layout, Resources, at_peak
from infercost.perf.step import StepTime, decode_micro_batch, step_time
from infercost.specs.model import ModelSpec
from infercost.specs.parallelism import Parallelism

GiB = 1024.0**3


def check_layout(model: ModelSpec, p: Parallelism) -> None:
    """Refuse layouts the engines cannot run, naming the field and what would work."""
    for g in model.layers:
        att = g.attention
        if att.kind != "none" and att.num_heads % p.tp:
            ok = [t for t in (1, 2, 4, 8, 16, 32, 64) if att.num_heads % t == 0]
            raise InfercostError(
                "tp", p.tp, f"must divide the {att.num_heads} attention heads (try {ok})"
            )
        if att.kind == "gqa" and att.num_kv_heads % p.tp and p.tp % att.num_kv_heads:
            raise InfercostError(
                "tp", p.tp, f"must divide or be a multiple of the {att.num_kv_heads} KV heads"
            )
        if g.mamba and g.mamba.num_heads % p.tp:
            raise InfercostError("tp", p.tp, f"must divide the {g.mamba.num_heads} Mamba heads")
    if p.pp > model.num_layers:
        raise InfercostError("pp", p.pp, f"at most the {model.num_layers} layers")
    experts = max((g.ffn.num_experts for g in model.layers), default=0)
    if p.ep > 1:
        if experts == 0:
            raise InfercostError("ep", p.ep, "expert parallelism needs an MoE model; use 1")
        if (p.tp * p.dp) % p.ep or experts % p.ep:
            raise InfercostError(
                "ep", p.ep, f"must divide tp×dp = {p.tp * p.dp} and the {experts} experts"
            )


def check_positive(name: str, value: float) -> None:
    if not value >= 1:
        raise InfercostError(name, value, "must be a whole number ≥ 1")


def check_fits(plan: MemoryPlan, model: ModelSpec, *, batch: int, context: int, hw_id: str) -> None:
    """Raise with the numbers when weights, reserve or the batch's KV cache exceed memory."""
    usable = float(plan.usable_bytes) / GiB
    weights = float(plan.weights_bytes) / GiB
    reserve = float(plan.reserve_bytes) / GiB
    if float(plan.kv_free_bytes) <= 0:
        raise DoesNotFitError(
            "model",
            model.id,
            f"does not fit on {hw_id}: weights {weights:.1f} GiB + runtime {reserve:.1f} GiB per chip "
            f"> {usable:.1f} GiB usable; use more chips (tp/pp) or smaller weights",
        )
    max_seqs = float(plan.max_concurrent_sequences)
    if batch > max_seqs:
        need = float(plan.kv_bytes_per_sequence) * batch / GiB
        raise DoesNotFitError(
            "batch",
            batch,
            f"{batch} sequences × {context} tokens need {need:.1f} GiB of KV per chip but "
            f"{float(plan.kv_free_bytes) / GiB:.1f} GiB are free; at most {int(max_seqs)} fit",
        )


@dataclass(frozen=True)
class Figures:
    """Scalar figures of one deployment and workload point (seconds, bytes, tokens/s)."""

    prefill: StepTime  # arrays over the prompt's chunks; `ttft_s` is the sum of their totals
    decode: StepTime  # one decode step (a full pipeline cycle)
    memory: MemoryPlan
    ttft_s: float
    tpot_s: float
    decode_tps: float
    output_tps: float
    latency_floor_s: float
    critical_batch: float | None


def prefill_chunks(
    model: ModelSpec, res: Resources, layout: Layout, prompt: int, chunk: int
) -> StepTime:
    """Every chunk of one prompt (chunked prefill), as arrays over the chunks, in order."""
    starts = np.arange(0, prompt, chunk, dtype=float)
    sizes = np.minimum(chunk, prompt - starts)
    return step_time(model, res, layout, prefill_tokens=sizes, prefill_context=starts)


def critical_batch(
    model: ModelSpec, res: Resources, layout: Layout, limit: int = 1 << 16
) -> float | None:
    """Smallest decode batch whose weight matmuls are compute-bound at peak rates (MoE-aware:
    more sequences touch more experts, so the weight bytes grow with the batch).

    FLOPs grow linearly in the batch and weight bytes at most linearly (experts touched saturate),
    so compute ÷ memory never falls as the batch grows: a coarse geometric grid brackets the first
    compute-bound batch and every batch inside the bracket is then checked.
    """
    ideal = at_peak(res)

    def compute_bound(batch: FloatArray) -> BoolArray:
        step = step_time(model, ideal, layout, decode_seqs=batch, decode_context=0)
        mask: BoolArray = (
            step.flops_per_chip / ideal.linear_flops >= step.weight_bytes_per_chip / ideal.memory_bw
        )
        return mask

    coarse = np.unique(np.round(np.geomspace(1, limit, 256)))
    hits = np.nonzero(compute_bound(coarse))[0]
    if not hits.size:
        return None
    if hits[0] == 0:
        return 1.0
    fine = np.arange(coarse[hits[0] - 1] + 1, coarse[hits[0]] + 1)
    return float(fine[np.nonzero(compute_bound(fine))[0][0]])


_CRITICAL_BATCHES: dict[tuple[str, bytes], float | None] = {}


def _scalar_fingerprint(res: Resources, layout: Layout) -> bytes | None:
    """The bytes of every rate and layout figure when all are scalars (None for grids); bytes
    compare nan equal to nan, as a memo key must."""
    values = [
        getattr(obj, f.name)
        for obj in (res, layout)
        for f in fields(obj)
        if f.name != "offload_tiers"
    ]
    values += [x for tier in res.offload_tiers for x in tier]
    if any(np.ndim(v) for v in values):
        return None
    return np.array(values, dtype=float).tobytes()


def memo_critical_batch(model: ModelSpec, res: Resources, layout: Layout) -> float | None:
    """`critical_batch` of one deployment, remembered: it depends on neither the batch nor the
    lengths, and a calculator asks for the same deployment at many workload points."""
    fingerprint = _scalar_fingerprint(res, layout)
    if fingerprint is None:
        return critical_batch(model, res, layout)
    key = (model.model_dump_json(), fingerprint)
    if key not in _CRITICAL_BATCHES:
        if len(_CRITICAL_BATCHES) >= 4096:
            _CRITICAL_BATCHES.clear()
        _CRITICAL_BATCHES[key] = critical_batch(model, res, layout)
    return _CRITICAL_BATCHES[key]


def figures(
    model: ModelSpec,
    res: Resources,
    parallelism: Parallelism,
    *,
    batch: int,
    isl: int,
    osl: int,
    chunk: int = 8192,
    memory_utilization: float = 0.9,
    hw_id: str = "hardware",
) -> Figures:
    for name, value in (("batch", batch), ("isl", isl), ("osl", osl), ("chunk", chunk)):
        check_positive(name, value)
    if not 0 < memory_utilization <= 1:
        raise InfercostError("memory_utilization", memory_utilization, "must be in (0, 1]")
    check_layout(model, parallelism)
    layout = Layout.of(parallelism)
    context = isl + osl
    plan = memory_plan(
        model,
        res,
        layout,
        context=context,
        memory_utilization=memory_utilization,
        max_batched_tokens=chunk,
    )
    check_fits(plan, model, batch=batch, context=context, hw_id=hw_id)

    prefill = prefill_chunks(model, res, layout, isl, chunk)
    ttft = float(prefill.total.sum() + res.request_overhead_s)
    micro = decode_micro_batch(batch, layout.pp)
    # the batch's step and one sequence's (for the latency floor), timed in one call
    steps = step_time(
        model, res, layout, decode_seqs=np.array([micro, 1.0]), decode_context=isl + osl / 2.0
    )
    decode, single = steps.at(0), steps.at(1)
    tpot = float(decode.total)
    if not np.isfinite(tpot) or not np.isfinite(ttft):
        raise InfercostError(
            f"hardware {hw_id}: scale-up/scale-out bandwidth",
            None,
            "unknown in the catalog, so tensor/expert parallel communication cannot be timed",
        )
    floor = float((single.weight_bytes_per_chip + single.kv_bytes_per_chip) / res.memory_bw)
    return Figures(
        prefill=prefill,
        decode=decode,
        memory=plan,
        ttft_s=ttft,
        tpot_s=tpot,
        decode_tps=batch / tpot,
        output_tps=batch * osl / (osl * tpot + batch * ttft),
        latency_floor_s=floor,
        critical_batch=memo_critical_batch(model, res, layout),
    )


def default_layout(model: ModelSpec, chips: int) -> Parallelism:
    """Tensor parallel over all chips when the heads allow it, else the largest valid TP with PP."""
    for tp in sorted((t for t in range(1, chips + 1) if chips % t == 0), reverse=True):
        candidate = Parallelism(tp=tp, pp=chips // tp)
        try:
            check_layout(model, candidate)
        except InfercostError:
            continue
        return candidate
    raise InfercostError("chips", chips, "no tensor/pipeline split of this many chips is valid")


def resolve_parallelism(
    model: ModelSpec,
    chips: int | None,
    tp: int | None,
    pp: int | None,
    dp: int | None,
    ep: int | None,
) -> Parallelism:
    if chips is not None and chips < 1:
        raise InfercostError("chips", chips, "must be a whole number ≥ 1")
    if tp is None and pp is None and dp is None:
        layout = default_layout(model, chips or 1)
        return layout.model_copy(update={"ep": ep or 1})
    for name, value in (("tp", tp), ("pp", pp), ("dp", dp), ("ep", ep)):
        if value is not None and value < 1:
            raise InfercostError(name, value, "must be a whole number ≥ 1")
    layout = Parallelism(tp=tp or 1, pp=pp or 1, dp=dp or 1, ep=ep or 1)
    if chips is not None and chips != layout.chips:
        raise InfercostError(
            "chips", chips, f"must equal tp×pp×dp = {layout.chips} for the layout given"
        )
    return layout
