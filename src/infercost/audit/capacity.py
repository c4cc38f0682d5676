"""What the performance model says the audited deployment could do at the observed lengths.

A replica is the model on `tp × pp` chips of the hardware, with the efficiency of the shipped profile
or of a calibration. Its attainable output throughput is the continuous-batching steady state
(`perf.steady.continuous`) at the most sequences it can hold: the engine's batch limit, or fewer when
the KV cache of sequences of the observed lengths does not fit (`perf.memory.memory_plan`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from infercost import catalog
from infercost.calibration.profile import CalibrationRef, efficiency_for
from infercost.errors import InfercostError
from infercost.perf.efficiency import EfficiencyProfile
from infercost.perf.figures import check_layout, resolve_parallelism
from infercost.perf.memory import memory_plan
from infercost.perf.resources import Layout, Resources, resources_for
from infercost.perf.steady import BatchRun, continuous
from infercost.perf.step import decode_micro_batch, step_time
from infercost.specs.engine import ENGINE_NAMES
from infercost.specs.hardware import Hardware
from infercost.specs.model import ModelSpec
from infercost.specs.parallelism import Parallelism
from infercost.specs.precision import Precision


@dataclass(frozen=True)
class ReplicaModel:
    """One replica of the audited deployment, resolved for the performance model."""

    model: ModelSpec
    hardware: Hardware
    precision: Precision
    parallelism: Parallelism
    engine: str | None
    resources: Resources
    batch_limit: int  # the engine's max_num_seqs (given, or its catalog default)
    token_budget: int  # max_num_batched_tokens
    memory_utilization: float
    profile: EfficiencyProfile  # shipped, or a calibration's

    @property
    def chips(self) -> int:
        return self.parallelism.chips

    @property
    def layout(self) -> Layout:
        return Layout.of(self.parallelism)

    def on(self, hardware: Hardware) -> ReplicaModel:
        """The same replica on other hardware (a MIG slice of the same family keeps a calibration)."""
        eff = self.profile.resolve(hardware.family, self.engine)
        return replace(
            self, hardware=hardware, resources=resources_for(hardware, self.precision, eff)
        )

    def with_weights(self, weights: str) -> ReplicaModel:
        """The same replica with another weight format (KV format unchanged)."""
        precision = catalog.precision(weights, self.precision.kv.id)
        eff = self.profile.resolve(self.hardware.family, self.engine)
        return replace(
            self, precision=precision, resources=resources_for(self.hardware, precision, eff)
        )

    def max_sequences(self, isl: float, osl: float) -> int:
        """Sequences of isl + osl tokens whose KV cache fits beside the weights (0: none)."""
        plan = memory_plan(
            self.model,
            self.resources,
            self.layout,
            context=isl + osl,
            memory_utilization=self.memory_utilization,
            max_batched_tokens=self.token_budget,
        )
        seqs = float(plan.max_concurrent_sequences)
        return int(min(seqs, 2**31)) if np.isfinite(seqs) and float(plan.kv_free_bytes) > 0 else 0

    def fits(self) -> bool:
        return self.max_sequences(1, 1) > 0

    def steady(self, concurrency: float, isl: float, osl: float) -> BatchRun:
        """Continuous batching with `concurrency` sequences in flight at these mean lengths."""
        return continuous(
            self.model,
            self.resources,
            self.layout,
            concurrency=max(concurrency, 1.0),
            isl=max(isl, 1.0),
            osl=max(osl, 1.0),
            budget=self.token_budget,
        )

    def holdable_batch(self, isl: float, osl: float) -> int:
        """The most sequences this replica runs at once: engine limit or KV memory, the smaller."""
        return min(self.batch_limit, self.max_sequences(isl, osl))

    def attainable_tps(self, isl: float, osl: float, batch: int | None = None) -> float:
        """Output tokens/s of one replica at `batch` (default: all it can hold)."""
        b = batch if batch is not None else self.holdable_batch(isl, osl)
        if b < 1:
            return 0.0
        return float(self.steady(b, isl, osl).output_tps)

    def prefill_share(self, concurrency: float, isl: float, osl: float) -> float:
        """Share of the steady-state step spent on prompts (what prefix-cache hits could save)."""
        run = self.steady(concurrency, isl, osl)
        micro = decode_micro_batch(max(concurrency, 1.0), self.layout.pp)
        decode_only = step_time(
            self.model,
            self.resources,
            self.layout,
            decode_seqs=micro,
            decode_context=isl + osl / 2.0,
        )
        mixed = float(run.tpot_s)
        return max(0.0, 1.0 - float(decode_only.total) / mixed) if mixed > 0 else 0.0


def replica_model(
    model: str | ModelSpec,
    hardware: str | Hardware,
    *,
    tp: int | None = None,
    pp: int | None = None,
    weights: str | None = None,
    kv: str | None = None,
    engine: str | None = "vllm",
    max_num_seqs: int | None = None,
    max_num_batched_tokens: int | None = None,
    calibration: CalibrationRef | None = None,
) -> ReplicaModel:
    if engine is not None and engine not in ENGINE_NAMES:
        raise InfercostError("engine", engine, f"allowed: {' '.join(ENGINE_NAMES)}")
    for name, value in (
        ("max_num_seqs", max_num_seqs),
        ("max_num_batched_tokens", max_num_batched_tokens),
    ):
        if value is not None and value < 1:
            raise InfercostError(name, value, "a whole number ≥ 1")
    spec = catalog.model(model) if isinstance(model, str) else model
    hw = catalog.hardware(hardware) if isinstance(hardware, str) else hardware
    parallelism = resolve_parallelism(spec, None, tp, pp, None, None)
    check_layout(spec, parallelism)
    precision = catalog.precision(weights or spec.native_weights, kv)
    profile = efficiency_for(calibration)
    eng = catalog.engine(engine)
    return ReplicaModel(
        model=spec,
        hardware=hw,
        precision=precision,
        parallelism=parallelism,
        engine=engine,
        resources=resources_for(hw, precision, profile.resolve(hw.family, engine)),
        batch_limit=max_num_seqs or eng.batch_limit,
        token_budget=max_num_batched_tokens or eng.token_budget,
        memory_utilization=eng.memory_utilization or 0.9,
        profile=profile,
    )
