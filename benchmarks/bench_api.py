"""HTTP API load: N POST /api/estimate requests at C concurrent against a real uvicorn server.

Starts `infercost serve` on a free loopback port in a subprocess, waits for /api/health, then
sends the requests from C asyncio workers (aiohttp, a keep-alive pool of C connections) and prints
requests/s, latency percentiles and errors. The client shares the machine's cores with the server.

    python benchmarks/bench_api.py                   # 2,000 requests, 50 concurrent, calculator mix
    python benchmarks/bench_api.py --unique          # every request different: no result cache hits
    python benchmarks/bench_api.py --warm            # each distinct request sent once beforehand
    python benchmarks/bench_api.py --requests 5000 --concurrency 100

Mixes: `calculator` draws each request from 120 model × hardware × batch × prompt combinations
(people comparing a handful of set-ups, so repeats hit the server's estimate cache); `--unique`
gives every request its own batch and prompt length, so each one is computed afresh. `--warm` sends
each distinct request once before the clock starts: what is left is the HTTP path itself.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import random
import socket
import subprocess
import sys
import time
from typing import Any

import aiohttp
import httpx
import numpy as np

MODELS = [
    ("llama-3.1-8b", None),
    ("qwen3-8b", None),
    ("mistral-7b", None),
    ("llama-3.1-70b", 4),
    ("mixtral-8x7b", 2),
]
HARDWARE = ["h100-sxm", "h200", "b200"]
BATCHES = [1, 8, 32, 64]
PROMPTS = [1024, 4096]


def calculator_mix(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        model, tp = rng.choice(MODELS)
        body: dict[str, Any] = {
            "model": model,
            "hardware": rng.choice(HARDWARE),
            "batch": rng.choice(BATCHES),
            "isl": rng.choice(PROMPTS),
            "osl": 256,
        }
        if tp:
            body["tp"] = tp
        out.append(body)
    return out


def unique_mix(n: int) -> list[dict[str, Any]]:
    """Every request different (batch 1..64 × prompt length), so nothing comes from the cache."""
    return [
        {
            "model": "llama-3.1-8b",
            "hardware": "h100-sxm",
            "batch": 1 + i % 64,
            "isl": 512 + i // 64,
            "osl": 256,
        }
        for i in range(n)
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_stack() -> str:
    """The event loop and HTTP parser uvicorn picks (its `auto`: the C ones when installed)."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{loop} + {http}"


def start_server(port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "infercost.cli", "serve", "--port", str(port)]
    cmd += ["--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError(
                f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
    proc.kill()
    raise RuntimeError("server did not answer /api/health within 60 s")


async def run(url: str, bodies: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    """The requests from `concurrency` workers sharing one keep-alive connection pool of that size.

    The client is aiohttp: it shares the cores with the server, and httpx spent about as much CPU
    per request as the server did, which measured the client as much as the server."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:

        async def ping() -> None:
            async with session.get("/api/health") as response:
                await response.read()

        await asyncio.gather(*(ping() for _ in range(concurrency)))  # open every connection first

        async def worker() -> None:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                try:
                    async with session.post("/api/estimate", json=body) as response:
                        await response.read()
                        ok = response.status == 200
                        kind = f"HTTP {response.status}"
                except aiohttp.ClientError as err:
                    ok, kind = False, type(err).__name__
                latencies.append(time.perf_counter() - start)
                if not ok:
                    errors[kind] = errors.get(kind, 0) + 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    lat = np.array(latencies) * 1e3
    return {
        "requests": len(latencies),
        "wall_s": wall,
        "rps": len(latencies) / wall,
        "p50_ms": float(np.percentile(lat, 50)),
        "p90_ms": float(np.percentile(lat, 90)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--unique", action="store_true", help="no two requests alike")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warm", action="store_true", help="send each distinct request first")
    args = parser.parse_args()

    bodies = unique_mix(args.requests) if args.unique else calculator_mix(args.requests, args.seed)
    distinct = len({tuple(sorted(b.items())) for b in bodies})
    port = free_port()
    server = start_server(port)
    url = f"http://127.0.0.1:{port}"
    try:
        if args.warm:
            firsts = list({tuple(sorted(b.items())): b for b in bodies}.values())
            asyncio.run(run(url, firsts, 1))
        result = asyncio.run(run(url, bodies, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)
    mix = ("unique" if args.unique else "calculator") + (", warmed" if args.warm else "")
    print(
        f"POST /api/estimate: {result['requests']} requests ({distinct} distinct, {mix} mix), "
        f"{args.concurrency} concurrent, one uvicorn process ({server_stack()}) on loopback, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"  throughput  {result['rps']:.0f} requests/s ({result['wall_s']:.2f} s wall)")
    print(
        f"  latency     p50 {result['p50_ms']:.1f} ms · p90 {result['p90_ms']:.1f} ms · "
        f"p99 {result['p99_ms']:.1f} ms · max {result['max_ms']:.1f} ms"
    )
    total_errors = sum(result["errors"].values())
    detail = f" ({result['errors']})" if total_errors else ""
    print(f"  errors      {total_errors}{detail}")


if __name__ == "__main__":
    main()
