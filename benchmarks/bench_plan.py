"""Planner speed: the shipped 70B chat plan over 10 hardware types, every valid layout up to 8 chips
per replica, every weight format the engines serve on each chip (bf16, fp8, int8, int4, nvfp4,
mxfp4) × KV (bf16, fp8), five max_num_seqs, four chunk budgets, aggregated and disaggregated —
then simulator verification of the top 5 (rounds continue while a cheaper screened deployment is
unverified). Prints the points screened, the simulations run and the wall time of each stage.

Target: ≤ 10 s on 2 cores. Run: `.venv/bin/python benchmarks/bench_plan.py [WORKERS] [EXECUTOR]`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import yaml

from infercost.plan import plan
from infercost.plan.space import load_plan

EXAMPLE = Path(__file__).parents[1] / "examples" / "plan-chat-70b.yaml"
HARDWARE = [
    "h100-sxm",
    "h100-pcie",
    "h100-nvl",
    "h200",
    "gh200",
    "b200",
    "gb200",
    "a100-sxm-80gb",
    "a100-sxm-40gb",
    "mi300x",
]


def main(workers: int, executor: str) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["search"].update(
        {
            "hardware": HARDWARE,
            "weights": ["bf16", "fp8", "int8", "int4", "nvfp4", "mxfp4"],
            "kv": ["bf16", "fp8"],
            "max_chips_per_replica": 8,
            "max_num_seqs": [64, 128, 256, 512, 1024],
            "chunk": [2048, 4096, 8192, 16384],
            "modes": ["aggregated", "disaggregated"],
        }
    )
    data["verify"]["top"] = 5
    request = load_plan(data)
    start = time.perf_counter()
    result = plan(request, executor=executor, workers=workers)
    wall = time.perf_counter() - start
    r, t = result.result, result.timings_s
    best = r.best
    print(f"{r.model} at {r.load_rps:g} req/s, {r.targets}; {len(HARDWARE)} hardware types")
    print(
        f"screened {r.points_screened:,} points ({r.points_feasible:,} meet the SLO, "
        f"{r.deployments_feasible} deployments) in {t['screen']:.2f} s "
        f"= {r.points_screened / t['screen']:,.0f} points/s"
    )
    print(
        f"verified {sum(c.latency_source == 'simulated' for c in r.candidates)} deployments "
        f"with {r.simulations} simulations of {request.verify.duration_s:g} s each "
        f"in {t['verify']:.2f} s (exhaustive: {r.exhaustive})"
    )
    print(
        f"winner: {best.replicas} × {best.layout}, ${best.usd_per_hour:.2f}/hour, "
        f"p99 TTFT {best.ttft_ms_p99:.0f} ms, TPOT {best.tpot_ms_p99:.1f} ms"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"wall time: {wall:.2f} s on {workers} worker(s), executor {executor} "
        f"(target ≤ 10 s on 2 cores; 1-minute load average at the end {load:.2f})"
    )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 2,
        sys.argv[2] if len(sys.argv) > 2 else "local",
    )
