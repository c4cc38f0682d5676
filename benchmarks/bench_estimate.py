"""Configuration points per second of the vectorized decode-step model, on one core.

A point is one (hardware, tensor-parallel degree, batch, context) decode step with its full breakdown.
Run: `make bench` or `.venv/bin/python benchmarks/bench_estimate.py`.
"""

from __future__ import annotations

import time

import numpy as np

from infercost import catalog
from infercost.perf.efficiency import shipped_profile
from infercost.perf.resources import Layout, resources_for
from infercost.perf.step import step_time


def usable_hardware(precision):  # type: ignore[no-untyped-def]
    """Catalog chips with every number the model needs."""
    out = []
    for hw in catalog.all_hardware():
        if hw.memory_bw_gbps and hw.memory_gb and hw.scale_up.bw_gbps:
            try:
                precision.compute_key(hw)
            except ValueError:
                continue
            out.append(hw)
    return out


def bench(model_id: str, repeats: int = 3) -> None:
    model = catalog.model(model_id)
    precision = catalog.precision("bf16")
    hws = usable_hardware(precision)
    profile = shipped_profile()
    res = resources_for(hws, precision, [profile.resolve(h.family) for h in hws])
    res = type(res)(
        **{
            k: (v[:, None, None, None] if isinstance(v, np.ndarray) else v)
            for k, v in vars(res).items()
        }
    )
    tp = np.array([1.0, 2.0, 4.0, 8.0])[None, :, None, None]
    batch = np.unique(np.geomspace(1, 1024, 128).round())[None, None, :, None]
    context = np.linspace(128, 131072, 128)[None, None, None, :]
    layout = Layout.grid(tp=tp)
    points = len(hws) * tp.size * batch.size * context.size
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step = step_time(model, res, layout, decode_seqs=batch, decode_context=context)
        total = step.total
        best = min(best, time.perf_counter() - start)
    assert total.size == points
    print(
        f"{model_id:>16}: {points:,} decode points ({len(hws)} chips × {tp.size} TP × {batch.size} "
        f"batches × {context.size} contexts) in {best * 1e3:,.0f} ms → {points / best:,.0f} points/s"
    )


if __name__ == "__main__":
    for model_id in ("llama-3.1-70b", "mixtral-8x7b", "deepseek-v3"):
        bench(model_id)
