"""Multi-tenant packing: several models with their loads and SLOs on the fewest, cheapest GPUs.

Three ways to share a GPU, each solved as an integer program (`scipy.optimize.milp`, HiGHS):

* **MIG** — hardware slices from `catalog/data/mig_profiles.yaml` (NVIDIA MIG user guide: profile,
  compute slices of 7, memory slices of 8, instances, valid placements). A slice is priced as a chip
  of its own (`capacity.fractional_hardware`): peak FLOP/s × compute_slices/7, memory bandwidth ×
  memory_slices/8, the profile's memory; one replica of one model per slice. Placements are exact:
  each instance occupies memory slots `start … start + memory_slices − 1`, no slot twice.
* **MPS** — processes share one GPU's SMs concurrently. Each process gets a share φ of the GPU
  (compute, bandwidth and memory; `CUDA_MPS_ACTIVE_THREAD_PERCENTAGE` and the engine's memory
  fraction) from a grid (eighths by default), shares on a GPU sum to ≤ 1, and a process on a shared
  GPU runs at (1 − interference) of its share's compute and bandwidth. The **interference factor**
  is a user input; the default 0.10 is a stated assumption, not a measurement: MPS clients are not
  isolated (they contend for L2 and memory bandwidth, NVIDIA MIG user guide "MIG vs MPS"), so 10 %
  is charged for contention on top of the share. Measure yours by running the tenants together.
* **Time-sharing** — one model resident at a time; the GPU cycles through its tenants every
  `cycle_s`. Each visit swaps the weights in: swap seconds = weights bytes ÷ host-link bandwidth
  (per direction, from the MIG table's `host_link_gbps` or user input) — a lower bound (no
  engine start-up). A visit serves the requests queued over one cycle as one batch (waves when they
  exceed the batch limit) and drains them before the next swap, so a tenant's busy share is
  (swap + max(E2E at that batch, load × cycle ÷ capacity)) ÷ cycle. Only tenants whose p99 TTFT
  target allows waiting a whole cycle (cycle + their TTFT ≤ target) can be time-shared.

Models whose replica needs more than one GPU, or that no shared form serves, stay on whole GPUs.
The baseline is one model per GPU: each model on its own replicas of the hardware type that is
cheapest for it at its load (every chip count per replica). GPUs saved = baseline GPUs − packed GPUs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from infercost import catalog
from infercost.econ.frontier import price_source
from infercost.errors import DoesNotFitError, InfercostError
from infercost.plan.capacity import (
    Capacity,
    SloNotMetError,
    chip_counts,
    fractional_hardware,
    replica_capacity,
    spec_for,
)
from infercost.plan.spec_files import (
    InputSpec,
    Positive,
    Result,
    Slo,
    parse_spec,
    read_yaml_mapping,
)
from infercost.specs.hardware import Hardware

Mode = Literal["mig", "mps", "timeshare"]
MODES: tuple[Mode, ...] = ("mig", "mps", "timeshare")
DEFAULT_INTERFERENCE = 0.10  # see the module docstring: an assumption, not a measurement
DEFAULT_SHARES = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)
DEFAULT_CYCLE_S = 60.0
MAX_GPUS_PER_TYPE = 64  # the integer program's GPU pool per hardware type

# --- integer programs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Solution:
    status: Literal["optimal", "time limit", "infeasible"]
    x: np.ndarray
    objective: float
    mip_gap: float | None
    message: str


class IntegerProgram:
    """A minimization over integer (or continuous) variables with sparse linear rows, for HiGHS."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.integer: list[int] = []
        self.rows: list[tuple[dict[int, float], float, float]] = []

    def var(
        self, cost: float, *, lower: float = 0.0, upper: float = np.inf, integer: bool = True
    ) -> int:
        self.cost.append(cost)
        self.lower.append(lower)
        self.upper.append(upper)
        self.integer.append(1 if integer else 0)
        return len(self.cost) - 1

    def add(self, coefs: dict[int, float], lower: float = -np.inf, upper: float = np.inf) -> None:
        self.rows.append((coefs, lower, upper))

    def solve(self, time_limit_s: float = 30.0, mip_rel_gap: float | None = None) -> Solution:
        """HiGHS branch and bound; stops at the time limit or when the relative gap between the best
        solution and the bound is below `mip_rel_gap` (HiGHS default 1e-4); the gap is reported."""
        n = len(self.cost)
        if n == 0:
            return Solution("optimal", np.zeros(0), 0.0, 0.0, "empty")
        constraints = []
        if self.rows:
            data: list[float] = []
            cols: list[int] = []
            ptr = [0]
            for coefs, _, _ in self.rows:
                cols.extend(coefs)
                data.extend(coefs.values())
                ptr.append(len(cols))
            a = csr_array((data, cols, ptr), shape=(len(self.rows), n))
            lo = np.array([r[1] for r in self.rows])
            hi = np.array([r[2] for r in self.rows])
            constraints.append(LinearConstraint(a, lo, hi))
        res = milp(
            np.asarray(self.cost, dtype=float),
            integrality=np.asarray(self.integer),
            bounds=Bounds(np.asarray(self.lower), np.asarray(self.upper)),
            constraints=constraints,
            options={
                "time_limit": time_limit_s,
                "disp": False,
                **({} if mip_rel_gap is None else {"mip_rel_gap": mip_rel_gap}),
            },
        )
        if res.x is None:
            return Solution("infeasible", np.zeros(n), math.inf, None, str(res.message))
        x = np.round(res.x) * np.asarray(self.integer) + res.x * (1 - np.asarray(self.integer))
        status: Literal["optimal", "time limit"] = "optimal" if res.status == 0 else "time limit"
        gap = getattr(res, "mip_gap", None)
        return Solution(
            status, x, float(res.fun), None if gap is None else float(gap), str(res.message)
        )


# --- the MIG table ------------------------------------------------------------------------------------


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MigGpu(_Row):
    hardware: str
    product: str
    compute_slices: int
    memory_slices: int
    host_link: str
    host_link_gbps: float
    source: str
    as_of: str


class MigProfile(_Row):
    hardware: str
    name: str
    compute_slices: int
    memory_slices: int
    memory_gb: float
    max_instances: int
    placements: tuple[int, ...]
    source: str
    as_of: str


@cache
def _mig_table() -> tuple[dict[str, MigGpu], dict[str, tuple[MigProfile, ...]]]:
    text = (resources.files("infercost.catalog") / "data" / "mig_profiles.yaml").read_text()
    data = yaml.safe_load(text)
    gpus = {g.hardware: g for g in (MigGpu.model_validate(e) for e in data["gpus"])}
    profiles: dict[str, list[MigProfile]] = {}
    for entry in data["profiles"]:
        p = MigProfile.model_validate(entry)
        profiles.setdefault(p.hardware, []).append(p)
    return gpus, {k: tuple(v) for k, v in profiles.items()}


def mig_gpus() -> list[MigGpu]:
    return list(_mig_table()[0].values())


def mig_gpu(hardware_id: str) -> MigGpu | None:
    return _mig_table()[0].get(hardware_id)


def mig_profiles(hardware_id: str) -> tuple[MigProfile, ...]:
    """The MIG profiles of a catalog hardware id (empty when it has none in the table)."""
    return _mig_table()[1].get(hardware_id, ())


# --- the input file -----------------------------------------------------------------------------------


class Tenant(InputSpec):
    name: Annotated[str, Field(min_length=1)]
    model: str
    weights: str | None = None
    kv: str | None = None
    isl: Annotated[int, Field(ge=1)]
    osl: Annotated[int, Field(ge=1)]
    requests_per_s: Positive
    slo: Slo


class MpsOptions(InputSpec):
    interference: Annotated[float, Field(ge=0, lt=1)] = DEFAULT_INTERFERENCE
    shares: tuple[Annotated[float, Field(gt=0, le=1)], ...] = DEFAULT_SHARES


class TimeshareOptions(InputSpec):
    cycle_s: Positive = DEFAULT_CYCLE_S
    host_link_gbps: Positive | None = None  # per direction; default: the MIG table's


class PackSpec(InputSpec):
    name: str | None = None
    hardware: tuple[str, ...]
    prices: dict[str, Positive] = {}  # USD per GPU-hour by hardware id (user input)
    engine: str | None = None
    modes: tuple[Mode, ...] = MODES
    mps: MpsOptions = MpsOptions()
    timeshare: TimeshareOptions = TimeshareOptions()
    models: Annotated[tuple[Tenant, ...], Field(min_length=1)]
    solver_time_limit_s: Positive = 30.0

    @model_validator(mode="before")
    @classmethod
    def _one_hardware(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("hardware"), str):
            return {**data, "hardware": [data["hardware"]]}
        return data

    @model_validator(mode="after")
    def _unique(self) -> PackSpec:
        names = [t.name for t in self.models]
        if len(set(names)) != len(names):
            raise InfercostError("models[].name", names, "tenant names must be unique")
        if not self.hardware:
            raise InfercostError("hardware", [], "give at least one GPU type")
        if not self.modes:
            raise InfercostError("modes", [], f"give at least one of {', '.join(MODES)}")
        unknown = sorted(set(self.prices) - set(self.hardware))
        if unknown:
            raise InfercostError("prices", unknown[0], "a price for a GPU type not in `hardware`")
        return self


def parse_pack(data: dict[str, Any]) -> PackSpec:
    return parse_spec(PackSpec, data)


def load_pack(path: str | Path) -> PackSpec:
    """A pack file (see examples/pack-*.yaml); mistakes are one-line errors naming the field."""
    return parse_pack(read_yaml_mapping(path, "pack file"))


# --- results ------------------------------------------------------------------------------------------


class GpuPrice(Result):
    hardware: str
    usd_per_hour: float
    source: str
    as_of: str | None


class Dedicated(Result):
    """One model on whole GPUs of one type."""

    tenant: str
    hardware: str
    chips_per_replica: int
    replicas: int
    gpus: int
    usd_per_hour: float
    requests_per_s_capacity: float


class Slot(Result):
    """One tenant's piece of one GPU."""

    gpu: str  # "a100-sxm-80gb #1"
    hardware: str
    tenant: str
    kind: Literal["mig", "mps", "timeshare"]
    label: str  # MIG profile, MPS share, or time-share busy share
    start: int | None  # MIG placement (first memory slot)
    share: float  # of the GPU (MIG: memory slots / 8)
    requests_per_s_capacity: float  # this slot's sustainable rate at the tenant's SLO


class ModeResult(Result):
    mode: Mode
    feasible: bool
    reason: str  # why not feasible, or ""
    gpus: int  # shared + dedicated
    gpus_by_hardware: dict[str, int]
    usd_per_hour: float
    slots: list[Slot]
    dedicated: list[Dedicated]  # tenants left on whole GPUs in this mode
    solver_status: str
    mip_gap: float | None
    gpus_saved: int  # vs one model per GPU
    usd_per_hour_saved: float


class PackResult(Result):
    name: str | None
    prices: list[GpuPrice]
    baseline: list[Dedicated]  # one model per GPU
    baseline_gpus: int
    baseline_usd_per_hour: float
    modes: list[ModeResult]
    best: Mode | None  # the cheapest feasible mode (fewest GPUs on a tie)
    gpus_saved: int
    usd_per_hour_saved: float
    assumptions: list[str]


# --- capacities -----------------------------------------------------------------------------------------


def _gpu_label(hw: str, j: int) -> str:
    return f"{hw} #{j + 1}"


def _try(fn: Callable[[], Capacity]) -> Capacity | None:
    try:
        return fn()
    except (DoesNotFitError, SloNotMetError):
        return None


def _capacity_on(
    t: Tenant, hw: Hardware, engine: str | None, max_num_seqs: int | None = None
) -> Capacity | None:
    """One replica of the tenant on `hw` as a single chip (None: does not fit or misses the SLO)."""
    return _try(
        lambda: replica_capacity(
            t.model,
            hw,
            isl=t.isl,
            osl=t.osl,
            tpot_ms=t.slo.tpot_ms,
            ttft_ms=t.slo.ttft_ms,
            chips=1,
            weights=t.weights,
            kv=t.kv,
            engine=engine,
            max_num_seqs=max_num_seqs,
        )
    )


def _replicas(load: float, cap: float) -> int:
    return max(1, math.ceil(load / cap - 1e-9))


def _dedicated(
    i: int, t: Tenant, hws: Sequence[Hardware], price: dict[str, GpuPrice], engine: str | None
) -> Dedicated:
    """The cheapest whole-GPU deployment of one tenant at its load: every hardware type and chip
    count per replica (1, 2, 4, … within the scale-up domain), replicas to cover the load."""
    best: Dedicated | None = None
    errors: list[InfercostError] = []
    for hw in hws:
        for chips in chip_counts(hw):
            try:
                cap = replica_capacity(
                    t.model,
                    hw,
                    isl=t.isl,
                    osl=t.osl,
                    tpot_ms=t.slo.tpot_ms,
                    ttft_ms=t.slo.ttft_ms,
                    chips=chips,
                    weights=t.weights,
                    kv=t.kv,
                    engine=engine,
                )
            except InfercostError as err:
                if not isinstance(err, DoesNotFitError | SloNotMetError) and err.field != "chips":
                    raise
                errors.append(err)
                continue
            n = _replicas(t.requests_per_s, cap.requests_per_s)
            option = Dedicated(
                tenant=t.name,
                hardware=hw.id,
                chips_per_replica=cap.chips,
                replicas=n,
                gpus=n * cap.chips,
                usd_per_hour=n * cap.chips * price[hw.id].usd_per_hour,
                requests_per_s_capacity=n * cap.requests_per_s,
            )
            if best is None or (option.usd_per_hour, option.gpus) < (best.usd_per_hour, best.gpus):
                best = option
    if best is None:
        # the most telling failure: a missed target (the model fits) over a memory one
        misses = [e for e in errors if isinstance(e, SloNotMetError)]
        worst = misses[-1] if misses else errors[-1]  # the most chips: the closest to the target
        field = worst.field if isinstance(worst, SloNotMetError) else "model"
        raise InfercostError(
            f"models[{i}].{field}",
            worst.value,
            f"{worst.allowed} (on every GPU type and chip count)",
        )
    return best


# --- the three forms ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    """The GPUs a program may use: per hardware type, how many and their price per hour."""

    size: dict[str, int]
    usd_per_hour: dict[str, float]


@dataclass(frozen=True)
class Placed:
    """One tenant's piece of GPU `index` of type `hardware` in a solution."""

    tenant: str
    hardware: str
    index: int
    label: str  # MIG profile name, MPS share, or time-share
    start: int | None  # MIG: first memory slot
    share: float  # of the GPU
    rate: float  # requests/s the piece sustains


@dataclass(frozen=True)
class Packing:
    placed: list[Placed]
    used: dict[str, int]  # GPUs used per hardware type
    solution: Solution


def _gpus(prog: IntegerProgram, pool: Pool, hw: str) -> list[int]:
    """One 0/1 variable per GPU of type `hw`, used in order (GPU j+1 only after GPU j)."""
    out: list[int] = []
    for _ in range(pool.size.get(hw, 0)):
        u = prog.var(pool.usd_per_hour[hw], upper=1)
        if out:
            prog.add({u: 1.0, out[-1]: -1.0}, upper=0.0)
        out.append(u)
    return out


def _tie(pool: Pool) -> float:
    """Cost of a whole GPU's worth of slices: a thousandth of the cheapest GPU, so the program
    prefers the smallest slices that serve but never trades a GPU for them (fewer than 1000 GPUs),
    and still far above HiGHS's relative gap tolerance (1e-4)."""
    return 1e-3 * min(pool.usd_per_hour.values(), default=1.0)


def _used(gpus: dict[str, list[int]], sol: Solution) -> dict[str, int]:
    out = {h: sum(1 for u in us if sol.x[u] > 0.5) for h, us in gpus.items()}
    return {h: n for h, n in out.items() if n}


def _cover(
    prog: IntegerProgram, demand: dict[str, float], terms: dict[int, tuple[str, float]]
) -> None:
    """Each tenant's pieces sustain at least its load."""
    for tenant, load in demand.items():
        row = {v: rate for v, (t, rate) in terms.items() if t == tenant}
        prog.add(row, lower=load)


def solve_mig(
    demand: dict[str, float],
    rates: dict[tuple[str, str, str], float],
    profiles: dict[str, Sequence[MigProfile]],
    pool: Pool,
    *,
    memory_slices: int = 8,
    compute_slices: int = 7,
    time_limit_s: float = 30.0,
) -> Packing:
    """MIG slices for every tenant of `demand` (requests/s): `rates[(tenant, hardware, profile)]` is
    what one slice sustains (absent: it cannot serve). Each instance occupies memory slots
    start … start + memory_slices − 1 of its GPU; no slot is used twice."""
    prog = IntegerProgram()
    tie = _tie(pool) / memory_slices
    gpus: dict[str, list[int]] = {}
    x: dict[int, tuple[str, str, int, MigProfile, int]] = {}
    for hw, plist in profiles.items():
        gpus[hw] = _gpus(prog, pool, hw)
        for j, u in enumerate(gpus[hw]):
            slots: list[dict[int, float]] = [{u: -1.0} for _ in range(memory_slices)]
            compute: dict[int, float] = {u: -float(compute_slices)}
            for p in plist:
                for tenant in demand:
                    if (tenant, hw, p.name) not in rates:
                        continue
                    for start in p.placements:
                        v = prog.var(tie * p.memory_slices, upper=1)
                        x[v] = (tenant, hw, j, p, start)
                        compute[v] = float(p.compute_slices)
                        for s in range(start, start + p.memory_slices):
                            slots[s][v] = 1.0
            for row in slots:
                prog.add(row, upper=0.0)
            prog.add(compute, upper=0.0)
    _cover(prog, demand, {v: (t, rates[(t, hw, p.name)]) for v, (t, hw, _, p, _) in x.items()})
    sol = prog.solve(time_limit_s)
    if sol.status == "infeasible":
        return Packing([], {}, sol)
    placed = [
        Placed(t, hw, j, p.name, start, p.memory_slices / memory_slices, rates[(t, hw, p.name)])
        for v, (t, hw, j, p, start) in x.items()
        if sol.x[v] > 0.5
    ]
    return Packing(placed, _used(gpus, sol), sol)


def solve_shares(
    demand: dict[str, float],
    rates: dict[tuple[str, str, float], float],
    pool: Pool,
    *,
    time_limit_s: float = 30.0,
) -> Packing:
    """MPS processes: `rates[(tenant, hardware, share)]` is what one process with that share of a
    GPU sustains; a tenant may run several processes; shares on one GPU sum to at most 1."""
    prog = IntegerProgram()
    tie = _tie(pool)
    gpus: dict[str, list[int]] = {}
    y: dict[int, tuple[str, str, int, float]] = {}
    for hw in sorted({h for _, h, _ in rates}):
        gpus[hw] = _gpus(prog, pool, hw)
        for j, u in enumerate(gpus[hw]):
            row: dict[int, float] = {u: -1.0}
            for t, h, share in rates:
                if h == hw and t in demand:
                    v = prog.var(tie * share, upper=math.floor(1.0 / share + 1e-9))
                    y[v] = (t, hw, j, share)
                    row[v] = share
            prog.add(row, upper=1e-9)
    _cover(prog, demand, {v: (t, rates[(t, hw, share)]) for v, (t, hw, _, share) in y.items()})
    sol = prog.solve(time_limit_s)
    if sol.status == "infeasible":
        return Packing([], {}, sol)
    placed = [
        Placed(t, hw, j, f"{share:.1%} of the GPU", None, share, rates[(t, hw, share)])
        for v, (t, hw, j, share) in y.items()
        for _ in range(round(float(sol.x[v])))
    ]
    return Packing(placed, _used(gpus, sol), sol)


def solve_timeshare(
    busy: dict[tuple[str, str], float],
    pool: Pool,
    *,
    time_limit_s: float = 30.0,
) -> Packing:
    """Time-sharing: `busy[(tenant, hardware)]` is the share of a GPU's time the tenant needs there
    (load, swaps, draining); every tenant named goes to exactly one GPU; shares sum to at most 1."""
    prog = IntegerProgram()
    gpus: dict[str, list[int]] = {}
    z: dict[int, tuple[str, str, int]] = {}
    for hw in sorted({h for _, h in busy}):
        gpus[hw] = _gpus(prog, pool, hw)
        for j, u in enumerate(gpus[hw]):
            row: dict[int, float] = {u: -1.0}
            for (t, h), share in busy.items():
                if h == hw:
                    v = prog.var(0.0, upper=1)
                    z[v] = (t, hw, j)
                    row[v] = share
            prog.add(row, upper=1e-9)
    for tenant in sorted({t for t, _ in busy}):
        prog.add({v: 1.0 for v, (t, _, _) in z.items() if t == tenant}, lower=1.0, upper=1.0)
    sol = prog.solve(time_limit_s)
    if sol.status == "infeasible":
        return Packing([], {}, sol)
    placed = [
        Placed(t, hw, j, f"busy {busy[(t, hw)]:.1%} of each cycle", None, busy[(t, hw)], 0.0)
        for v, (t, hw, j) in z.items()
        if sol.x[v] > 0.5
    ]
    return Packing(placed, _used(gpus, sol), sol)


# --- what each tenant sustains in each form -----------------------------------------------------------


def mig_rates(
    tenants: Sequence[Tenant], hws: Sequence[Hardware], engine: str | None
) -> dict[tuple[str, str, str], float]:
    out: dict[tuple[str, str, str], float] = {}
    for hw in hws:
        gpu = mig_gpu(hw.id)
        if gpu is None:
            continue
        for p in mig_profiles(hw.id):
            sliced = fractional_hardware(
                hw,
                label=f"MIG {p.name}",
                compute=p.compute_slices / gpu.compute_slices,
                bandwidth=p.memory_slices / gpu.memory_slices,
                memory_gb=p.memory_gb,
            )
            for t in tenants:
                cap = _capacity_on(t, sliced, engine)
                if cap is not None:
                    out[(t.name, hw.id, p.name)] = cap.requests_per_s
    return out


def mps_rates(
    tenants: Sequence[Tenant], hws: Sequence[Hardware], engine: str | None, opts: MpsOptions
) -> dict[tuple[str, str, float], float]:
    out: dict[tuple[str, str, float], float] = {}
    for hw in hws:
        if hw.memory_gb is None:
            continue
        for share in sorted(set(opts.shares)):
            # a process alone on the GPU (share 1) sees no interference
            factor = share if share >= 1.0 else share * (1.0 - opts.interference)
            shared = fractional_hardware(
                hw,
                label=f"MPS {share:.3g}",
                compute=factor,
                bandwidth=factor,
                memory_gb=hw.memory_gb * share,
            )
            for t in tenants:
                cap = _capacity_on(t, shared, engine)
                if cap is not None:
                    out[(t.name, hw.id, share)] = cap.requests_per_s
    return out


def swap_seconds(weights_bytes: float, host_link_gbps: float) -> float:
    """Seconds to move a model's weights onto the GPU over the host link (per direction)."""
    return weights_bytes / (host_link_gbps * 1e9)


def timeshare_busy(
    tenants: Sequence[Tenant], hws: Sequence[Hardware], engine: str | None, opts: TimeshareOptions
) -> tuple[dict[tuple[str, str], tuple[float, float]], list[str]]:
    """(busy share, requests/s alone) per eligible (tenant, hardware), and notes on what was skipped."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    notes: list[str] = []
    for hw in hws:
        link = opts.host_link_gbps
        if link is None:
            gpu = mig_gpu(hw.id)
            if gpu is None:
                notes.append(
                    f"time-sharing on {hw.id}: host-link bandwidth unknown; give "
                    "timeshare.host_link_gbps"
                )
                continue
            link = gpu.host_link_gbps
        for t in tenants:
            cap = _capacity_on(t, hw, engine)
            if cap is None:
                continue
            if t.slo.ttft_ms is not None and opts.cycle_s * 1e3 + cap.ttft_ms_p99 > t.slo.ttft_ms:
                continue  # a request may wait a whole cycle
            swap = swap_seconds(cap.weights_bytes_per_chip, link)
            # a visit serves the requests queued over one cycle, together as one batch (in waves
            # when they exceed the batch limit), and drains before the next tenant swaps in
            queued = max(1, math.ceil(t.requests_per_s * opts.cycle_s))
            wave = _capacity_on(t, hw, engine, max_num_seqs=min(queued, cap.max_concurrency))
            if wave is None:
                continue
            e2e_s = (wave.ttft_ms_p99 + (t.osl - 1) * wave.tpot_ms_p99) / 1e3
            work_s = max(e2e_s, t.requests_per_s * opts.cycle_s / cap.requests_per_s)
            share = (swap + work_s) / opts.cycle_s
            if share <= 1.0:
                out[(t.name, hw.id)] = (share, cap.requests_per_s)
    return out, notes


def _slots(packing: Packing, kind: Literal["mig", "mps", "timeshare"]) -> list[Slot]:
    return [
        Slot(
            gpu=_gpu_label(p.hardware, p.index),
            hardware=p.hardware,
            tenant=p.tenant,
            kind=kind,
            label=p.label,
            start=p.start,
            share=p.share,
            requests_per_s_capacity=p.rate,
        )
        for p in packing.placed
    ]


# --- packing --------------------------------------------------------------------------------------------


def _prices(spec: PackSpec, hws: Sequence[Hardware]) -> dict[str, GpuPrice]:
    out = {}
    for hw in hws:
        try:
            p = price_source(hw, spec.prices.get(hw.id))
        except InfercostError:
            raise InfercostError(
                f"prices.{hw.id}",
                None,
                f"the catalog has no price for {hw.id}; give USD per GPU-hour",
            ) from None
        out[hw.id] = GpuPrice(
            hardware=hw.id, usd_per_hour=p.usd_per_chip_hour, source=p.source, as_of=p.as_of
        )
    return out


def _mode_result(
    mode: Mode,
    tenants: Sequence[Tenant],
    slots: list[Slot],
    used: dict[str, int],
    served: set[str],
    sol: Solution,
    baseline: dict[str, Dedicated],
    price: dict[str, GpuPrice],
    base_gpus: int,
    base_usd: float,
) -> ModeResult:
    if sol.status == "infeasible":
        return ModeResult(
            mode=mode,
            feasible=False,
            reason=f"no packing found ({sol.message})",
            gpus=0,
            gpus_by_hardware={},
            usd_per_hour=0.0,
            slots=[],
            dedicated=[],
            solver_status=sol.status,
            mip_gap=sol.mip_gap,
            gpus_saved=0,
            usd_per_hour_saved=0.0,
        )
    left = [baseline[t.name] for t in tenants if t.name not in served]
    by_hw = dict(used)
    for d in left:
        by_hw[d.hardware] = by_hw.get(d.hardware, 0) + d.gpus
    gpus = sum(by_hw.values())
    usd = sum(price[h].usd_per_hour * n for h, n in used.items()) + sum(
        d.usd_per_hour for d in left
    )
    return ModeResult(
        mode=mode,
        feasible=True,
        reason="",
        gpus=gpus,
        gpus_by_hardware=by_hw,
        usd_per_hour=usd,
        slots=slots,
        dedicated=left,
        solver_status=sol.status,
        mip_gap=sol.mip_gap,
        gpus_saved=base_gpus - gpus,
        usd_per_hour_saved=base_usd - usd,
    )


def pack(spec: PackSpec | str | Path, *, progress: Callable[[], None] | None = None) -> PackResult:
    """Pack the tenants of a pack file (or spec) with each requested form; see the module docstring."""
    if not isinstance(spec, PackSpec):
        spec = load_pack(spec)
    tick = progress or (lambda: None)
    hws = tuple(catalog.hardware(h) for h in spec.hardware)
    if "mig" in spec.modes and not any(mig_profiles(h.id) for h in hws):
        known = ", ".join(g.hardware for g in mig_gpus())
        raise InfercostError(
            "hardware",
            list(spec.hardware),
            f"none has MIG profiles here (known: {known}); drop mig from modes",
        )
    for i, t in enumerate(spec.models):
        spec_for(t.model, f"models[{i}].model")
    price = _prices(spec, hws)
    baseline = {
        t.name: _dedicated(i, t, hws, price, spec.engine) for i, t in enumerate(spec.models)
    }
    tick()
    base_gpus = sum(d.gpus for d in baseline.values())
    base_usd = sum(d.usd_per_hour for d in baseline.values())
    # tenants whose replica needs several GPUs stay dedicated in every form
    tenants = [t for t in spec.models if baseline[t.name].chips_per_replica == 1]
    pool = Pool(
        size={hw.id: _pool_size(tenants, hw, spec.engine) for hw in hws},
        usd_per_hour={h: p.usd_per_hour for h, p in price.items()},
    )
    limit = spec.solver_time_limit_s
    notes: list[str] = []
    results = []
    for mode in spec.modes:
        if mode == "mig":
            rates = mig_rates(tenants, hws, spec.engine)
            served = {t for t, _, _ in rates}
            packing = solve_mig(
                {t.name: t.requests_per_s for t in tenants if t.name in served},
                rates,
                {hw.id: mig_profiles(hw.id) for hw in hws if mig_profiles(hw.id)},
                pool,
                time_limit_s=limit,
            )
        elif mode == "mps":
            shares = mps_rates(tenants, hws, spec.engine, spec.mps)
            served = {t for t, _, _ in shares}
            demand = {t.name: t.requests_per_s for t in tenants if t.name in served}
            packing = solve_shares(demand, shares, pool, time_limit_s=limit)
        else:
            busy, extra = timeshare_busy(tenants, hws, spec.engine, spec.timeshare)
            notes.extend(extra)
            served = {t for t, _ in busy}
            packing = solve_timeshare({k: v[0] for k, v in busy.items()}, pool, time_limit_s=limit)
            packing = Packing(
                [replace(p, rate=busy[(p.tenant, p.hardware)][1]) for p in packing.placed],
                packing.used,
                packing.solution,
            )
        results.append(
            _mode_result(
                mode,
                spec.models,
                _slots(packing, mode),
                packing.used,
                served,
                packing.solution,
                baseline,
                price,
                base_gpus,
                base_usd,
            )
        )
        tick()
    feasible = [r for r in results if r.feasible]
    best = min(feasible, key=lambda r: (r.usd_per_hour, r.gpus)) if feasible else None
    return PackResult(
        name=spec.name,
        prices=list(price.values()),
        baseline=list(baseline.values()),
        baseline_gpus=base_gpus,
        baseline_usd_per_hour=base_usd,
        modes=results,
        best=None if best is None else best.mode,
        gpus_saved=0 if best is None else best.gpus_saved,
        usd_per_hour_saved=0.0 if best is None else best.usd_per_hour_saved,
        assumptions=_assumptions(spec) + sorted(set(notes)),
    )


def _pool_size(tenants: Sequence[Tenant], hw: Hardware, engine: str | None) -> int:
    """GPUs of type `hw` the program may use: enough for every tenant that fits on one alone, with
    whole-GPU replicas (a MIG 7g slice or an MPS share of 1 is a whole GPU)."""
    need = 0
    for t in tenants:
        cap = _capacity_on(t, hw, engine)
        if cap is not None:
            need += _replicas(t.requests_per_s, cap.requests_per_s)
    return min(MAX_GPUS_PER_TYPE, max(1, need))


def _assumptions(spec: PackSpec) -> list[str]:
    out = [
        "capacities: continuous-batching steady state at each tenant's p99 targets (calibrated tail "
        "factors), one replica per slot",
        "baseline: each model alone on whole GPUs of the type cheapest for it",
    ]
    if "mig" in spec.modes:
        out.append(
            "MIG slice = compute_slices/7 of peak FLOP/s, memory_slices/8 of bandwidth, the profile's "
            "memory (NVIDIA MIG user guide); placements as `nvidia-smi mig -lgipp`"
        )
    if "mps" in spec.modes:
        out.append(
            f"MPS: shares {', '.join(f'{s:g}' for s in spec.mps.shares)} of compute, bandwidth and "
            f"memory; interference {spec.mps.interference:g} on a shared GPU (user-set assumption)"
        )
    if "timeshare" in spec.modes:
        out.append(
            f"time-sharing: {spec.timeshare.cycle_s:g} s cycle; swap = weights bytes / host link "
            "(lower bound, engine start-up not counted); eligible only if cycle + p99 TTFT ≤ target"
        )
    return out


__all__ = [
    "DEFAULT_INTERFERENCE",
    "MODES",
    "Dedicated",
    "GpuPrice",
    "IntegerProgram",
    "MigGpu",
    "MigProfile",
    "ModeResult",
    "PackResult",
    "PackSpec",
    "Packing",
    "Placed",
    "Pool",
    "Slot",
    "Solution",
    "load_pack",
    "mig_gpu",
    "mig_gpus",
    "mig_profiles",
    "mig_rates",
    "mps_rates",
    "pack",
    "parse_pack",
    "solve_mig",
    "solve_shares",
    "solve_timeshare",
    "swap_seconds",
    "timeshare_busy",
]
