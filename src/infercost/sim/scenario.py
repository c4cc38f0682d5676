"""Scenario files: what is served (model, deployment, scheduler, cluster) and the workload.

```yaml
name: chat
model: llama-3.1-8b
deployment: {hardware: h100-sxm, tp: 1, engine: vllm}     # weights/kv default to the model's
scheduler: {batching: continuous, max_num_seqs: 256, chunked_prefill: true, prefix_caching: true}
cluster:                                                   # optional; default one replica
  router: least-outstanding
  groups:                                                  # heterogeneous or disaggregated pools
    - {count: 1, role: prefill}
    - {count: 2, role: decode, deployment: {hardware: h200}}
slo: {ttft_ms: 500, tpot_ms: 50}                           # for classes without their own
workload: {...}                                            # see infercost.sim.workload
```

Scheduler limits left out come from the engine's catalog defaults (`catalog/data/engines.yaml`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from infercost import catalog
from infercost.errors import InfercostError
from infercost.perf.efficiency import EfficiencyProfile, shipped_profile
from infercost.perf.figures import check_layout
from infercost.perf.memory import kv_bytes_per_sequence_per_chip, memory_plan
from infercost.perf.resources import Layout, resources_for
from infercost.perf.step_table import StepTable
from infercost.sim.kv_cache import KVCache
from infercost.sim.loop import ROUTERS, Cluster
from infercost.sim.replica import Replica, Role, SchedulerConfig
from infercost.sim.workload import SLO, WorkloadSpec
from infercost.specs.engine import ENGINE_NAMES
from infercost.specs.hardware import Hardware
from infercost.specs.model import Frozen, ModelSpec
from infercost.specs.parallelism import Parallelism


class Deployment(Frozen):
    hardware: str
    tp: int = Field(1, ge=1)
    pp: int = Field(1, ge=1)
    dp: int = Field(1, ge=1)
    ep: int = Field(1, ge=1)
    weights: str | None = None
    kv: str | None = None
    engine: str | None = "vllm"
    price_per_chip_hour: float | None = Field(None, ge=0)

    @property
    def chips(self) -> int:
        return self.tp * self.pp * self.dp


class Scheduler(Frozen):
    batching: Literal["continuous", "static", "dynamic"] = "continuous"
    max_num_seqs: int | None = Field(None, ge=1)
    max_num_batched_tokens: int | None = Field(None, ge=1)
    chunked_prefill: bool = True
    policy: Literal["decode-first", "prefill-first"] = "decode-first"
    preemption: Literal["recompute", "swap"] = "recompute"
    swap_gbps: float | None = Field(None, gt=0)  # host link; the catalog has no sourced figure
    block_size: int = Field(16, ge=1, le=1024)
    prefix_caching: bool = True
    memory_utilization: float | None = Field(None, gt=0, le=1)
    batch_size: int = Field(8, ge=1)
    max_wait_ms: float | None = Field(None, ge=0)
    max_model_len: int | None = Field(None, ge=2)

    @model_validator(mode="after")
    def _swap_needs_link(self) -> Scheduler:
        if self.preemption == "swap" and self.swap_gbps is None:
            raise InfercostError(
                "scheduler.swap_gbps", None, "required with preemption: swap (host link GB/s)"
            )
        return self


class ReplicaGroup(Frozen):
    count: int = Field(1, ge=1)
    role: Role = "both"
    deployment: dict[str, Any] = {}  # fields overriding the scenario's deployment


class ClusterSpec(Frozen):
    replicas: int = Field(1, ge=1)
    router: Literal["round-robin", "least-outstanding", "least-kv", "affinity"] = (
        "least-outstanding"
    )
    groups: tuple[ReplicaGroup, ...] = ()
    transfer_gbps: float | None = Field(None, gt=0)  # prefill → decode KV link per replica

    @model_validator(mode="after")
    def _pools(self) -> ClusterSpec:
        roles = {g.role for g in self.groups}
        if ("prefill" in roles) != ("decode" in roles):
            raise InfercostError(
                "cluster.groups",
                sorted(roles),
                "disaggregation needs both a prefill and a decode group",
            )
        return self

    def replica_groups(self) -> tuple[ReplicaGroup, ...]:
        return self.groups or (ReplicaGroup(count=self.replicas),)


class Scenario(Frozen):
    name: str = "scenario"
    model: str
    deployment: Deployment
    scheduler: Scheduler = Scheduler()
    cluster: ClusterSpec = ClusterSpec()
    slo: SLO | None = None
    workload: WorkloadSpec


def _field_path(err: ValidationError) -> tuple[str, Any, str]:
    first = err.errors()[0]
    path = ".".join(str(p) for p in first["loc"])
    return path, first.get("input"), first["msg"].removeprefix("Value error, ")


def load_scenario(source: str | Path | dict[str, Any]) -> Scenario:
    """A validated `Scenario` from a YAML file or a mapping; mistakes are one-line errors."""
    base = Path(".")
    data: Any = source
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise InfercostError(
                "scenario", str(path), f"cannot be read ({err.strerror})"
            ) from None
        except yaml.YAMLError as err:
            raise InfercostError("scenario", str(path), f"is not valid YAML ({err})") from None
        base = path.parent
    if not isinstance(data, dict):
        raise InfercostError(
            "scenario", type(data).__name__, "a mapping with model, deployment, workload"
        )
    try:
        return Scenario.model_validate(data, context={"base_dir": base})
    except ValidationError as err:
        field, value, allowed = _field_path(err)
        raise InfercostError(field, value, allowed) from None


def _scheduler_config(s: Scheduler, engine_id: str | None) -> SchedulerConfig:
    engine = catalog.engine(engine_id) if engine_id else None
    seqs = s.max_num_seqs or (engine.batch_limit if engine else 256)
    budget = s.max_num_batched_tokens or (engine.token_budget if engine else 8192)
    if budget < seqs and s.batching == "continuous":
        raise InfercostError(
            "scheduler.max_num_batched_tokens", budget, f"must be ≥ max_num_seqs ({seqs})"
        )
    return SchedulerConfig(
        batching=s.batching,
        max_num_seqs=seqs,
        max_num_batched_tokens=budget,
        chunked_prefill=s.chunked_prefill,
        policy=s.policy,
        preemption=s.preemption,
        swap_bytes_per_s=s.swap_gbps * 1e9 if s.swap_gbps else None,
        batch_size=s.batch_size,
        max_wait_s=s.max_wait_ms / 1e3 if s.max_wait_ms is not None else None,
    )


class BuiltReplica:
    """A replica with what the metrics need to know about its hardware and price."""

    def __init__(
        self,
        replica: Replica,
        hardware: Hardware,
        deployment: Deployment,
        *,
        peak_flops: float,
        memory_bw: float,
    ) -> None:
        self.replica = replica
        self.hardware = hardware
        self.deployment = deployment
        self.peak_flops = peak_flops
        self.memory_bw = memory_bw


def build_replica(
    index: int,
    model: ModelSpec,
    deployment: Deployment,
    scheduler: Scheduler,
    role: Role,
    tables: dict[Deployment, StepTable],
    efficiency: EfficiencyProfile | None = None,
) -> BuiltReplica:
    if deployment.engine is not None and deployment.engine not in ENGINE_NAMES:
        raise InfercostError(
            "deployment.engine", deployment.engine, f"allowed: {' '.join(ENGINE_NAMES)}"
        )
    hw = catalog.hardware(deployment.hardware)
    parallel = Parallelism(tp=deployment.tp, pp=deployment.pp, dp=deployment.dp, ep=deployment.ep)
    check_layout(model, parallel)
    precision = catalog.precision(deployment.weights or model.native_weights, deployment.kv)
    profile = efficiency or shipped_profile()
    res = resources_for(hw, precision, profile.resolve(hw.family, deployment.engine))
    layout = Layout.of(parallel)
    config = _scheduler_config(scheduler, deployment.engine)
    engine = catalog.engine(deployment.engine) if deployment.engine else None
    utilization = scheduler.memory_utilization or (
        engine.memory_utilization if engine and engine.memory_utilization else 0.9
    )
    max_len = scheduler.max_model_len or model.max_context or 131072
    plan = memory_plan(
        model,
        res,
        layout,
        context=max_len,
        memory_utilization=utilization,
        max_batched_tokens=config.max_num_batched_tokens,
    )
    free = float(plan.kv_free_bytes)
    if free <= 0:
        raise InfercostError(
            "deployment",
            f"{model.id} on {deployment.chips}× {hw.id}",
            f"does not fit: weights {float(plan.weights_bytes) / 1e9:.1f} GB per chip leave "
            f"{free / 1e9:.1f} GB for the KV cache",
        )
    bs = scheduler.block_size
    # per chip: bytes one more token adds beyond every window, and inside them
    far = max_len + 1.0
    beyond = float(
        kv_bytes_per_sequence_per_chip(model, res, layout, far + 1)
        - kv_bytes_per_sequence_per_chip(model, res, layout, far)
    )
    inside = float(
        kv_bytes_per_sequence_per_chip(model, res, layout, 2.0)
        - kv_bytes_per_sequence_per_chip(model, res, layout, 1.0)
    )
    windows = [g.attention.window for g in model.layers if g.attention.window]
    unit = beyond if beyond > 0 else inside
    window_blocks = -(-max(windows) // bs) + 1 if windows and beyond > 0 else None
    kv = KVCache(
        free / (unit * bs) * deployment.dp,
        bs,
        window_blocks=window_blocks,
        window_share=(inside - beyond) / unit if window_blocks else 0.0,
        prefix_caching=scheduler.prefix_caching,
    )
    if deployment not in tables:
        tables[deployment] = StepTable(
            model,
            res,
            layout,
            max_seqs=config.max_num_seqs if config.batching == "continuous" else config.batch_size,
            max_step_tokens=config.max_num_batched_tokens,
            max_context=max_len,
        )
    replica = Replica(
        index,
        tables[deployment],
        kv,
        config,
        role=role,
        kv_bytes_per_block=model.kv_bytes_per_token(precision.kv.bytes_per_element) * bs,
    )
    return BuiltReplica(
        replica,
        hw,
        deployment,
        peak_flops=float(res.linear_flops),
        memory_bw=float(res.memory_bw),
    )


def build_cluster(
    scenario: Scenario, model: ModelSpec, efficiency: EfficiencyProfile | None = None
) -> tuple[Cluster, list[BuiltReplica]]:
    """Every replica of the scenario; `efficiency` replaces the shipped profile (a calibration)."""
    tables: dict[Deployment, StepTable] = {}
    built: list[BuiltReplica] = []
    for group in scenario.cluster.replica_groups():
        try:
            deployment = scenario.deployment.model_copy(update=group.deployment)
            deployment = Deployment.model_validate(deployment.model_dump())
        except ValidationError as err:
            field, value, allowed = _field_path(err)
            raise InfercostError(f"cluster.groups.deployment.{field}", value, allowed) from None
        for _ in range(group.count):
            built.append(
                build_replica(
                    len(built),
                    model,
                    deployment,
                    scenario.scheduler,
                    group.role,
                    tables,
                    efficiency,
                )
            )
    transfer = scenario.cluster.transfer_gbps
    if transfer is not None:
        link = transfer * 1e9
    else:  # every prefill chip sends its shard over its own scale-out link
        first = next((b for b in built if b.replica.role == "prefill"), built[0])
        per_chip = first.hardware.scale_out_bytes_per_s or first.hardware.scale_up_bytes_per_s
        link = (per_chip or float("inf")) * first.deployment.chips
    if any(b.replica.role == "prefill" for b in built) and link == float("inf"):
        raise InfercostError(
            "cluster.transfer_gbps",
            None,
            "required: the catalog has no link bandwidth for this hardware",
        )
    cluster = Cluster(
        replicas=[b.replica for b in built],
        router=scenario.cluster.router,
        transfer_bytes_per_s=link,
    )
    assert scenario.cluster.router in ROUTERS
    return cluster, built
