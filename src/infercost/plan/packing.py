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
  engine start-up). A tenant's busy share is max(load ÷ capacity + swap ÷ cycle,
  (E2E + swap) ÷ cycle): its in-flight requests drain inside its slot. Only tenants whose p99 TTFT
  target allows waiting a whole cycle (cycle + their TTFT ≤ target) can be time-shared.

Models whose replica needs more than one GPU, or that no shared form serves, stay on whole GPUs.
The baseline is one model per GPU: each model on its own replicas of the hardware type that is
cheapest for it (`capacity.best_capacity`). GPUs saved = baseline GPUs − packed GPUs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from infercost import catalog
from infercost.econ.frontier import price_source
from infercost.errors import DoesNotFitError, InfercostError
from infercost.plan.capacity import (
    Capacity,
    SloNotMetError,
    best_capacity,
    fractional_hardware,
    read_yaml_mapping,
    replica_capacity,
    spec_error,
    spec_for,
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

    def solve(self, time_limit_s: float = 30.0) -> Solution:
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
            options={"time_limit": time_limit_s, "disp": False},
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


Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Slo(_Spec):
    """p99 targets in milliseconds; at least one."""

    ttft_ms: Positive | None = None
    tpot_ms: Positive | None = None

    @model_validator(mode="after")
    def _one(self) -> Slo:
        if self.ttft_ms is None and self.tpot_ms is None:
            raise InfercostError("slo", {}, "give ttft_ms, tpot_ms or both (p99, milliseconds)")
        return self


class Tenant(_Spec):
    name: Annotated[str, Field(min_length=1)]
    model: str
    weights: str | None = None
    kv: str | None = None
    isl: Annotated[int, Field(ge=1)]
    osl: Annotated[int, Field(ge=1)]
    requests_per_s: Positive
    slo: Slo


class MpsOptions(_Spec):
    interference: Annotated[float, Field(ge=0, lt=1)] = DEFAULT_INTERFERENCE
    shares: tuple[Annotated[float, Field(gt=0, le=1)], ...] = DEFAULT_SHARES


class TimeshareOptions(_Spec):
    cycle_s: Positive = DEFAULT_CYCLE_S
    host_link_gbps: Positive | None = None  # per direction; default: the MIG table's


class PackSpec(_Spec):
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
    try:
        return PackSpec.model_validate(data)
    except ValidationError as err:
        raise spec_error(err, PackSpec) from None


def load_pack(path: str | Path) -> PackSpec:
    """A pack file (see examples/pack-*.yaml); mistakes are one-line errors naming the field."""
    return parse_pack(read_yaml_mapping(path, "pack file"))


# --- results ------------------------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class GpuPrice(_Out):
    hardware: str
    usd_per_hour: float
    source: str
    as_of: str | None


class Dedicated(_Out):
    """One model on whole GPUs of one type."""

    tenant: str
    hardware: str
    chips_per_replica: int
    replicas: int
    gpus: int
    usd_per_hour: float
    requests_per_s_capacity: float


class Slot(_Out):
    """One tenant's piece of one GPU."""

    gpu: str  # "a100-sxm-80gb #1"
    hardware: str
    tenant: str
    kind: Literal["mig", "mps", "timeshare"]
    label: str  # MIG profile, MPS share, or time-share busy share
    start: int | None  # MIG placement (first memory slot)
    share: float  # of the GPU (MIG: memory slots / 8)
    requests_per_s_capacity: float  # this slot's sustainable rate at the tenant's SLO


class ModeResult(_Out):
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


class PackResult(_Out):
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


def _capacity_on(t: Tenant, hw: Hardware, engine: str | None) -> Capacity | None:
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
        )
    )


def _replicas(load: float, cap: float) -> int:
    return max(1, math.ceil(load / cap - 1e-9))


def _dedicated(
    t: Tenant, hws: Sequence[Hardware], price: dict[str, GpuPrice], engine: str | None
) -> Dedicated:
    best: Dedicated | None = None
    first_error: InfercostError | None = None
    for hw in hws:
        try:
            cap = best_capacity(
                t.model,
                hw,
                isl=t.isl,
                osl=t.osl,
                tpot_ms=t.slo.tpot_ms,
                ttft_ms=t.slo.ttft_ms,
                weights=t.weights,
                kv=t.kv,
                engine=engine,
            )
        except InfercostError as err:
            if not isinstance(err, DoesNotFitError | SloNotMetError):
                raise
            first_error = first_error or err
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
        assert first_error is not None
        raise InfercostError(
            f"models[{t.name}]", t.model, f"cannot be served on any GPU given: {first_error}"
        )
    return best


# --- the three forms ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pool:
    hws: tuple[Hardware, ...]
    price: dict[str, GpuPrice]
    size: dict[str, int]  # GPUs of each type the program may use


def _mig(
    tenants: Sequence[Tenant], pool: _Pool, engine: str | None, limit_s: float
) -> tuple[list[Slot], dict[str, int], set[str], Solution]:
    """MIG slices: returns slots, GPUs used by type, tenants the slices serve, the solution."""
    caps: dict[tuple[int, str, str], tuple[MigProfile, float]] = {}
    for i, t in enumerate(tenants):
        for hw in pool.hws:
            for p in mig_profiles(hw.id):
                sliced = fractional_hardware(
                    hw,
                    label=f"MIG {p.name}",
                    compute=p.compute_slices / mig_gpu(hw.id).compute_slices,  # type: ignore[union-attr]
                    bandwidth=p.memory_slices / mig_gpu(hw.id).memory_slices,  # type: ignore[union-attr]
                    memory_gb=p.memory_gb,
                )
                cap = _capacity_on(t, sliced, engine)
                if cap is not None:
                    caps[(i, hw.id, p.name)] = (p, cap.requests_per_s)
    served = {tenants[i].name for i, _, _ in caps}
    prog = IntegerProgram()
    used: dict[tuple[str, int], int] = {}
    x: dict[tuple[int, str, int, str, int], int] = {}
    for hw in pool.hws:
        if not mig_profiles(hw.id):
            continue
        gpu = mig_gpu(hw.id)
        assert gpu is not None
        for j in range(pool.size[hw.id]):
            u = prog.var(pool.price[hw.id].usd_per_hour, upper=1)
            used[(hw.id, j)] = u
            if j:
                prog.add({u: 1.0, used[(hw.id, j - 1)]: -1.0}, upper=0.0)  # use GPUs in order
            slots: dict[int, dict[int, float]] = {s: {u: -1.0} for s in range(gpu.memory_slices)}
            compute: dict[int, float] = {u: -float(gpu.compute_slices)}
            for (i, h, name), (p, _) in caps.items():
                if h != hw.id:
                    continue
                for start in p.placements:
                    # a tiny cost per slice keeps the layout free of idle slices
                    v = prog.var(1e-6 * p.memory_slices + 1e-8 * start, upper=1)
                    x[(i, hw.id, j, name, start)] = v
                    compute[v] = float(p.compute_slices)
                    for s in range(start, start + p.memory_slices):
                        slots[s][v] = 1.0
            for row in slots.values():
                prog.add(row, upper=0.0)
            prog.add(compute, upper=0.0)
    for i, t in enumerate(tenants):
        if t.name not in served:
            continue
        cover = {v: caps[(ii, h, name)][1] for (ii, h, _, name, _), v in x.items() if ii == i}
        prog.add(cover, lower=t.requests_per_s)
    sol = prog.solve(limit_s)
    out: list[Slot] = []
    if sol.status == "infeasible":
        return out, {}, served, sol
    for (i, h, j, name, start), v in x.items():
        if sol.x[v] > 0.5:
            p, rate = caps[(i, h, name)]
            out.append(
                Slot(
                    gpu=_gpu_label(h, j),
                    hardware=h,
                    tenant=tenants[i].name,
                    kind="mig",
                    label=p.name,
                    start=start,
                    share=p.memory_slices / 8.0,
                    requests_per_s_capacity=rate,
                )
            )
    return out, _count_used(used, sol), served, sol


def _count_used(used: dict[tuple[str, int], int], sol: Solution) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (h, _), u in used.items():
        if sol.x[u] > 0.5:
            counts[h] = counts.get(h, 0) + 1
    return counts


def _mps(
    tenants: Sequence[Tenant], pool: _Pool, engine: str | None, opts: MpsOptions, limit_s: float
) -> tuple[list[Slot], dict[str, int], set[str], Solution]:
    caps: dict[tuple[int, str, float], float] = {}
    for i, t in enumerate(tenants):
        for hw in pool.hws:
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
                cap = _capacity_on(t, shared, engine)
                if cap is not None:
                    caps[(i, hw.id, share)] = cap.requests_per_s
    served = {tenants[i].name for i, _, _ in caps}
    prog = IntegerProgram()
    used: dict[tuple[str, int], int] = {}
    y: dict[tuple[int, str, int, float], int] = {}
    for hw in pool.hws:
        for j in range(pool.size[hw.id]):
            u = prog.var(pool.price[hw.id].usd_per_hour, upper=1)
            used[(hw.id, j)] = u
            if j:
                prog.add({u: 1.0, used[(hw.id, j - 1)]: -1.0}, upper=0.0)
            row: dict[int, float] = {u: -1.0}
            for i, h, share in caps:
                if h != hw.id:
                    continue
                v = prog.var(1e-6 * share, upper=math.floor(1.0 / share + 1e-9))
                y[(i, hw.id, j, share)] = v
                row[v] = share
            prog.add(row, upper=1e-9)
    for i, t in enumerate(tenants):
        if t.name not in served:
            continue
        cover = {v: caps[(ii, h, share)] for (ii, h, _, share), v in y.items() if ii == i}
        prog.add(cover, lower=t.requests_per_s)
    sol = prog.solve(limit_s)
    out: list[Slot] = []
    if sol.status == "infeasible":
        return out, {}, served, sol
    for (i, h, j, share), v in y.items():
        for _ in range(round(float(sol.x[v]))):
            out.append(
                Slot(
                    gpu=_gpu_label(h, j),
                    hardware=h,
                    tenant=tenants[i].name,
                    kind="mps",
                    label=f"{share:.1%} of the GPU",
                    start=None,
                    share=share,
                    requests_per_s_capacity=caps[(i, h, share)],
                )
            )
    return out, _count_used(used, sol), served, sol


def swap_seconds(weights_bytes: float, host_link_gbps: float) -> float:
    """Seconds to move a model's weights onto the GPU over the host link (per direction)."""
    return weights_bytes / (host_link_gbps * 1e9)


def _timeshare(
    tenants: Sequence[Tenant],
    pool: _Pool,
    engine: str | None,
    opts: TimeshareOptions,
    limit_s: float,
) -> tuple[list[Slot], dict[str, int], set[str], Solution, list[str]]:
    busy: dict[tuple[int, str], tuple[float, float]] = {}  # (busy share, capacity)
    notes: list[str] = []
    for i, t in enumerate(tenants):
        for hw in pool.hws:
            link = opts.host_link_gbps
            if link is None:
                gpu = mig_gpu(hw.id)
                if gpu is None:
                    notes.append(
                        f"time-sharing on {hw.id}: host-link bandwidth unknown, give timeshare.host_link_gbps"
                    )
                    continue
                link = gpu.host_link_gbps
            cap = _capacity_on(t, hw, engine)
            if cap is None:
                continue
            if t.slo.ttft_ms is not None and opts.cycle_s * 1e3 + cap.ttft_ms_p99 > t.slo.ttft_ms:
                continue  # a request may wait a whole cycle
            swap = swap_seconds(cap.weights_bytes_per_chip, link)
            e2e_s = (cap.ttft_ms_p99 + (t.osl - 1) * cap.tpot_ms_p99) / 1e3
            share = max(
                t.requests_per_s / cap.requests_per_s + swap / opts.cycle_s,
                (e2e_s + swap) / opts.cycle_s,
            )
            if share <= 1.0:
                busy[(i, hw.id)] = (share, cap.requests_per_s)
    served = {tenants[i].name for i, _ in busy}
    prog = IntegerProgram()
    used: dict[tuple[str, int], int] = {}
    z: dict[tuple[int, str, int], int] = {}
    for hw in pool.hws:
        for j in range(pool.size[hw.id]):
            u = prog.var(pool.price[hw.id].usd_per_hour, upper=1)
            used[(hw.id, j)] = u
            if j:
                prog.add({u: 1.0, used[(hw.id, j - 1)]: -1.0}, upper=0.0)
            row: dict[int, float] = {u: -1.0}
            for (i, h), (share, _) in busy.items():
                if h == hw.id:
                    v = prog.var(0.0, upper=1)
                    z[(i, h, j)] = v
                    row[v] = share
            prog.add(row, upper=1e-9)
    for i, t in enumerate(tenants):
        if t.name in served:
            prog.add({v: 1.0 for (ii, _, _), v in z.items() if ii == i}, lower=1.0, upper=1.0)
    sol = prog.solve(limit_s)
    out: list[Slot] = []
    if sol.status != "infeasible":
        for (i, h, j), v in z.items():
            if sol.x[v] > 0.5:
                share, rate = busy[(i, h)]
                out.append(
                    Slot(
                        gpu=_gpu_label(h, j),
                        hardware=h,
                        tenant=tenants[i].name,
                        kind="timeshare",
                        label=f"busy {share:.1%} of each {opts.cycle_s:g} s cycle",
                        start=None,
                        share=share,
                        requests_per_s_capacity=rate,
                    )
                )
    return out, _count_used(used, sol) if sol.status != "infeasible" else {}, served, sol, notes


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
    for t in spec.models:
        spec_for(t.model, f"models[{t.name}].model")
    price = _prices(spec, hws)
    baseline = {t.name: _dedicated(t, hws, price, spec.engine) for t in spec.models}
    tick()
    base_gpus = sum(d.gpus for d in baseline.values())
    base_usd = sum(d.usd_per_hour for d in baseline.values())
    # tenants whose replica needs several GPUs stay dedicated in every form
    tenants = [t for t in spec.models if baseline[t.name].chips_per_replica == 1]
    size = {hw.id: _pool_size(tenants, hw, spec.engine) for hw in hws}
    pool = _Pool(hws, price, size)
    notes: list[str] = []
    results = []
    for mode in spec.modes:
        if mode == "mig":
            slots, used, served, sol = _mig(tenants, pool, spec.engine, spec.solver_time_limit_s)
        elif mode == "mps":
            slots, used, served, sol = _mps(
                tenants, pool, spec.engine, spec.mps, spec.solver_time_limit_s
            )
        else:
            slots, used, served, sol, extra = _timeshare(
                tenants, pool, spec.engine, spec.timeshare, spec.solver_time_limit_s
            )
            notes.extend(extra)
        results.append(
            _mode_result(
                mode, spec.models, slots, used, served, sol, baseline, price, base_gpus, base_usd
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
    "Slot",
    "Solution",
    "load_pack",
    "mig_gpu",
    "mig_gpus",
    "mig_profiles",
    "pack",
    "parse_pack",
    "swap_seconds",
]
