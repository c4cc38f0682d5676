"""OpenAI-compatible load generator: `run_bench(config)` measures a live server level by level;
`import_result(path)` reads vLLM `bench serve` and GuideLLM result files into the same shape."""

from __future__ import annotations

from infercost.bench.config import BenchConfig, SaturationRule
from infercost.bench.importers import import_result
from infercost.bench.runner import BenchResult, LevelSummary, run_bench, run_bench_async

__all__ = [
    "BenchConfig",
    "BenchResult",
    "LevelSummary",
    "SaturationRule",
    "import_result",
    "run_bench",
    "run_bench_async",
]
