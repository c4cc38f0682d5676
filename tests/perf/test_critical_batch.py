"""The critical batch (bracketed search) equals the first compute-bound batch found by brute force."""

from __future__ import annotations

import numpy as np
import pytest

from infercost import catalog
from infercost.perf.efficiency import shipped_profile
from infercost.perf.figures import critical_batch
from infercost.perf.resources import Layout, at_peak, resources_for
from infercost.perf.step import step_time
from infercost.specs.parallelism import Parallelism


@pytest.mark.parametrize(
    ("model_id", "hardware_id", "tp", "weights"),
    [
        ("llama-3.1-70b", "h100-sxm", 4, "bf16"),  # dense
        ("deepseek-v3", "h200", 8, "fp8"),  # MoE: experts touched grow with the batch
        ("qwen3-30b-a3b", "h100-sxm", 1, "bf16"),
        ("llama-3.1-8b", "rtx-4090", 1, "q4_k_m"),
    ],
)
def test_critical_batch_is_the_first_compute_bound_batch(
    model_id: str, hardware_id: str, tp: int, weights: str
) -> None:
    model = catalog.model(model_id)
    hw = catalog.hardware(hardware_id)
    res = resources_for(hw, catalog.precision(weights), shipped_profile().resolve(hw.family, None))
    layout = Layout.of(Parallelism(tp=tp))
    batch = np.arange(1, (1 << 16) + 1, dtype=float)
    ideal = at_peak(res)
    step = step_time(model, ideal, layout, decode_seqs=batch, decode_context=0)
    bound = step.flops_per_chip / ideal.linear_flops >= step.weight_bytes_per_chip / ideal.memory_bw
    assert critical_batch(model, res, layout) == float(batch[np.nonzero(bound)[0][0]])


def test_remembered_critical_batch_matches_and_tells_deployments_apart() -> None:
    """The memo answers a repeated deployment from memory (its rates include a nan: unknown SRAM
    bandwidth) and never mixes up two deployments or two precisions."""
    from infercost.perf import figures

    model = catalog.model("llama-3.1-70b")
    hw = catalog.hardware("h100-sxm")
    efficiency = shipped_profile().resolve(hw.family, None)
    cases = [
        (resources_for(hw, catalog.precision(w), efficiency), Layout.of(Parallelism(tp=tp)))
        for w in ("bf16", "fp8")
        for tp in (4, 8)
    ]
    first = [figures.memo_critical_batch(model, res, layout) for res, layout in cases]
    size = len(figures._CRITICAL_BATCHES)
    again = [figures.memo_critical_batch(model, res, layout) for res, layout in cases]
    assert first == again == [critical_batch(model, res, layout) for res, layout in cases]
    assert len(set(first)) > 1
    assert len(figures._CRITICAL_BATCHES) == size
