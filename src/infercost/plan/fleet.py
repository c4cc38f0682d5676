"""Fleets over time: replicas per interval for a daily load curve or a trace, with autoscaling, a
heterogeneous GPU mix and a reserved / on-demand / spot purchase mix chosen by an integer program.

Inputs (a fleet file, see examples/fleet-*.yaml): the model, lengths and p99 SLO; the load as a rate
per interval (a daily curve, repeated day after day) or a trace (`sim.traces` readers, binned into
intervals); the autoscaler (scale-up delay, cool-down, minimum replicas); the GPU options (hardware,
chips per replica, precision, prices) and the purchase rules (reserved, on-demand, spot share and
its interruption assumption).

Per GPU option, one replica sustains `capacity.replica_capacity` requests/s at the SLO; the fleet
plans with `target_utilization` of it (headroom for bursts inside an interval). A load needs
`need[t] = max(min_replicas, ⌈rate[t] / usable⌉)` replicas.

**Autoscaler timeline** (one GPU type, on-demand; `autoscale`): a replica requested at interval t is
billed from t and ready at t + k (k = ⌈scale-up delay / interval⌉); the desired count is the largest
need over the cool-down window (c = ⌈cool-down / interval⌉ intervals), i.e. a replica is released
only after the load has stayed low for the whole cool-down (Kubernetes HPA stabilization):

    reactive:    desired[t] = max(need[t − c … t])
    predictive:  desired[t] = max(need[t − c … t + k])   (scheduled: scale up k intervals early)
    billed[t] = desired[t];  ready[t] = min(desired[t − k … t])   (newest replicas released first)

A daily curve wraps around (the previous day ends as this one does); a trace starts with
`desired[0]` replicas ready. Intervals where `ready < need` are short of capacity; their excess
requests are reported as the unserved share.

**Purchase mix** (`scipy.optimize.milp`, HiGHS): integer replicas per GPU option g —
R_g reserved (constant over the horizon), O_{g,t} on-demand and S_{g,t} spot ready in interval t,
with billed counts BO_{g,t} ≥ O_{g,t'} and BS_{g,t} ≥ S_{g,t'} for t' in [t − c, t + k] (the
predictive autoscaler above: booted k intervals early, kept through the cool-down). Minimize

    Σ_g chips_g · (R_g · p^res_g · H + Σ_t (BO_{g,t} · p^od_g + BS_{g,t} · p^spot_g) · Δ)

subject to, in every interval, capacity Σ_g usable_g (R_g + O_{g,t} + (1 − loss) S_{g,t}) ≥ rate[t],
spot capacity Σ_g usable_g (1 − loss) S_{g,t} ≤ spot_share · rate[t], Σ_g (R + O + S) ≥ min_replicas
and each option's `max_replicas`. `loss` = interruptions per hour × replacement hours (the stated
interruption assumption: the expected share of spot replica-time lost to reclaims). Prices are per
chip-hour from the catalog (`econ.tco.chip_hour_prices`: on-demand = the default row, reserved =
the cheapest reserved-* row, spot = the cheapest spot row, each with its source and date) or user
input.

The result compares cost per day with **static peak provisioning** (peak replicas all day, on
demand and, where priced, reserved) and with the reactive/predictive autoscaler on on-demand GPUs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from infercost import catalog
from infercost.econ.tco import chip_hour_prices
from infercost.errors import DoesNotFitError, InfercostError
from infercost.plan.capacity import (
    Capacity,
    SloNotMetError,
    best_capacity,
    replica_capacity,
    spec_for,
)
from infercost.plan.packing import IntegerProgram
from infercost.plan.spec_files import (
    InputSpec,
    NonNegative,
    Positive,
    Result,
    Slo,
    parse_spec,
    read_yaml_mapping,
)
from infercost.sim.traces import TRACE_FORMATS, read_trace

Term = Literal["reserved", "on-demand", "spot"]
TERMS: tuple[Term, ...] = ("reserved", "on-demand", "spot")
HOURS_PER_DAY = 24.0

Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


# --- the input file -----------------------------------------------------------------------------------


class TraceLoad(InputSpec):
    """A trace binned into intervals: arrivals × `time_scale` seconds, counts × `rate_multiplier`."""

    path: str
    format: Literal["azure", "burstgpt", "mooncake"]
    time_scale: Positive = 1.0
    rate_multiplier: Positive = 1.0


class Load(InputSpec):
    """EITHER `requests_per_s` (one rate per interval; a daily curve repeats) OR a `trace`."""

    interval_minutes: Positive
    requests_per_s: tuple[NonNegative, ...] | None = None
    trace: TraceLoad | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Load:
        if (self.requests_per_s is None) == (self.trace is None):
            raise InfercostError("load", "", "give exactly one of requests_per_s: [...] and trace")
        if self.requests_per_s is not None:
            if not self.requests_per_s:
                raise InfercostError("load.requests_per_s", [], "give one rate per interval")
            if max(self.requests_per_s) <= 0:
                raise InfercostError("load.requests_per_s", 0, "at least one rate must be > 0")
        return self


class Autoscaling(InputSpec):
    scale_up_delay_minutes: NonNegative = 0.0  # request → ready (boot, pull, load weights)
    cooldown_minutes: NonNegative = 0.0  # load must stay low this long before a release
    min_replicas: Annotated[int, Field(ge=0)] = 1
    mode: Literal["reactive", "predictive"] = "reactive"


class Prices(InputSpec):
    """USD per chip-hour by term (user input; overrides the catalog)."""

    reserved: Positive | None = None
    on_demand: Positive | None = None
    spot: Positive | None = None


class GpuOption(InputSpec):
    hardware: str
    chips: Annotated[int, Field(ge=1)] | None = (
        None  # per replica; default: most requests/s per chip
    )
    weights: str | None = None
    kv: str | None = None
    provider: str | None = None  # catalog prices from this provider only
    prices: Prices = Prices()
    max_replicas: Annotated[int, Field(ge=1)] | None = None


class Spot(InputSpec):
    max_share: Fraction = 0.0  # of each interval's load that may rest on spot capacity
    interruptions_per_hour: NonNegative | None = None  # per spot replica: the stated assumption
    replacement_minutes: NonNegative | None = None  # default: the scale-up delay

    @model_validator(mode="after")
    def _assumption(self) -> Spot:
        if self.max_share > 0 and self.interruptions_per_hour is None:
            raise InfercostError(
                "interruptions_per_hour",
                None,
                "required when spot.max_share > 0 (your assumption, e.g. 0.05 per replica-hour)",
            )
        return self


class Purchase(InputSpec):
    reserved: bool = True
    on_demand: bool = True
    spot: Spot = Spot()


class FleetSpec(InputSpec):
    name: str | None = None
    model: str
    isl: Annotated[int, Field(ge=1)] | None = None  # default for a trace: its mean prompt
    osl: Annotated[int, Field(ge=1)] | None = None
    slo: Slo
    engine: str | None = None
    target_utilization: Annotated[float, Field(gt=0, le=1)] = 1.0
    load: Load
    autoscaling: Autoscaling = Autoscaling()
    gpus: Annotated[tuple[GpuOption, ...], Field(min_length=1)]
    purchase: Purchase = Purchase()
    solver_time_limit_s: Positive = 30.0

    @model_validator(mode="after")
    def _lengths(self) -> FleetSpec:
        if self.load.trace is None and (self.isl is None or self.osl is None):
            missing = "isl" if self.isl is None else "osl"
            raise InfercostError(missing, None, "required with a requests_per_s curve (tokens)")
        if not (self.purchase.reserved or self.purchase.on_demand or self.purchase.spot.max_share):
            raise InfercostError("purchase", "", "allow at least one of reserved, on_demand, spot")
        return self


def parse_fleet(data: dict[str, Any]) -> FleetSpec:
    return parse_spec(FleetSpec, data)


def load_fleet(path: str | Path) -> tuple[FleetSpec, Path]:
    """A fleet file and its folder (trace paths are relative to it)."""
    file = Path(path)
    return parse_fleet(read_yaml_mapping(file, "fleet file")), file.parent


# --- results ------------------------------------------------------------------------------------------


class PriceQuote(Result):
    term: Term
    usd_per_chip_hour: float
    source: str  # "user input" or "provider term: catalog source"
    as_of: str | None


class FleetOption(Result):
    hardware: str
    chips: int
    tp: int
    pp: int
    weights: str
    kv: str
    capacity: Capacity
    usable_requests_per_s: float  # capacity × target utilization
    prices: dict[str, PriceQuote]  # by term; a missing term is not offered
    max_replicas: int | None


class Timeline(Result):
    """The autoscaler on one GPU type, on-demand."""

    hardware: str
    mode: Literal["reactive", "predictive"]
    need: list[int]
    billed: list[int]
    ready: list[int]
    short_intervals: list[int]  # ready < need
    unserved_share: float  # requests above ready capacity ÷ all requests
    usd_per_day: float


class Baseline(Result):
    kind: str  # "static peak, on-demand" | "static peak, reserved"
    hardware: str
    replicas: int
    usd_per_chip_hour: float
    usd_per_day: float


class IntervalPlan(Result):
    index: int
    start_h: float
    load_rps: float
    capacity_rps: float  # ready capacity (spot counted after its expected loss)
    ready: dict[str, dict[str, int]]  # hardware → term → replicas serving
    billed: dict[str, dict[str, int]]  # hardware → term → replicas paid (booting, cooling included)
    usd: float


class Optimized(Result):
    status: str
    mip_gap: float | None
    usd_per_day: float
    usd_per_day_by_term: dict[str, float]
    reserved: dict[str, int]  # hardware → replicas reserved for the whole horizon
    intervals: list[IntervalPlan]


class FleetPlan(Result):
    name: str | None
    model: str
    isl: int
    osl: int
    slo: dict[str, float | None]
    target_utilization: float
    interval_minutes: float
    horizon_h: float
    periodic: bool
    load_rps: list[float]
    options: list[FleetOption]
    skipped: dict[str, str]  # GPU option → why it cannot serve
    baselines: list[Baseline]
    autoscaled: Timeline | None  # the cheapest on-demand option's autoscaler timeline
    optimized: Optimized
    static_peak_usd_per_day: float | None  # the cheapest static-peak baseline (None: no price)
    savings_usd_per_day: float | None  # static peak − optimized
    savings_pct: float | None
    assumptions: list[str]


# --- load ---------------------------------------------------------------------------------------------


def binned_trace(
    trace: TraceLoad, interval_s: float, base: Path
) -> tuple[list[float], float, float]:
    """Request rate per interval of a trace, and its mean prompt and output lengths."""
    path = Path(trace.path)
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise InfercostError("load.trace.path", trace.path, "no such file")
    counts: dict[int, int] = {}
    prompt = output = n = 0
    for row in read_trace(path, trace.format):
        k = int(row.arrival_s * trace.time_scale // interval_s)
        counts[k] = counts.get(k, 0) + 1
        prompt += row.prompt_tokens
        output += row.output_tokens
        n += 1
    if n == 0:
        raise InfercostError("load.trace.path", trace.path, "holds no requests")
    rates = [counts.get(k, 0) * trace.rate_multiplier / interval_s for k in range(max(counts) + 1)]
    return rates, prompt / n, output / n


# --- the autoscaler -----------------------------------------------------------------------------------


def replicas_needed(load_rps: Sequence[float], usable_rps: float, min_replicas: int) -> list[int]:
    """⌈rate / usable capacity⌉ per interval, at least `min_replicas`."""
    return [max(min_replicas, math.ceil(r / usable_rps - 1e-9)) for r in load_rps]


def _window(t: int, lo: int, hi: int, n: int, periodic: bool) -> list[int]:
    """Interval indices t+lo … t+hi: wrapped around a periodic day, clipped to a trace."""
    if periodic:
        return [(t + d) % n for d in range(lo, hi + 1)]
    return sorted({min(max(t + d, 0), n - 1) for d in range(lo, hi + 1)})


def autoscale(
    need: Sequence[int],
    *,
    delay: int,
    cooldown: int,
    min_replicas: int = 0,
    periodic: bool,
    predictive: bool = False,
) -> tuple[list[int], list[int]]:
    """(billed, ready) replicas per interval; `delay` and `cooldown` in whole intervals (module
    docstring). Billed counts every requested replica, booting or cooling down."""
    if delay < 0 or cooldown < 0:
        raise InfercostError("autoscaling", (delay, cooldown), "delay and cool-down must be ≥ 0")
    n = len(need)
    ahead = delay if predictive else 0
    desired = [
        max([min_replicas] + [need[j] for j in _window(t, -cooldown, ahead, n, periodic)])
        for t in range(n)
    ]
    ready = [min(desired[j] for j in _window(t, -delay, 0, n, periodic)) for t in range(n)]
    return desired, ready


def _intervals(minutes: float, interval_minutes: float) -> int:
    """Whole intervals covering `minutes` (a delay shorter than an interval still costs one)."""
    return math.ceil(minutes / interval_minutes - 1e-9)


# --- prices -------------------------------------------------------------------------------------------


def term_prices(option: GpuOption, hw_id: str) -> dict[str, PriceQuote]:
    """Per-term $/chip-hour for a GPU option: user input first, else the catalog's rows."""
    rows = chip_hour_prices(hw_id)
    if option.provider is not None:
        providers = sorted({r.provider for r in rows})
        if option.provider not in providers:
            allowed = ", ".join(providers) or "none (the catalog has no price; give prices)"
            raise InfercostError("gpus[].provider", option.provider, f"for {hw_id}: {allowed}")
        rows = [r for r in rows if r.provider == option.provider]
    default = catalog.default_price(hw_id)
    picks = {
        "on-demand": (
            [default]
            if default is not None
            and default.term == "on-demand"
            and (option.provider is None or default.provider == option.provider)
            else [r for r in rows if r.term == "on-demand"]
        ),
        "reserved": [r for r in rows if r.term.startswith("reserved")],
        "spot": [r for r in rows if r.term == "spot"],
    }
    given = {
        "on-demand": option.prices.on_demand,
        "reserved": option.prices.reserved,
        "spot": option.prices.spot,
    }
    out: dict[str, PriceQuote] = {}
    for term in TERMS:
        user = given[term]
        if user is not None:
            out[term] = PriceQuote(
                term=term, usd_per_chip_hour=user, source="user input", as_of=None
            )
        elif picks[term]:
            row = min(picks[term], key=lambda r: r.usd_per_chip_hour)
            out[term] = PriceQuote(
                term=term,
                usd_per_chip_hour=row.usd_per_chip_hour,
                source=f"{row.provider} {row.term}: {row.source}",
                as_of=row.as_of,
            )
    return out


# --- options ------------------------------------------------------------------------------------------


def _option(spec: FleetSpec, g: GpuOption, isl: int, osl: int) -> FleetOption:
    hw = catalog.hardware(g.hardware)
    common: dict[str, Any] = {
        "isl": isl,
        "osl": osl,
        "tpot_ms": spec.slo.tpot_ms,
        "ttft_ms": spec.slo.ttft_ms,
        "weights": g.weights,
        "kv": g.kv,
        "engine": spec.engine,
    }
    if g.chips is None:
        cap = best_capacity(spec.model, hw, **common)
    else:
        cap = replica_capacity(spec.model, hw, chips=g.chips, **common)
    return FleetOption(
        hardware=hw.id,
        chips=cap.chips,
        tp=cap.tp,
        pp=cap.pp,
        weights=cap.weights,
        kv=cap.kv,
        capacity=cap,
        usable_requests_per_s=cap.requests_per_s * spec.target_utilization,
        prices=term_prices(g, hw.id),
        max_replicas=g.max_replicas,
    )


def _allowed(spec: FleetSpec, term: Term) -> bool:
    p = spec.purchase
    return {"reserved": p.reserved, "on-demand": p.on_demand, "spot": p.spot.max_share > 0}[term]


# --- the purchase-mix program -------------------------------------------------------------------------


def optimize_mix(
    options: Sequence[FleetOption],
    load_rps: Sequence[float],
    *,
    interval_h: float,
    delay: int,
    cooldown: int,
    min_replicas: int,
    periodic: bool,
    terms: Sequence[Term] = TERMS,
    spot_share: float = 0.0,
    spot_loss: float = 0.0,
    time_limit_s: float = 30.0,
) -> Optimized:
    """The cheapest reserved / on-demand / spot replicas per option and interval (module docstring)."""
    n = len(load_rps)
    horizon_h = n * interval_h
    prog = IntegerProgram()
    res: dict[int, int] = {}
    ready: dict[tuple[int, str, int], int] = {}
    billed: dict[tuple[int, str, int], int] = {}
    for g, o in enumerate(options):
        cap = o.max_replicas if o.max_replicas is not None else np.inf
        price = {t: q.usd_per_chip_hour for t, q in o.prices.items() if t in terms}
        if "reserved" in price:
            res[g] = prog.var(o.chips * price["reserved"] * horizon_h, upper=cap)
        for term in ("on-demand", "spot"):
            if term not in price or (term == "spot" and spot_share <= 0):
                continue
            for t in range(n):
                ready[(g, term, t)] = prog.var(0.0, upper=cap)
                billed[(g, term, t)] = prog.var(o.chips * price[term] * interval_h, upper=cap)
            for t in range(n):
                # billed in t covers every interval it boots for (t … t+delay) or cools after
                for j in _window(t, -delay, cooldown, n, periodic):
                    prog.add({billed[(g, term, j)]: 1.0, ready[(g, term, t)]: -1.0}, lower=0.0)
    if not res and not ready:
        raise InfercostError(
            "purchase", list(terms), "no GPU option has a price for the terms allowed"
        )
    for t in range(n):
        cover: dict[int, float] = {}
        count: dict[int, float] = {}
        spot: dict[int, float] = {}
        for g, o in enumerate(options):
            per = o.usable_requests_per_s
            if g in res:
                cover[res[g]] = per
                count[res[g]] = 1.0
            if (g, "on-demand", t) in ready:
                cover[ready[(g, "on-demand", t)]] = per
                count[ready[(g, "on-demand", t)]] = 1.0
            if (g, "spot", t) in ready:
                v = ready[(g, "spot", t)]
                cover[v] = per * (1.0 - spot_loss)
                spot[v] = per * (1.0 - spot_loss)
                count[v] = 1.0
            if o.max_replicas is not None:
                mine = [res.get(g)] + [ready.get((g, term, t)) for term in ("on-demand", "spot")]
                prog.add({v: 1.0 for v in mine if v is not None}, upper=o.max_replicas)
        prog.add(cover, lower=load_rps[t])
        # a valid cut that tightens the relaxation: no replica carries more than the largest one
        largest = max(o.usable_requests_per_s for o in options)
        floor = max(min_replicas, math.ceil(load_rps[t] / largest - 1e-9))
        if floor:
            prog.add(count, lower=float(floor))
        if spot:
            prog.add(spot, upper=spot_share * load_rps[t])
    sol = prog.solve(time_limit_s)
    if sol.status == "infeasible":
        raise InfercostError(
            "gpus[].max_replicas",
            [o.max_replicas for o in options],
            f"no purchase mix covers the peak of {max(load_rps):.1f} req/s ({sol.message})",
        )
    x = sol.x
    intervals: list[IntervalPlan] = []
    by_term: dict[str, float] = dict.fromkeys(TERMS, 0.0)
    for t in range(n):
        r_map: dict[str, dict[str, int]] = {}
        b_map: dict[str, dict[str, int]] = {}
        usd = capacity = 0.0
        for g, o in enumerate(options):
            r: dict[str, int] = {}
            b: dict[str, int] = {}
            if g in res:
                r["reserved"] = b["reserved"] = round(float(x[res[g]]))
                cost = o.chips * o.prices["reserved"].usd_per_chip_hour * interval_h * r["reserved"]
                usd += cost
                by_term["reserved"] += cost
                capacity += r["reserved"] * o.usable_requests_per_s
            for term in ("on-demand", "spot"):
                if (g, term, t) not in ready:
                    continue
                r[term] = round(float(x[ready[(g, term, t)]]))
                b[term] = round(float(x[billed[(g, term, t)]]))
                cost = o.chips * o.prices[term].usd_per_chip_hour * interval_h * b[term]
                usd += cost
                by_term[term] += cost
                loss = spot_loss if term == "spot" else 0.0
                capacity += r[term] * o.usable_requests_per_s * (1.0 - loss)
            if any(r.values()) or any(b.values()):
                r_map[o.hardware] = r
                b_map[o.hardware] = b
        intervals.append(
            IntervalPlan(
                index=t,
                start_h=t * interval_h,
                load_rps=float(load_rps[t]),
                capacity_rps=capacity,
                ready=r_map,
                billed=b_map,
                usd=usd,
            )
        )
    per_day = HOURS_PER_DAY / horizon_h
    total = sum(i.usd for i in intervals)
    return Optimized(
        status=sol.status,
        mip_gap=sol.mip_gap,
        usd_per_day=total * per_day,
        usd_per_day_by_term={k: v * per_day for k, v in by_term.items()},
        reserved={options[g].hardware: round(float(x[v])) for g, v in res.items()},
        intervals=intervals,
    )


# --- the plan -----------------------------------------------------------------------------------------


def plan_fleet(
    spec: FleetSpec | str | Path,
    *,
    base_dir: str | Path | None = None,
    progress: Callable[[], None] | None = None,
) -> FleetPlan:
    """Replicas per interval, purchase mix and cost per day for a fleet file (or spec)."""
    if not isinstance(spec, FleetSpec):
        spec, folder = load_fleet(spec)
        base_dir = base_dir or folder
    tick = progress or (lambda: None)
    base = Path(base_dir or ".")
    spec_for(spec.model, "model")
    interval_s = spec.load.interval_minutes * 60.0
    interval_h = interval_s / 3600.0
    if spec.load.trace is not None:
        load, mean_isl, mean_osl = binned_trace(spec.load.trace, interval_s, base)
        isl = spec.isl or max(1, round(mean_isl))
        osl = spec.osl or max(1, round(mean_osl))
        periodic = False
    else:
        assert spec.load.requests_per_s is not None and spec.isl and spec.osl
        load, isl, osl, periodic = list(spec.load.requests_per_s), spec.isl, spec.osl, True
    n = len(load)
    options: list[FleetOption] = []
    skipped: dict[str, str] = {}
    first_slo: InfercostError | None = None
    for i, g in enumerate(spec.gpus):
        try:
            options.append(_option(spec, g, isl, osl))
        except (DoesNotFitError, SloNotMetError) as err:
            first_slo = first_slo or err
            skipped[f"gpus[{i}] {g.hardware}"] = str(err)
        except InfercostError as err:
            raise InfercostError(f"gpus[{i}].{err.field}", err.value, err.allowed) from None
        tick()
    if not options:
        assert first_slo is not None
        raise InfercostError(
            first_slo.field, first_slo.value, f"no GPU option serves the model: {first_slo.allowed}"
        )
    terms = tuple(t for t in TERMS if _allowed(spec, t))
    priced = [o for o in options if any(t in o.prices for t in terms)]
    if not priced:
        raise InfercostError(
            "gpus[].prices", None, f"no price for the terms allowed ({', '.join(terms)}); give one"
        )
    a = spec.autoscaling
    delay = _intervals(a.scale_up_delay_minutes, spec.load.interval_minutes)
    cooldown = _intervals(a.cooldown_minutes, spec.load.interval_minutes)
    baselines, timelines = [], []
    for o in priced:
        need = replicas_needed(load, o.usable_requests_per_s, max(1, a.min_replicas))
        peak = max(need)
        for term, kind in (
            ("on-demand", "static peak, on-demand"),
            ("reserved", "static peak, reserved"),
        ):
            if term in o.prices:
                price = o.prices[term].usd_per_chip_hour
                baselines.append(
                    Baseline(
                        kind=kind,
                        hardware=o.hardware,
                        replicas=peak,
                        usd_per_chip_hour=price,
                        usd_per_day=peak * o.chips * price * HOURS_PER_DAY,
                    )
                )
        if "on-demand" in o.prices:
            timelines.append(_timeline(o, load, need, spec, delay, cooldown, periodic, interval_h))
    tick()
    spot = spec.purchase.spot
    replace_min = spot.replacement_minutes
    if replace_min is None:
        replace_min = a.scale_up_delay_minutes
    loss = min(0.99, (spot.interruptions_per_hour or 0.0) * replace_min / 60.0)
    optimized = optimize_mix(
        priced,
        load,
        interval_h=interval_h,
        delay=delay,
        cooldown=cooldown,
        min_replicas=a.min_replicas,
        periodic=periodic,
        terms=terms,
        spot_share=spot.max_share,
        spot_loss=loss,
        time_limit_s=spec.solver_time_limit_s,
    )
    tick()
    static = min(b.usd_per_day for b in baselines) if baselines else None
    autoscaled = min(timelines, key=lambda tl: tl.usd_per_day) if timelines else None
    saved = None if static is None else static - optimized.usd_per_day
    return FleetPlan(
        name=spec.name,
        model=spec.model,
        isl=isl,
        osl=osl,
        slo={"ttft_ms": spec.slo.ttft_ms, "tpot_ms": spec.slo.tpot_ms},
        target_utilization=spec.target_utilization,
        interval_minutes=spec.load.interval_minutes,
        horizon_h=n * interval_h,
        periodic=periodic,
        load_rps=[float(x) for x in load],
        options=options,
        skipped=skipped,
        baselines=sorted(baselines, key=lambda b: b.usd_per_day),
        autoscaled=autoscaled,
        optimized=optimized,
        static_peak_usd_per_day=static,
        savings_usd_per_day=saved,
        savings_pct=None if static is None or saved is None else 100.0 * saved / static,
        assumptions=_assumptions(spec, delay, cooldown, loss, periodic, isl, osl),
    )


def _timeline(
    o: FleetOption,
    load: Sequence[float],
    need: list[int],
    spec: FleetSpec,
    delay: int,
    cooldown: int,
    periodic: bool,
    interval_h: float,
) -> Timeline:
    mode = spec.autoscaling.mode
    billed, ready = autoscale(
        need,
        delay=delay,
        cooldown=cooldown,
        min_replicas=spec.autoscaling.min_replicas,
        periodic=periodic,
        predictive=mode == "predictive",
    )
    served = [min(r, ready[t] * o.usable_requests_per_s) for t, r in enumerate(load)]
    total = sum(load)
    price = o.prices["on-demand"].usd_per_chip_hour
    usd = sum(billed) * o.chips * price * interval_h
    return Timeline(
        hardware=o.hardware,
        mode=mode,
        need=need,
        billed=billed,
        ready=ready,
        short_intervals=[t for t in range(len(need)) if ready[t] < need[t]],
        unserved_share=(total - sum(served)) / total if total > 0 else 0.0,
        usd_per_day=usd * HOURS_PER_DAY / (len(need) * interval_h),
    )


def _assumptions(
    spec: FleetSpec, delay: int, cooldown: int, loss: float, periodic: bool, isl: int, osl: int
) -> list[str]:
    a = spec.autoscaling
    out = [
        f"capacity per replica: continuous batching at isl {isl} / osl {osl}, p99 targets via the "
        f"calibrated tail factors; planned at {spec.target_utilization:.0%} of it",
        f"scale-up delay {a.scale_up_delay_minutes:g} min = {delay} interval(s), cool-down "
        f"{a.cooldown_minutes:g} min = {cooldown} interval(s), minimum {a.min_replicas} replica(s)",
        "purchase mix: scheduled (predictive) scaling; reserved replicas are paid every hour of the "
        "horizon, on-demand and spot replicas while booting, serving and cooling down",
        "a daily curve repeats (the day wraps around)"
        if periodic
        else "a trace is one horizon; it starts with the first interval's replicas ready",
    ]
    if spec.purchase.spot.max_share > 0:
        out.append(
            f"spot: at most {spec.purchase.spot.max_share:.0%} of each interval's load; "
            f"{spec.purchase.spot.interruptions_per_hour:g} interruptions per replica-hour × "
            f"replacement time = {loss:.1%} of spot capacity lost (user assumption)"
        )
    out.append("prices per chip-hour: catalog rows with their sources, or user input (see prices)")
    return out


__all__ = [
    "TERMS",
    "TRACE_FORMATS",
    "Baseline",
    "FleetOption",
    "FleetPlan",
    "FleetSpec",
    "IntervalPlan",
    "Optimized",
    "PriceQuote",
    "Timeline",
    "autoscale",
    "binned_trace",
    "load_fleet",
    "optimize_mix",
    "parse_fleet",
    "plan_fleet",
    "replicas_needed",
    "term_prices",
]
