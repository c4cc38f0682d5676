"""Deployment calibration: fit efficiency and per-step overhead from bench results, save, load, use.

Public calls (the CLI `infercost calibrate` and every `--calibration PROFILE` option use these):

- `fit_calibration(results, hardware=..., model=..., engine=..., tp=..., ...)` → `CalibrationProfile`:
  reads infercost `bench` JSON, vLLM `bench serve` and GuideLLM results (`bench.import_result`), fits
  the deployment's achievable fractions of peak compute and memory bandwidth, its per-step overhead
  and (with TTFT data) its per-request overhead (`calibration.fit`), and records the fit error point
  by point and the provenance of every file (path, SHA-256, tool).
- `save_calibration(profile, path)` / `load_calibration(path)`: the YAML file.
- `profile.efficiency_profile()` → the `EfficiencyProfile` that `perf` reads, for any caller that
  builds `Resources` itself (`profile.resolve(hw.family, engine)` then `resources_for`).
- `predict_levels(profile, concurrency=[…], isl=…, osl=…)`: the calibrated model's mean TTFT, TPOT and
  output tokens/s at other load levels of the same deployment (continuous batching).
- `efficiency_for(calibration)`: `None` → the shipped profile; a path or profile → its efficiency
  profile. What `estimate`, `simulate`, `validate` and `plan` call for `--calibration`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from infercost import catalog
from infercost.calibration.fit import FitResult, Target, fit_points, predict, target_for
from infercost.calibration.points import METRICS, FitPoint, LoadedResult, load_results
from infercost.calibration.profile import (
    CalibratedDeployment,
    CalibrationProfile,
    CalibrationRef,
    FitError,
    PointError,
    ResultFile,
    efficiency_for,
    load_calibration,
    save_calibration,
    utc_now,
)
from infercost.perf.efficiency import shipped_profile
from infercost.specs.hardware import Hardware
from infercost.specs.model import ModelSpec


def _fit_error(points: Sequence[FitPoint], fit: FitResult) -> tuple[FitError, list[PointError]]:
    rows: list[PointError] = []
    logs: list[float] = []
    by_metric: dict[str, list[float]] = {}
    for i, p in enumerate(points):
        for m in METRICS:
            meas, pred = p.measured(m), float(fit.predicted[m][i])
            if meas is None or not np.isfinite(pred):
                continue
            err = (pred - meas) / meas * 100.0
            rows.append(
                PointError(
                    file=p.file,
                    mode=p.mode,
                    level=p.level,
                    concurrency=p.concurrency,
                    isl=p.isl,
                    osl=p.osl,
                    metric=m,
                    measured=meas,
                    predicted=pred,
                    error_pct=err,
                )
            )
            logs.append(float(np.log(pred / meas)))
            by_metric.setdefault(m, []).append(abs(err))
    ape = np.array([abs(r.error_pct) for r in rows])
    if not ape.size:
        raise ValueError("no measured figure could be predicted")
    return (
        FitError(
            points=len(rows),
            mdape_pct=float(np.median(ape)),
            mape_pct=float(np.mean(ape)),
            max_ape_pct=float(np.max(ape)),
            rms_log_error=float(np.sqrt(np.mean(np.square(logs)))),
            by_metric={m: float(np.median(v)) for m, v in by_metric.items()},
        ),
        rows,
    )


def profile_from_fit(
    target: Target,
    points: Sequence[FitPoint],
    fit: FitResult,
    *,
    files: Sequence[LoadedResult] = (),
    model_ref: str | None = None,
    hardware_ref: str | None = None,
    name: str | None = None,
) -> CalibrationProfile:
    """Assemble a profile from a finished fit (`fit_calibration` does all of it from files)."""
    error, rows = _fit_error(points, fit)
    hw, spec, p = target.hardware, target.model, target.parallelism
    hw_ref = hardware_ref or hw.id
    in_catalog = hw.id in catalog.hardware_ids() and not hw_ref.endswith((".yaml", ".yml"))
    return CalibrationProfile(
        name=name or f"{spec.id}-on-{hw.id}" + (f"-{target.engine}" if target.engine else ""),
        created=utc_now(),
        deployment=CalibratedDeployment(
            model=spec.id,
            model_ref=model_ref or spec.id,
            hardware=hw.id,
            hardware_ref=hw_ref,
            family=hw.family,
            engine=target.engine,
            tp=p.tp,
            pp=p.pp,
            dp=p.dp,
            ep=p.ep,
            weights=target.precision.weights.id,
            kv=target.precision.kv.id,
            max_num_batched_tokens=target.budget,
        ),
        efficiency=fit.efficiency,
        start=fit.start,
        fitted=list(fit.fitted),
        at_bounds=list(fit.at_bounds),
        base_efficiency_version=shipped_profile().version,
        max_context=int(max(pt.isl + pt.osl for pt in points)),
        data=[
            ResultFile(
                path=f.path,
                sha256=f.sha256,
                source=f.source,
                levels_used=len(f.points),
                levels_skipped=list(f.skipped),
            )
            for f in files
        ],
        fit_error=error,
        points=rows,
        hardware_spec=None if in_catalog else hw.model_dump(mode="json"),
    )


def fit_calibration(
    results: Sequence[Path | str],
    *,
    hardware: str | Hardware,
    model: str | ModelSpec,
    engine: str | None = None,
    tp: int | None = None,
    pp: int | None = None,
    dp: int | None = None,
    ep: int | None = None,
    weights: str | None = None,
    kv: str | None = None,
    max_num_batched_tokens: int | None = None,
    name: str | None = None,
) -> CalibrationProfile:
    """Fit a deployment profile from bench result files (infercost, vLLM `bench serve`, GuideLLM).

    `hardware` is a catalog id or a spec YAML (hardware not in the catalog); `model` a catalog id or
    a `config.json` path. The layout and formats are those the server ran with.
    """
    target = target_for(
        model,
        hardware,
        engine=engine,
        tp=tp,
        pp=pp,
        dp=dp,
        ep=ep,
        weights=weights,
        kv=kv,
        max_num_batched_tokens=max_num_batched_tokens,
    )
    files = load_results(list(results))
    points = [p for f in files for p in f.points]
    fit = fit_points(points, target)
    return profile_from_fit(
        target,
        points,
        fit,
        files=files,
        model_ref=model if isinstance(model, str) else None,
        hardware_ref=hardware if isinstance(hardware, str) else None,
        name=name,
    )


def target_of(profile: CalibrationProfile) -> Target:
    """The calibrated deployment, resolved again from the profile (its embedded hardware spec when
    the hardware is not in the catalog)."""
    dep = profile.deployment
    hw: str | Hardware = (
        Hardware.model_validate(profile.hardware_spec) if profile.hardware_spec else dep.hardware
    )
    model: str = dep.model_ref
    return target_for(
        model,
        hw,
        engine=dep.engine,
        tp=dep.tp,
        pp=dep.pp,
        dp=dep.dp,
        ep=dep.ep,
        weights=dep.weights,
        kv=dep.kv,
        max_num_batched_tokens=dep.max_num_batched_tokens,
    )


def predict_levels(
    profile: CalibrationRef,
    *,
    concurrency: Sequence[float] | float,
    isl: float,
    osl: float,
    lockstep: bool = False,
) -> list[dict[str, float]]:
    """The calibrated model at other load levels: one dict per concurrency with `concurrency`,
    `ttft_ms`, `tpot_ms` and `output_tps` (means of a closed loop: continuous batching, or a fixed
    batch when its identical requests run in `lockstep`)."""
    prof = load_calibration(profile)
    levels = np.atleast_1d(np.asarray(concurrency, dtype=float))
    pred = predict(
        target_of(prof), prof.efficiency, concurrency=levels, isl=isl, osl=osl, lockstep=lockstep
    )
    return [
        {"concurrency": float(c), **{m: float(pred[m][i]) for m in METRICS}}
        for i, c in enumerate(levels)
    ]


__all__ = [
    "CalibratedDeployment",
    "CalibrationProfile",
    "CalibrationRef",
    "FitError",
    "FitPoint",
    "PointError",
    "Target",
    "efficiency_for",
    "fit_calibration",
    "fit_points",
    "load_calibration",
    "predict",
    "predict_levels",
    "profile_from_fit",
    "save_calibration",
    "target_for",
    "target_of",
]
