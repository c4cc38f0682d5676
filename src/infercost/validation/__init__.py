"""`validate`: score predictions against published measurements; `calibrate`: fit the efficiency model.

Both read files in the schema of `../shared/validation/README.md`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infercost.perf.efficiency import Accuracy, Domain, EfficiencyProfile, shipped_profile
from infercost.validation.fitting import fit, leave_one_source_out, log_errors
from infercost.validation.predict import Prepared, Unpredictable, predict_with, prepare
from infercost.validation.rows import Row, RowProblem, read_rows
from infercost.validation.score import RowResult, report, summary

INTERVAL_MIN_ROWS = 8  # residuals needed before a group gets its own interval
INTERVAL_QUANTILES = (0.1, 0.9)


@dataclass(frozen=True)
class ValidationResult:
    rows: list[RowResult]
    profile_version: str

    def summary(self) -> dict[str, Any]:
        return {**report(self.rows), "efficiency_version": self.profile_version}


def _result(row: Row | RowProblem, reason: str = "", **prediction: Any) -> RowResult:
    """One scored row; `prediction` holds predicted, interval_low/high and outside_domain."""
    if isinstance(row, RowProblem):
        raw = row.raw
        return RowResult(
            id=row.id,
            source=raw.get("source", ""),
            model=raw.get("model", ""),
            hardware=raw.get("hardware", ""),
            engine=raw.get("engine", ""),
            scenario=raw.get("scenario", ""),
            metric=raw.get("metric", ""),
            measured=None,
            predicted=None,
            reason=reason,
        )
    return RowResult(
        id=row.id,
        source=row.source,
        model=row.model,
        hardware=row.hardware,
        engine=row.engine,
        scenario=row.scenario,
        metric=row.metric,
        measured=row.value,
        predicted=prediction.pop("predicted", None),
        reason=reason,
        **prediction,
    )


def predict_rows(
    rows: Sequence[Row | RowProblem],
    profile: EfficiencyProfile,
    progress: Callable[[], None] | None = None,
) -> list[RowResult]:
    out = []
    for row in rows:
        if progress:
            progress()
        if isinstance(row, RowProblem):
            out.append(_result(row, row.reason))
            continue
        try:
            prepared = prepare(row)
            value = predict_with(prepared, profile).value
        except Unpredictable as err:
            out.append(_result(row, str(err)))
            continue
        band = profile.interval(row.scenario, row.metric) or (None, None)
        context = (row.isl or 0) + (row.osl or 0)
        out.append(
            _result(
                row,
                predicted=value,
                interval_low=value * band[0] if band[0] else None,
                interval_high=value * band[1] if band[1] else None,
                outside_domain=profile.outside_domain(
                    prepared.hardware.family, row.engine, context
                ),
            )
        )
    return out


def validate(
    path: str | Path,
    profile: EfficiencyProfile | None = None,
    progress: Callable[[], None] | None = None,
) -> ValidationResult:
    """Predict every row of a validation file and score the predictions."""
    chosen = profile or shipped_profile()
    rows = read_rows(Path(path))
    return ValidationResult(predict_rows(rows, chosen, progress), chosen.version)


def _prepared(rows: Sequence[Row | RowProblem]) -> list[Prepared]:
    out = []
    for row in rows:
        if isinstance(row, Row):
            try:
                out.append(prepare(row))
            except Unpredictable:
                continue
    return out


def _accuracy(log_errs: Sequence[float], rows: int) -> Accuracy:
    ape = np.abs(np.expm1(np.asarray(log_errs))) * 100.0
    return Accuracy(
        rows=rows,
        covered=len(ape),
        mdape_pct=float(np.median(ape)) if len(ape) else None,
        mape_pct=float(np.mean(ape)) if len(ape) else None,
        within_25_pct=float(np.mean(ape <= 25.0) * 100.0) if len(ape) else None,
    )


def _intervals(
    prepared: Sequence[Prepared], cv: dict[str, float]
) -> dict[str, tuple[float, float]]:
    """Multipliers turning a prediction into an 80 % interval for the measurement.

    With r = log(predicted / measured), measured = predicted · exp(−r).
    """
    groups: dict[str, list[float]] = {"all": []}
    for p in prepared:
        if p.row.id not in cv:
            continue
        r = cv[p.row.id]
        for key in ("all", p.row.scenario, f"{p.row.scenario}/{p.row.metric}"):
            groups.setdefault(key, []).append(r)
    lo_q, hi_q = INTERVAL_QUANTILES
    out = {}
    for key, values in groups.items():
        if len(values) >= INTERVAL_MIN_ROWS or key == "all":
            lo, hi = np.quantile(values, [lo_q, hi_q])
            out[key] = (math.exp(-hi), math.exp(-lo))
    return out


@dataclass(frozen=True)
class Calibration:
    profile: EfficiencyProfile
    held_out: dict[str, float]  # row id → held-out log(predicted / measured), when cross-validated


def calibrate(
    path: str | Path,
    *,
    version: str,
    base: EfficiencyProfile | None = None,
    cross_validate: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Calibration:
    """Fit the efficiency model on a validation file; with `cross_validate`, also run
    leave-one-source-out and store its accuracy and the prediction intervals it implies."""
    start = base or shipped_profile()
    rows = read_rows(Path(path))
    prepared = _prepared(rows)
    if progress:
        progress("fit on all rows")
    fitted = fit(prepared, start)
    in_sample = _accuracy([e for e in log_errors(prepared, fitted) if abs(e) < 10], len(rows))
    cv_errors: dict[str, float] = {}
    if cross_validate:
        cv_errors = leave_one_source_out(prepared, start, progress)
    contexts = [(p.row.isl or 0) + (p.row.osl or 0) for p in prepared]
    profile = fitted.model_copy(
        update={
            "version": version,
            "source": f"fitted by `infercost fit-efficiency` on {Path(path).name} ({len(prepared)} rows)",
            "domain": Domain(
                families=tuple(sorted({p.hardware.family for p in prepared})),
                engines=tuple(sorted({p.row.engine for p in prepared})),
                max_context=max(contexts) if contexts else None,
            ),
            "in_sample": in_sample,
            "cross_validated": _accuracy(list(cv_errors.values()), len(rows))
            if cv_errors
            else None,
            "intervals": _intervals(prepared, cv_errors) if cv_errors else {},
        }
    )
    return Calibration(profile, cv_errors)


__all__ = ["Calibration", "ValidationResult", "calibrate", "summary", "validate"]
