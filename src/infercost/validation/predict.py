"""Predict one measured row: scenario semantics of `validation/README.md` on top of `perf`.

`prepare` does everything that does not depend on the efficiency model (ids, formats, candidate layouts,
engine limits) so calibration can re-predict rows cheaply; `predict` evaluates one prepared row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infercost import catalog
from infercost.errors import InfercostError
from infercost.perf.efficiency import Efficiency, EfficiencyProfile, Queueing
from infercost.perf.figures import check_layout
from infercost.perf.memory import memory_plan
from infercost.perf.resources import Layout, Resources, resources_for
from infercost.perf.steady import BatchRun, continuous, fixed_batch
from infercost.specs.engine import Engine
from infercost.specs.hardware import Hardware
from infercost.specs.model import ModelSpec
from infercost.specs.parallelism import Parallelism
from infercost.specs.precision import Precision
from infercost.validation.rows import Row

LOWER_IS_BETTER = {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms", "usd_per_mtok_output"}
QUANTIZED_FOR_KV = {
    "fp8",
    "nvfp4",
    "fp4",
}  # TensorRT-LLM quantized checkpoints carry an FP8 KV cache


@dataclass(frozen=True)
class Prepared:
    row: Row
    model: ModelSpec
    hardware: Hardware
    precision: Precision
    engine: Engine
    layouts: tuple[Parallelism, ...]


@dataclass(frozen=True)
class Prediction:
    value: float
    layout: Parallelism
    batch: float  # sequences in flight in the predicted run


class Unpredictable(Exception):
    """A row the model cannot predict, with the reason reported in the validation output."""


def _precision(row: Row) -> Precision:
    weights = row.weights or "bf16"  # README: unstated weights are the engine's usual 16-bit
    if row.kv:
        kv_id = "bf16" if row.kv in ("fp16", "bf16") else row.kv
    elif row.engine == "trtllm" and weights in QUANTIZED_FOR_KV:
        kv_id = "fp8"
    else:
        kv_id = "bf16"
    return catalog.precision(weights, kv_id)


def _candidate_layouts(row: Row, model: ModelSpec) -> tuple[Parallelism, ...]:
    """The stated layout, or every valid split of `chips` when the submitter chose it."""
    chips = row.chips
    experts = max((g.ffn.num_experts for g in model.layers), default=0)
    if row.tp is not None:
        tp, pp = row.tp, row.pp or 1
        if chips % (tp * pp):
            raise Unpredictable(f"tp×pp = {tp * pp} does not divide chips = {chips}")
        dp = chips // (tp * pp)
        ep = row.ep or 1
        stated = Parallelism(tp=tp, pp=pp, dp=dp, ep=min(ep, tp * dp))
        check_layout(model, stated)
        if experts and ep > 1:
            # engines express attention data parallelism as a flag on top of the stated TP
            # (TensorRT-LLM, SGLang): attention split dp ways, experts still over all ranks
            return (stated, stated.model_copy(update={"tp": 1, "dp": tp * dp}))
        return (stated,)
    out = []
    for tp in (t for t in range(1, chips + 1) if chips % t == 0):
        for pp in (p for p in range(1, chips // tp + 1) if (chips // tp) % p == 0):
            dp = chips // (tp * pp)
            for ep in sorted({1, tp * dp} if experts else {1}):
                candidate = Parallelism(tp=tp, pp=pp, dp=dp, ep=ep)
                if experts == 0 and dp > 1:
                    continue  # dense replicas are separate deployments, not one layout
                try:
                    check_layout(model, candidate)
                except InfercostError:
                    continue
                out.append(candidate)
    if not out:
        raise Unpredictable(f"no valid layout of {chips} chips for {model.id}")
    return tuple(out)


def prepare(row: Row) -> Prepared:
    try:
        model = catalog.model(row.model)
        hardware = catalog.hardware(row.hardware)
        precision = _precision(row)
        precision.compute_key(hardware)
        layouts = _candidate_layouts(row, model)
    except InfercostError as err:
        raise Unpredictable(str(err)) from None
    if row.metric in ("mfu_pct", "usd_per_mtok_output"):
        raise Unpredictable(f"metric {row.metric} is not predicted yet")
    needs_isl = row.metric in ("prompt_tps", "ttft_ms", "total_tps", "e2e_ms") or row.scenario in (
        "closed-loop",
        "offline",
        "server",
    )
    if row.osl is None or (needs_isl and row.isl is None):
        raise Unpredictable("input/output lengths unknown")
    if row.scenario in ("fixed-batch", "closed-loop") and (row.concurrency or 0) == 0:
        raise Unpredictable("concurrency unknown")
    return Prepared(row, model, hardware, precision, catalog.engine(row.engine), layouts)


def _capacity(p: Prepared, res: Resources, layout: Layout, context: float) -> float:
    """Sequences the engine keeps in flight: its batch limit or what the KV cache holds."""
    cap = float(res.memory_bytes)
    plan = memory_plan(
        p.model,
        res,
        layout,
        context=context,
        memory_utilization=1.0,
        max_batched_tokens=p.engine.token_budget,
    )
    used = float(plan.weights_bytes + plan.reserve_bytes) / cap
    util = p.engine.usable_memory_fraction(used)
    plan = memory_plan(
        p.model,
        res,
        layout,
        context=context,
        memory_utilization=util,
        max_batched_tokens=p.engine.token_budget,
    )
    if float(plan.kv_free_bytes) <= 0:
        raise Unpredictable("does not fit")
    # each data-parallel group is its own scheduler with its own batch limit
    return min(float(plan.max_concurrent_sequences), float(p.engine.batch_limit * layout.dp))


def _metric(row: Row, run: BatchRun, chips: int) -> np.ndarray:
    isl, osl = float(row.isl or 0), float(row.osl or 0)
    values = {
        "output_tps": run.output_tps,
        "output_tps_per_chip": run.output_tps / chips,
        "total_tps": run.output_tps * (isl + osl) / max(osl, 1.0),
        "prompt_tps": run.prompt_tps,
        "decode_tps": run.decode_tps,
        "decode_tps_per_user": 1.0 / run.tpot_s,
        "ttft_ms": run.ttft_s * 1e3,
        "tpot_ms": run.tpot_s * 1e3,
        "itl_ms": run.tpot_s * 1e3,
        "e2e_ms": run.e2e_s * 1e3,
    }
    return np.asarray(values[row.metric], dtype=float)


@dataclass(frozen=True)
class _Outcome:
    value: float  # the row's metric
    throughput: float  # output tokens/s of the run: what a submitter maximizes under load
    batch: float


def _outcome(row: Row, run: BatchRun, batch: float, at: int | None = None) -> _Outcome:
    values, tps = _metric(row, run, row.chips), np.asarray(run.output_tps, dtype=float)
    if at is not None:
        values, tps = values[at], tps[at]
    return _Outcome(float(values), float(tps), batch)


def _run(p: Prepared, res: Resources, layout: Layout, queueing: Queueing) -> _Outcome:
    row = p.row
    isl, osl = float(row.isl or 0), float(row.osl or 0)
    budget = p.engine.token_budget
    if row.scenario in ("single-stream", "fixed-batch"):
        batch = 1.0 if row.scenario == "single-stream" else float(row.concurrency or 1)
        run = fixed_batch(p.model, res, layout, batch=batch, isl=isl, osl=osl, budget=budget)
        return _outcome(row, run, batch)
    cap = _capacity(p, res, layout, isl + osl)
    if row.scenario in ("closed-loop", "offline"):
        clients = float(row.concurrency or 0)
        batch = min(clients, cap) if row.scenario == "closed-loop" and clients > 0 else cap
        run = continuous(p.model, res, layout, concurrency=batch, isl=isl, osl=osl, budget=budget)
        return _outcome(row, run, batch)
    # server: the largest in-flight batch whose tails meet both targets, at the open-loop load factor
    batches = np.arange(1.0, max(cap, 1.0) + 1.0)
    run = continuous(p.model, res, layout, concurrency=batches, isl=isl, osl=osl, budget=budget)
    ok = (run.tpot_s * queueing.tpot_p99_over_mean * 1e3 <= (row.slo_tpot_ms or np.inf)) & (
        run.ttft_s * queueing.ttft_p99_over_mean * 1e3 <= (row.slo_ttft_ms or np.inf)
    )
    if not ok.any():
        raise Unpredictable("no batch meets the latency targets")
    best = int(np.nonzero(ok)[0][-1])
    out = _outcome(row, run, float(batches[best]), at=best)
    if row.metric.endswith("tps"):
        out = _Outcome(out.value * queueing.load_factor, out.throughput, out.batch)
    return out


def _score(row: Row, outcome: _Outcome) -> float:
    """How a submitter ranks layouts: latency alone for one request, throughput under load."""
    if row.scenario == "single-stream":
        return -outcome.value if row.metric in LOWER_IS_BETTER else outcome.value
    return outcome.throughput


def predict_with(p: Prepared, profile: EfficiencyProfile) -> Prediction:
    """`predict` with the efficiency a profile gives this row's hardware family and engine."""
    return predict(p, profile.resolve(p.hardware.family, p.row.engine), profile.queueing)


def predict(p: Prepared, efficiency: Efficiency, queueing: Queueing) -> Prediction:
    """The row's metric under the candidate layout a submitter would have picked (see `_score`)."""
    res = resources_for(p.hardware, p.precision, efficiency)
    best: tuple[float, Prediction] | None = None
    reasons = []
    for layout in p.layouts:
        try:
            outcome = _run(p, res, Layout.of(layout), queueing)
        except Unpredictable as err:
            reasons.append(str(err))
            continue
        if not np.isfinite(outcome.value) or outcome.value <= 0:
            reasons.append("no finite prediction (a bandwidth the model needs is unknown)")
            continue
        score = _score(p.row, outcome)
        if best is None or score > best[0]:
            best = (score, Prediction(outcome.value, layout, outcome.batch))
    if best is None:
        raise Unpredictable(reasons[0] if reasons else "no layout could be evaluated")
    return best[1]
