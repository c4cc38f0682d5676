"""A deployment calibration profile: fitted efficiency of one model on one hardware and engine.

The profile is a YAML file. It holds the fitted `Efficiency` (absolute fractions of peak compute and
memory bandwidth, the per-step and per-request overheads; the engine is folded in), the deployment it
was fitted on, the provenance of every results file (path, SHA-256, tool) and the fit error, point by
point. `efficiency_profile()` turns it into the `EfficiencyProfile` that `perf` already reads: the
shipped profile with the calibrated hardware family overridden so that `resolve(family, engine)` gives
the fitted values for the calibrated engine (other engines keep their shipped ratio to it, other
families are untouched), its domain narrowed to that family, engine and the context lengths measured.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from infercost.errors import InfercostError
from infercost.perf.efficiency import (
    Accuracy,
    Domain,
    Efficiency,
    EfficiencyProfile,
    EngineScale,
    shipped_profile,
)

FORMAT = "infercost-calibration"
HEADER = (
    "# infercost deployment calibration profile, written by `infercost calibrate`.\n"
    "# Use it with --calibration on estimate, simulate, validate (and plan). See docs/audit.md.\n"
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CalibratedDeployment(_Frozen):
    """What was measured: the model and hardware as given and as resolved, engine, layout, formats."""

    model: str  # resolved model id
    model_ref: str  # as given (catalog id or config.json path)
    hardware: str  # resolved hardware id
    hardware_ref: str  # as given (catalog id or spec YAML path)
    family: str  # the hardware family the fitted values override
    engine: str | None
    tp: int
    pp: int
    dp: int
    ep: int
    weights: str
    kv: str
    max_num_batched_tokens: int


class ResultFile(_Frozen):
    path: str
    sha256: str
    source: str  # infercost, vllm, guidellm
    levels_used: int
    levels_skipped: list[str]


class PointError(_Frozen):
    """One measured figure beside the calibrated model's prediction."""

    file: str
    mode: str
    level: float | None
    concurrency: float
    isl: float
    osl: float
    metric: str  # ttft_ms, tpot_ms, output_tps
    measured: float
    predicted: float
    error_pct: float  # (predicted − measured) / measured × 100


class FitError(_Frozen):
    points: int  # measured figures fitted
    mdape_pct: float
    mape_pct: float
    max_ape_pct: float
    rms_log_error: float  # root mean square of log(predicted / measured)
    by_metric: dict[str, float]  # metric → MdAPE %


class CalibrationProfile(_Frozen):
    format: Literal["infercost-calibration"] = "infercost-calibration"
    format_version: int = 1
    name: str
    created: str  # ISO 8601, UTC
    deployment: CalibratedDeployment
    efficiency: Efficiency  # fitted; the per-layer overhead is folded into step_overhead_ms
    start: Efficiency  # where the fit started: the shipped profile for this family and engine
    fitted: list[str]  # the Efficiency fields the fit moved
    at_bounds: list[str]  # fitted fields that ended on a bound (the data push past the model)
    base_efficiency_version: str
    max_context: int  # the longest prompt + output measured
    data: list[ResultFile]
    fit_error: FitError
    points: list[PointError]
    hardware_spec: dict[str, Any] | None = (
        None  # the spec file's content, for hardware not in the catalog
    )

    @property
    def per_step_overhead_ms(self) -> float:
        """Fixed cost of one engine step for this model (scheduling, sampling, launches)."""
        return self.efficiency.step_overhead_ms

    def efficiency_profile(self, base: EfficiencyProfile | None = None) -> EfficiencyProfile:
        """The shipped efficiency profile with this deployment's fitted values in place."""
        start = base or shipped_profile()
        dep = self.deployment
        # `resolve(family, engine)` multiplies the family's values by the engine's scale; store the
        # fitted values divided by it, so the calibrated engine gets exactly the fitted values and
        # another engine keeps its shipped ratio to it
        scale = start.engines.get(dep.engine or "", EngineScale())
        values = self.efficiency.model_dump()
        values["compute"] /= scale.compute
        values["memory"] /= scale.memory
        if scale.overhead > 0:
            values["step_overhead_ms"] /= scale.overhead
            values["layer_overhead_us"] /= scale.overhead
        families = {**start.families, dep.family: values}
        acc = self.fit_error
        data = {
            **start.model_dump(),
            "version": f"calibration {self.name}",
            "source": f"infercost calibrate: {dep.model} on {dep.hardware}"
            + (f" ({dep.engine})" if dep.engine else "")
            + f", {len(self.data)} result file(s), created {self.created}",
            "as_of": self.created[:10],
            "families": families,
            "domain": Domain(
                families=(dep.family,),
                engines=(dep.engine,) if dep.engine else (),
                max_context=self.max_context,
            ).model_dump(),
            "intervals": {},
            "in_sample": Accuracy(
                rows=acc.points,
                covered=acc.points,
                mdape_pct=acc.mdape_pct,
                mape_pct=acc.mape_pct,
                within_25_pct=None,
            ).model_dump(),
            "cross_validated": None,
        }
        return EfficiencyProfile.model_validate(data)

    def outside_domain(self, model_id: str, hardware_id: str) -> str:
        """Why a prediction for this model and hardware leaves the calibrated deployment ("" if not)."""
        reasons = []
        if model_id != self.deployment.model:
            reasons.append(f"calibrated on model {self.deployment.model}, not {model_id}")
        if hardware_id != self.deployment.hardware:
            reasons.append(f"calibrated on hardware {self.deployment.hardware}, not {hardware_id}")
        return "; ".join(reasons)

    def summary(self) -> dict[str, Any]:
        """The headline of a profile: what it calibrates, the fitted values and the fit error."""
        return {
            "name": self.name,
            "model": self.deployment.model,
            "hardware": self.deployment.hardware,
            "engine": self.deployment.engine,
            "efficiency": {k: getattr(self.efficiency, k) for k in self.fitted},
            "start": {k: getattr(self.start, k) for k in self.fitted},
            "per_step_overhead_ms": self.per_step_overhead_ms,
            "at_bounds": self.at_bounds,
            "fit_error": self.fit_error.model_dump(),
        }


def save_calibration(profile: CalibrationProfile, path: Path | str) -> Path:
    """Write the profile as YAML (a short header comment, then the fields in order)."""
    out = Path(path)
    if out.parent != Path(""):
        out.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    out.write_text(HEADER + body, encoding="utf-8")
    return out


def load_calibration(source: Path | str | CalibrationProfile) -> CalibrationProfile:
    """A profile from a YAML file written by `save_calibration` (a profile passes through).

    Mistakes are one-line `InfercostError`s naming the file and the field.
    """
    if isinstance(source, CalibrationProfile):
        return source
    path = Path(source)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InfercostError("calibration", str(path), f"cannot be read ({err.strerror})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(err, "problem", None) or "unreadable"
        raise InfercostError(
            "calibration", str(path), f"is not valid YAML ({where}{problem})"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InfercostError(
            "calibration", str(path), f"is not a calibration profile (format: {FORMAT})"
        )
    try:
        return CalibrationProfile.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InfercostError(
            f"calibration {path}: {where}", first.get("input"), first["msg"]
        ) from None


CalibrationRef = CalibrationProfile | Path | str


def efficiency_for(calibration: CalibrationRef | None) -> EfficiencyProfile:
    """The efficiency profile to use: the shipped one, or a calibration's (path or profile)."""
    if calibration is None:
        return shipped_profile()
    return load_calibration(calibration).efficiency_profile()


def utc_now() -> str:
    from datetime import UTC

    return datetime.now(UTC).isoformat(timespec="seconds")
