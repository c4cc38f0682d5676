"""Fit one deployment's efficiency to its measured load levels.

The model of a level is `perf.steady.continuous` (continuous batching at the level's in-flight
concurrency and mean lengths): TPOT is its steady-state step, TTFT its prompt wait plus the
per-request overhead, and output tokens/s follows from Little's law, concurrency × output tokens ÷
E2E. A closed loop of identical requests runs in lockstep (all prompts prefilled together, then all
decode together) and is modelled as `perf.steady.fixed_batch` instead. Five numbers are fitted — the
achievable fractions of peak compute and of memory bandwidth, the batch size at which small matmuls
reach half their rate, the fixed cost of a step, and the fixed cost of a request before its first
token (only when TTFT was measured) — to the residuals log(predicted / measured) under a robust soft-L1 loss
(`scipy.optimize.least_squares`), with weak priors at the shipped values so that what the data do
not constrain stays put. One model cannot tell a per-layer from a per-step overhead, so the per-layer
overhead is folded into the per-step one. Several starting points are tried; the lowest cost wins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from infercost import catalog
from infercost._types import ArrayLike, BoolArray, FloatArray
from infercost.calibration.points import METRICS, FitPoint
from infercost.errors import InfercostError
from infercost.perf.efficiency import Efficiency, shipped_profile
from infercost.perf.figures import check_layout, resolve_parallelism
from infercost.perf.resources import Layout, resources_for
from infercost.perf.steady import continuous, fixed_batch
from infercost.specs.engine import ENGINE_NAMES
from infercost.specs.hardware import Hardware
from infercost.specs.model import ModelSpec
from infercost.specs.parallelism import Parallelism
from infercost.specs.precision import Precision

FIELDS = ("compute", "memory", "compute_half_tokens", "step_overhead_ms", "request_overhead_ms")
BOUNDS: dict[str, tuple[float, float]] = {
    "compute": (1e-6, 1.0),  # a CPU running a tiny model reaches a millionth of its peak
    "memory": (1e-6, 1.0),
    "compute_half_tokens": (0.0, 4096.0),
    "step_overhead_ms": (0.0, 1e4),
    "request_overhead_ms": (0.0, 1e5),
}
# When the hardware has no peak for the weights' own format, matmuls are timed at a fallback
# peak (e.g. bf16 at fp32 on a CPU spec) and the true rate may exceed it by the format's width ratio
FALLBACK_COMPUTE_MAX = 4.0  # the bound of `Efficiency.compute`
PRIOR_WEIGHT = 0.005  # per parameter, in log units: a tie-breaker, not a pull against the data
PRIOR_FLOOR = {
    "compute": 0.0,
    "memory": 0.0,
    "compute_half_tokens": 1.0,
    "step_overhead_ms": 0.01,
    "request_overhead_ms": 0.01,
}
LOG_SPACE = frozenset({"compute", "memory"})  # fractions spanning decades are fitted as logarithms
SOFT_L1_SCALE = 0.05  # residuals beyond ~5 % count linearly, so one odd level cannot drive the fit
FAILED_RESIDUAL = math.log(3.0)  # a prediction the model cannot make counts as 3× off
STARTS = ((1.0, 1.0, 1.0), (0.3, 0.3, 10.0), (0.05, 0.05, 100.0))  # (compute, memory, overhead) ×


@dataclass(frozen=True)
class Target:
    """The deployment being calibrated, resolved once."""

    model: ModelSpec
    hardware: Hardware
    precision: Precision
    parallelism: Parallelism
    engine: str | None
    budget: int  # max_num_batched_tokens

    @property
    def layout(self) -> Layout:
        return Layout.of(self.parallelism)


def target_for(
    model: str | ModelSpec,
    hardware: str | Hardware,
    *,
    engine: str | None = None,
    tp: int | None = None,
    pp: int | None = None,
    dp: int | None = None,
    ep: int | None = None,
    weights: str | None = None,
    kv: str | None = None,
    max_num_batched_tokens: int | None = None,
) -> Target:
    if engine is not None and engine not in ENGINE_NAMES:
        raise InfercostError("engine", engine, f"allowed: {' '.join(ENGINE_NAMES)}")
    if max_num_batched_tokens is not None and max_num_batched_tokens < 1:
        raise InfercostError("max_num_batched_tokens", max_num_batched_tokens, "a whole number ≥ 1")
    spec = catalog.model(model) if isinstance(model, str) else model
    hw = catalog.hardware(hardware) if isinstance(hardware, str) else hardware
    parallelism = resolve_parallelism(spec, None, tp, pp, dp, ep)
    check_layout(spec, parallelism)
    precision = catalog.precision(weights or spec.native_weights, kv)
    budget = max_num_batched_tokens or catalog.engine(engine).token_budget
    return Target(spec, hw, precision, parallelism, engine, budget)


def start_efficiency(target: Target) -> Efficiency:
    """The shipped efficiency of this family and engine, the per-layer overhead folded per step."""
    eff = shipped_profile().resolve(target.hardware.family, target.engine)
    per_step = eff.step_overhead_ms + eff.layer_overhead_us * target.model.num_layers / 1e3
    return eff.model_copy(update={"step_overhead_ms": per_step, "layer_overhead_us": 0.0})


def predict(
    target: Target,
    efficiency: Efficiency,
    *,
    concurrency: Sequence[float] | FloatArray | float,
    isl: Sequence[float] | FloatArray | float,
    osl: Sequence[float] | FloatArray | float,
    lockstep: Sequence[bool] | BoolArray | bool = False,
) -> dict[str, FloatArray]:
    """Mean TTFT (ms), TPOT (ms) and output tokens/s at these levels: continuous batching, or a
    fixed batch where the level runs in lockstep."""
    res = resources_for(target.hardware, target.precision, efficiency)
    c = np.asarray(concurrency, dtype=float)
    out_len = np.asarray(osl, dtype=float)
    args: dict[str, ArrayLike] = {
        "isl": np.asarray(isl, dtype=float),
        "osl": out_len,
        "budget": target.budget,
    }
    staggered = continuous(target.model, res, target.layout, concurrency=c, **args)
    together = fixed_batch(target.model, res, target.layout, batch=c, **args)
    sync = np.asarray(lockstep, dtype=bool)

    def pick(a: FloatArray, b: FloatArray) -> FloatArray:
        return np.asarray(np.where(sync, b, a), dtype=float)

    e2e = pick(staggered.e2e_s, together.e2e_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        tps = c * out_len / e2e
    return {
        "ttft_ms": pick(staggered.ttft_s, together.ttft_s) * 1e3,
        "tpot_ms": pick(staggered.tpot_s, together.tpot_s) * 1e3,
        "output_tps": np.asarray(tps, dtype=float),
    }


def with_values(
    start: Efficiency, names: Sequence[str], x: Sequence[float] | FloatArray
) -> Efficiency:
    return start.model_copy(update={n: float(v) for n, v in zip(names, x, strict=True)})


@dataclass(frozen=True)
class FitResult:
    efficiency: Efficiency
    start: Efficiency
    fitted: tuple[str, ...]
    at_bounds: tuple[str, ...]
    predicted: dict[str, FloatArray]  # metric → prediction per point (nan where not measured)


def fit_points(points: Sequence[FitPoint], target: Target) -> FitResult:
    """Least-squares fit of the deployment's efficiency to `points` (see the module docstring)."""
    if not points:
        raise InfercostError("results", 0, "at least one measured level to fit")
    start = start_efficiency(target)
    names = tuple(
        f
        for f in FIELDS
        if f != "request_overhead_ms" or any(p.measured("ttft_ms") for p in points)
    )
    conc = np.array([p.concurrency for p in points])
    isl = np.array([p.isl for p in points])
    osl = np.array([p.osl for p in points])
    sync = np.array([p.lockstep for p in points])
    measured = {
        m: np.array([p.measured(m) or np.nan for p in points], dtype=float) for m in METRICS
    }
    mask = {m: np.isfinite(v) for m, v in measured.items()}
    x_start = np.array([getattr(start, n) for n in names])
    low = np.array([BOUNDS[n][0] for n in names])
    formats = (*target.precision.weights.compute_at, *target.precision.activations.compute_at)
    own_peak = target.precision.compute_key(target.hardware) in formats
    high = np.array(
        [FALLBACK_COMPUTE_MAX if n == "compute" and not own_peak else BOUNDS[n][1] for n in names]
    )
    floors = np.array([PRIOR_FLOOR[n] for n in names])
    logs = np.array([n in LOG_SPACE for n in names])

    def to_x(u: FloatArray) -> FloatArray:
        x = np.array(u, dtype=float)
        x[logs] = np.exp(u[logs])
        return x

    def to_u(x: FloatArray) -> FloatArray:
        u = np.array(x, dtype=float)
        u[logs] = np.log(x[logs])
        return u

    def residuals(u: FloatArray) -> FloatArray:
        x = to_x(u)
        eff = with_values(start, names, x)
        pred = predict(target, eff, concurrency=conc, isl=isl, osl=osl, lockstep=sync)
        parts = []
        for m in METRICS:
            p, v = pred[m][mask[m]], measured[m][mask[m]]
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.log(p / v)
            parts.append(np.where(np.isfinite(r), r, FAILED_RESIDUAL))
        prior = PRIOR_WEIGHT * np.log((x + floors) / (x_start + floors))
        return np.concatenate([*parts, prior])

    best = None
    for scale_c, scale_m, scale_o in STARTS:
        x0 = x_start * np.array(
            [
                {"compute": scale_c, "memory": scale_m}.get(n, scale_o if "overhead" in n else 1.0)
                for n in names
            ]
        )
        x0 = np.clip(np.maximum(x0, floors), low * 1.001 + 1e-9, high * 0.999)
        result = least_squares(
            residuals,
            to_u(x0),
            bounds=(to_u(low), to_u(high)),
            loss="soft_l1",
            f_scale=SOFT_L1_SCALE,
            x_scale=np.where(logs, 1.0, np.maximum(x0, 0.1)),
        )
        if best is None or result.cost < best.cost:
            best = result
    assert best is not None
    x = to_x(best.x)
    efficiency = with_values(start, names, x)
    at_bounds = tuple(
        n
        for n, v, lo, hi in zip(names, x, low, high, strict=True)
        if (lo > 0 and v <= lo * 1.001) or v >= hi * 0.999
    )
    pred = predict(target, efficiency, concurrency=conc, isl=isl, osl=osl, lockstep=sync)
    shown = {m: np.where(mask[m], pred[m], np.nan) for m in METRICS}
    return FitResult(efficiency, start, names, at_bounds, shown)
