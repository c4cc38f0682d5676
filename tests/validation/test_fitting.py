"""Calibration: a fit recovers the efficiency that generated synthetic measurements."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import pytest

from infercost.perf.efficiency import Efficiency, EfficiencyProfile
from infercost.validation.fitting import fit, log_errors
from infercost.validation.predict import Prepared, predict, prepare
from infercost.validation.rows import Row

TRUE = EfficiencyProfile(
    version="truth",
    source="test",
    as_of=None,
    default=Efficiency(step_overhead_ms=2.0),
    families={"hopper": {"compute": 0.5, "memory": 0.7}},
)


def synthetic_rows() -> list[Row]:
    """Single-stream decode (memory-bound) and long prefills (compute-bound) on H100 and H200."""
    rows = []
    for i, (model, hw, metric, isl, osl) in enumerate(
        [
            ("llama-3.1-8b", "h100-sxm", "tpot_ms", 128, 256),
            ("llama-3.1-8b", "h200", "tpot_ms", 1024, 256),
            ("llama-3.1-70b", "h200", "tpot_ms", 2048, 128),
            ("qwen3-32b", "h100-sxm", "tpot_ms", 512, 512),
            ("llama-3.1-8b", "h100-sxm", "ttft_ms", 8000, 1),
            ("llama-3.1-8b", "h200", "ttft_ms", 4000, 1),
            ("qwen3-32b", "h200", "ttft_ms", 6000, 1),
            ("llama-3.1-70b", "h200", "ttft_ms", 8000, 1),
        ]
    ):
        chips = 2 if model == "llama-3.1-70b" else 1
        base = Row(
            id=f"S{i}",
            source=f"synthetic-{i % 3}",
            model=model,
            hardware=hw,
            chips=chips,
            weights="bf16",
            kv=None,
            tp=chips,
            pp=1,
            ep=None,
            engine="vllm",
            isl=isl,
            osl=osl,
            concurrency=1,
            scenario="single-stream",
            slo_ttft_ms=None,
            slo_tpot_ms=None,
            metric=metric,
            value=1.0,
        )
        p = prepare(base)
        truth = predict(p, TRUE.resolve("hopper", "vllm"), TRUE.queueing).value
        rows.append(replace(base, value=truth))
    return rows


START = EfficiencyProfile(version="start", source="test", as_of=None, default=Efficiency())


@pytest.fixture(scope="module")
def prepared() -> list[Prepared]:
    return [prepare(r) for r in synthetic_rows()]


@pytest.fixture(scope="module")
def fitted(prepared: list[Prepared]) -> EfficiencyProfile:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fit(prepared, START)


def test_fit_recovers_generating_efficiency(prepared, fitted):  # type: ignore[no-untyped-def]
    before = np.abs(log_errors(prepared, START))
    after = np.abs(log_errors(prepared, fitted))
    assert np.median(after) < 0.25 * np.median(before)
    assert np.max(after) < math.log(1.05)
    hopper = fitted.families["hopper"]
    assert hopper["memory"] == pytest.approx(0.7, abs=0.07)
    assert hopper["compute"] == pytest.approx(0.5, abs=0.1)


def test_family_without_data_is_predicted_at_the_pooled_level(fitted):  # type: ignore[no-untyped-def]
    """Hopper's bandwidth fraction (truth 0.7) pulls the shared level down from its 0.8 prior, and
    a family the fit never saw (Ampere) is predicted at that level, not at the fixed prior."""
    hopper = fitted.families["hopper"]["memory"]
    shared = fitted.default.memory
    assert hopper < shared < Efficiency().memory
    assert "ampere" not in fitted.families
    assert fitted.resolve("ampere").memory == pytest.approx(shared)
