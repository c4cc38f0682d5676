"""Simulator speed: 100,000 requests of Llama-3.1-8B on one H100 at 80 % of capacity, on one core.

Capacity is the analytical continuous-batching throughput at the engine's batch limit for the mean
lengths (requests/s = output tokens/s ÷ mean output length); arrivals are Poisson at 80 % of it,
prompt and output lengths lognormal. Prints wall time and simulated requests per second.
Run: `.venv/bin/python benchmarks/bench_sim.py [REQUESTS]`.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from infercost import catalog
from infercost.perf.efficiency import shipped_profile
from infercost.perf.resources import Layout, resources_for
from infercost.perf.steady import continuous
from infercost.simulation import simulate
from infercost.specs.parallelism import Parallelism

MODEL, HARDWARE, SEQS = "llama-3.1-8b", "h100-sxm", 256
PROMPT = {"kind": "lognormal", "median": 600, "sigma": 0.8, "max": 8000}
OUTPUT = {"kind": "lognormal", "median": 180, "sigma": 0.7, "max": 2000}


def lognormal_mean(spec: dict[str, float]) -> float:
    return float(spec["median"] * np.exp(spec["sigma"] ** 2 / 2))


def capacity_rps() -> float:
    model, hw = catalog.model(MODEL), catalog.hardware(HARDWARE)
    res = resources_for(hw, catalog.precision("bf16"), shipped_profile().resolve(hw.family, "vllm"))
    osl = lognormal_mean(OUTPUT)
    run = continuous(
        model, res, Layout.of(Parallelism()), concurrency=SEQS, isl=lognormal_mean(PROMPT), osl=osl
    )
    return float(run.output_tps) / osl


def main(requests: int) -> None:
    rate = 0.8 * capacity_rps()
    scenario = {
        "name": "bench",
        "model": MODEL,
        "deployment": {"hardware": HARDWARE, "engine": "vllm"},
        "scheduler": {"max_num_seqs": SEQS, "max_num_batched_tokens": 8192},
        "workload": {
            "arrival": {"kind": "poisson", "rate_rps": rate},
            "requests": requests,
            "classes": [{"prompt": PROMPT, "output": OUTPUT}],
        },
    }
    start = time.perf_counter()
    sim = simulate(scenario)
    wall = time.perf_counter() - start
    s = sim.summary
    print(f"{requests} requests at {rate:.1f} req/s (80 % of {rate / 0.8:.1f}) on 1× {HARDWARE}")
    print(f"engine steps: {len(sim.result.steps.seconds)}; simulated {s['duration_s']:.0f} s")
    print(f"wall time: {wall:.2f} s; {requests / wall:,.0f} simulated requests/s")
    print(
        f"TTFT p99 {s['ttft_ms_p99']:.0f} ms, TPOT p50 {s['tpot_ms_p50']:.1f} ms, "
        f"{s['output_tps']:.0f} output tokens/s, KV occupancy {s['kv_occupancy_mean']:.0%}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
