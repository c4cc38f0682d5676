"""`simulate`: a scenario (deployment, scheduler, cluster, workload) → request-level results.

This module only composes: the scenario builds replicas (`sim.scenario`, which asks `perf` for step
times and memory), `sim.loop` serves the workload, `sim.metrics` summarizes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infercost import catalog
from infercost.calibration.profile import CalibrationRef, efficiency_for
from infercost.sim.loop import RunResult, run
from infercost.sim.metrics import ReplicaCosting, request_table, summarize, timeline
from infercost.sim.request import RequestSpec
from infercost.sim.scenario import BuiltReplica, Scenario, build_cluster, load_scenario
from infercost.sim.workload import generate


@dataclass(frozen=True)
class Simulation:
    scenario: Scenario
    summary: dict[str, Any]
    result: RunResult
    price_sources: list[str]

    def requests(self) -> dict[str, np.ndarray[Any, Any]]:
        return request_table(self.result.requests)

    def timeline(self, bins: int = 200) -> dict[str, Any]:
        return timeline(self.result, bins)


def _rejecter(scenario: Scenario, built: list[BuiltReplica]) -> Callable[[RequestSpec], str | None]:
    first = built[0].replica
    max_len = scenario.scheduler.max_model_len
    capacity = min(b.replica.kv.capacity for b in built)
    budget = first.config.max_num_batched_tokens
    chunked = first.config.chunked_prefill and first.config.batching == "continuous"

    def reject(spec: RequestSpec) -> str | None:
        total = spec.prompt_tokens + spec.output_tokens
        if max_len is not None and total > max_len:
            return f"prompt + output {total} > max_model_len {max_len}"
        needed = first.kv.cost_for(0, first.kv.blocks_for(total))
        if needed > capacity:
            return f"needs {needed:.0f} KV blocks; a replica holds {capacity:.0f}"
        if not chunked and spec.prompt_tokens > budget:
            return f"prompt {spec.prompt_tokens} > max_num_batched_tokens {budget} without chunked prefill"
        return None

    return reject


def _costing(b: BuiltReplica) -> tuple[ReplicaCosting, str]:
    price = b.deployment.price_per_chip_hour
    source = "user input"
    if price is None:
        row = catalog.default_price(b.hardware.id)
        price = row.usd_per_chip_hour if row else None
        source = f"{row.provider}: {row.source} ({row.as_of or 'undated'})" if row else "no price"
    return (
        ReplicaCosting(
            chips=b.deployment.chips,
            usd_per_chip_hour=price,
            peak_flops=b.peak_flops,
            memory_bw=b.memory_bw,
        ),
        f"{b.hardware.id}: {source}",
    )


def simulate(
    scenario: Scenario | str | Path | dict[str, Any],
    *,
    seed: int | None = None,
    on_done: Callable[[int], None] | None = None,
    calibration: CalibrationRef | None = None,
) -> Simulation:
    """Serve the scenario's workload on its cluster, request by request, step by step.

    `calibration` (a profile or its YAML path, from `infercost calibrate`) replaces the shipped
    efficiency for the calibrated hardware family."""
    spec = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    model = catalog.model(spec.model)
    efficiency = efficiency_for(calibration) if calibration is not None else None
    cluster, built = build_cluster(spec, model, efficiency)
    workload = spec.workload
    requests = generate(workload, seed=seed)
    result = run(
        cluster,
        requests,
        closed_concurrency=workload.concurrency,
        closed_think_s=workload.closed_think_s,
        closed_until_s=workload.duration_s,
        reject=_rejecter(spec, built),
        on_done=on_done,
    )
    costing = [_costing(b) for b in built]
    slos = dict(workload.slos)
    if spec.slo is not None:
        for c in workload.classes:
            slos.setdefault(c.name, spec.slo)
    summary = summarize(result, [c for c, _ in costing], slos)
    return Simulation(
        scenario=spec,
        summary=summary,
        result=result,
        price_sources=sorted({s for _, s in costing}),
    )


__all__ = ["Simulation", "simulate"]
