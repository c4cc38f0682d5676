"""Bench results → the measured points a calibration fits.

One point per load level: the in-flight concurrency, the mean prompt and output lengths, and the
measured mean TTFT, TPOT and output tokens/s (the median when a file has no mean). Closed-loop levels
(`concurrency` mode) are in flight at their level; open-loop levels (rate, Poisson, burst) by Little's
law, requests/s × mean E2E. A level that lacks what the model needs is skipped, with the reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from infercost.bench.importers import import_result
from infercost.bench.runner import BenchResult, LevelSummary
from infercost.errors import InfercostError

METRICS = ("ttft_ms", "tpot_ms", "output_tps")


@dataclass(frozen=True)
class FitPoint:
    """One measured level. Lengths in tokens; None where the file does not say."""

    file: str
    mode: str
    level: float | None
    concurrency: float
    isl: float
    osl: float
    ttft_ms: float | None
    tpot_ms: float | None
    output_tps: float | None
    # a closed loop whose requests all have the same lengths runs in lockstep: every client's
    # request starts and ends together, so the level is a fixed batch, not staggered arrivals
    lockstep: bool = False

    def measured(self, metric: str) -> float | None:
        value: float | None = getattr(self, metric)
        return value if value is not None and value > 0 else None


@dataclass(frozen=True)
class LoadedResult:
    """A results file as read: where it came from, its points and the levels it could not use."""

    path: str
    sha256: str
    source: str  # infercost, vllm or guidellm
    points: tuple[FitPoint, ...]
    skipped: tuple[str, ...]


def _mean_or_median(mean: float | None, p50: float | None) -> float | None:
    return mean if mean is not None else p50


def runs_in_lockstep(result: BenchResult) -> bool:
    """Our bench in concurrency mode with fixed prompts and `ignore_eos`: identical requests, so
    the closed loop stays synchronized from the first request on."""
    c = result.config
    return c is not None and c.mode == "concurrency" and c.ignore_eos and c.turns == 1


def level_point(level: LevelSummary, file: str, lockstep: bool = False) -> FitPoint | str:
    """The point of one level, or why it cannot be fitted."""
    label = f"{file}: level {level.level if level.level is not None else level.mode}"
    if level.completed <= 0:
        return f"{label}: no completed requests"
    if not level.prompt_tokens_mean or not level.output_tokens_mean:
        return f"{label}: mean prompt and output token counts are not in the file"
    e2e = _mean_or_median(level.e2e_ms_mean, level.e2e_ms_p50)
    if level.mode == "concurrency" and level.level:
        concurrency = float(level.level)
    elif level.requests_per_s and e2e:
        concurrency = level.requests_per_s * e2e / 1e3  # Little's law: in flight = rate × time
    else:
        return f"{label}: neither a concurrency nor requests/s and E2E to derive one"
    point = FitPoint(
        file=file,
        mode=level.mode,
        level=level.level,
        concurrency=max(concurrency, 1.0),
        isl=float(level.prompt_tokens_mean),
        osl=float(level.output_tokens_mean),
        ttft_ms=_mean_or_median(level.ttft_ms_mean, level.ttft_ms_p50),
        tpot_ms=_mean_or_median(level.tpot_ms_mean, level.tpot_ms_p50),
        output_tps=level.output_tps,
        lockstep=lockstep and level.mode == "concurrency",
    )
    if not any(point.measured(m) for m in METRICS):
        return f"{label}: no TTFT, TPOT or throughput to fit"
    return point


def result_points(result: BenchResult, file: str) -> tuple[list[FitPoint], list[str]]:
    points: list[FitPoint] = []
    skipped: list[str] = []
    lockstep = runs_in_lockstep(result)
    for level in result.levels:
        got = level_point(level, file, lockstep)
        if isinstance(got, str):
            skipped.append(got)
        else:
            points.append(got)
    return points, skipped


def load_results(paths: list[Path | str]) -> list[LoadedResult]:
    """Read infercost bench, vLLM `bench serve` and GuideLLM result files into fit points."""
    if not paths:
        raise InfercostError("results", "", "at least one bench result file")
    out = []
    for raw in paths:
        path = Path(raw)
        result = import_result(path)
        points, skipped = result_points(result, str(path))
        out.append(
            LoadedResult(
                path=str(path),
                sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                source=result.source,
                points=tuple(points),
                skipped=tuple(skipped),
            )
        )
    if not any(r.points for r in out):
        reasons = "; ".join(s for r in out for s in r.skipped) or "no levels"
        raise InfercostError("results", ", ".join(map(str, paths)), f"no usable levels ({reasons})")
    return out
