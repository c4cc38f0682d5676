"""Shared fixtures: catalog specs and resources built the way `estimate` builds them."""

from __future__ import annotations

import pytest

from infercost import catalog
from infercost.perf.efficiency import Efficiency
from infercost.perf.resources import Resources, at_peak, resources_for


def make_resources(
    model_id: str, hardware_id: str, weights: str | None = None, kv: str | None = None
) -> Resources:
    spec = catalog.model(model_id)
    return resources_for(
        catalog.hardware(hardware_id),
        catalog.precision(weights or spec.native_weights, kv),
        Efficiency(),
    )


def ideal(res: Resources) -> Resources:
    """Peak rates, no fixed costs: the pure roofline."""
    return at_peak(res)


@pytest.fixture(scope="session")
def llama8b():  # type: ignore[no-untyped-def]
    return catalog.model("llama-3.1-8b")


@pytest.fixture(scope="session")
def llama70b():  # type: ignore[no-untyped-def]
    return catalog.model("llama-3.1-70b")


# one row of the validation schema (validation/README.md): Llama-3.1-8B single-stream TPOT on an H100
VALIDATION_ROW = {
    "id": "T1",
    "source": "test",
    "model": "llama-3.1-8b",
    "hardware": "h100-sxm",
    "chips": "1",
    "weights": "bf16",
    "kv": "",
    "tp": "1",
    "pp": "1",
    "ep": "",
    "engine": "vllm",
    "isl": "128",
    "osl": "128",
    "concurrency": "1",
    "scenario": "single-stream",
    "slo_ttft_ms": "",
    "slo_tpot_ms": "",
    "metric": "tpot_ms",
    "value": "7.0",
    "notes": "",
}
