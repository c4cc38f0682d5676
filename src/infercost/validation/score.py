"""Scoring predictions against measurements: coverage, MdAPE, MAPE, share within ±25 %, by group."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RowResult:
    id: str
    source: str
    model: str
    hardware: str
    engine: str
    scenario: str
    metric: str
    measured: float | None
    predicted: float | None
    reason: str  # why a row is not covered; empty when covered
    interval_low: float | None = None
    interval_high: float | None = None
    outside_domain: str = ""  # why the prediction lies outside the calibrated domain, if it does

    @property
    def covered(self) -> bool:
        return self.predicted is not None

    @property
    def error_pct(self) -> float | None:
        if self.predicted is None or not self.measured:
            return None
        return (self.predicted - self.measured) / self.measured * 100.0


def summary(results: Iterable[RowResult]) -> dict[str, float | int | None]:
    rows = list(results)
    errors = np.array([abs(r.error_pct) for r in rows if r.error_pct is not None])
    covered = int(errors.size)
    return {
        "rows": len(rows),
        "covered": covered,
        "coverage_pct": 100.0 * covered / len(rows) if rows else None,
        "mdape_pct": float(np.median(errors)) if covered else None,
        "mape_pct": float(np.mean(errors)) if covered else None,
        "within_25_pct": float(np.mean(errors <= 25.0) * 100.0) if covered else None,
    }


def grouped(
    results: Iterable[RowResult], key: Callable[[RowResult], str]
) -> dict[str, dict[str, float | int | None]]:
    groups: dict[str, list[RowResult]] = defaultdict(list)
    for r in results:
        groups[key(r)].append(r)
    return {name: summary(rows) for name, rows in sorted(groups.items())}


def report(results: list[RowResult], worst: int = 10) -> dict[str, object]:
    """The `validate --json` object: overall figures, the four breakdowns and the worst rows."""
    ranked = sorted(
        (r for r in results if r.error_pct is not None),
        key=lambda r: -abs(r.error_pct or 0.0),
    )
    return {
        **summary(results),
        "by_metric": grouped(results, lambda r: r.metric),
        "by_scenario": grouped(results, lambda r: r.scenario),
        "by_hardware": grouped(results, lambda r: r.hardware),
        "by_engine": grouped(results, lambda r: r.engine),
        "worst": [
            {
                "id": r.id,
                "model": r.model,
                "hardware": r.hardware,
                "scenario": r.scenario,
                "metric": r.metric,
                "measured": r.measured,
                "predicted": r.predicted,
                "error_pct": r.error_pct,
            }
            for r in ranked[:worst]
        ],
        "not_covered": [{"id": r.id, "reason": r.reason} for r in results if not r.covered],
    }
