"""What every endpoint and dashboard page does: make the request's references safe, check the
server's limits, call the library function the CLI calls, and shape the result as JSON.

`ServerState` is what `create_app` configures (data directory, limits, the job queue, the
validation file); the routers hold no logic of their own beyond HTTP.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from infercost import catalog
from infercost.api.datadir import DataDir
from infercost.api.datadir import is_file_ref as _is_file_ref
from infercost.api.errors import finite, finite_dict
from infercost.api.jobs import Job, JobStore, Progress
from infercost.api.limits import Limits
from infercost.api.schemas import (
    AuditFields,
    CompareRequest,
    EstimateRequest,
    FrontierRequest,
    PlanApiRequest,
    PriceDecodeRequest,
    PriceSheetRequest,
    SimulateRequest,
    as_kwargs,
)
from infercost.audit import AuditReport, audit
from infercost.econ.compare import Comparison, compare
from infercost.econ.frontier import FastMode, Frontier, frontier, layout_frontier, sweep_batches
from infercost.econ.price_decode import PriceDecoding, decode_sheet
from infercost.econ.price_derive import DerivedSheet, derive_sheet
from infercost.econ.price_sheets import load_price_sheets, price_sheet
from infercost.econ.workload_cost import WorkloadCost, WorkloadSpec, cost_workload, parse_workload
from infercost.errors import InfercostError
from infercost.estimation import Estimate, estimate
from infercost.perf.efficiency import shipped_profile
from infercost.plan import plan
from infercost.plan.space import PlanRequest, build_space, load_plan
from infercost.report.frontier_plot import frontier_json
from infercost.report.html import simulation_plot_data
from infercost.sim.scenario import Scenario, load_scenario
from infercost.simulation import simulate
from infercost.validation import ValidationResult, predict_rows
from infercost.validation.rows import read_rows

DEFAULT_SWEEP_POINTS = len(sweep_batches(65_536))  # the frontier's own sweep, at most


@dataclass
class ServerState:
    data: DataDir
    limits: Limits
    jobs: JobStore
    validation_csv: Path | None  # the shipped measurements for the accuracy page
    _accuracy: dict[str, Any] | None = field(default=None, repr=False)
    _estimates: LRU[EstimateRequest, bytes] = field(default_factory=lambda: LRU(4096), repr=False)

    # --- estimate ------------------------------------------------------------------------------

    def estimate(self, req: EstimateRequest) -> Estimate:
        model = self.data.model(req.model)
        hardware = self.data.hardware(req.hardware)
        calibration = (
            self.data.file(req.calibration, "calibration") if req.calibration is not None else None
        )
        kwargs = as_kwargs(req, "model", "hardware", "calibration")
        return estimate(model, hardware, calibration=calibration, **kwargs)

    def cached_estimate_json(self, req: EstimateRequest) -> bytes | None:
        """The answer to a request already seen (catalog ids only: files may change)."""
        return self._estimates.get(req)

    def estimate_json(self, req: EstimateRequest) -> bytes:
        body = _json_bytes(self.estimate(req).model_dump(mode="json"))
        files = req.calibration is not None or _is_file_ref(req.hardware)
        if req.model.strip().lower() in catalog.model_ids() and not files:
            self._estimates.put(req, body)
        return body

    # --- frontier ------------------------------------------------------------------------------

    def frontier(self, req: FrontierRequest) -> tuple[Frontier, FastMode | None]:
        if req.sweep_chips:
            raise InfercostError("sweep_chips", req.sweep_chips, "use frontier_layouts")
        self._check_frontier_grid(req)
        kwargs = as_kwargs(req, "model", "hardware", "speed", "sweep_chips")
        front = frontier(self.data.model(req.model), self.data.hardware(req.hardware), **kwargs)
        return front, (front.fast_mode(req.speed) if req.speed is not None else None)

    def frontier_json(self, req: FrontierRequest) -> dict[str, Any]:
        if req.sweep_chips:
            return self.frontier_layouts(req)
        front, fast = self.frontier(req)
        return frontier_json(front, fast)

    def frontier_layouts(self, req: FrontierRequest) -> dict[str, Any]:
        """Across chips per replica: every point, whether it is on the Pareto set, what was skipped."""
        if req.chips is not None or req.tp is not None or req.speed is not None:
            raise InfercostError(
                "sweep_chips",
                req.sweep_chips,
                "not with chips, tp or speed (sweep one or the other)",
            )
        self._check_frontier_grid(req)
        kwargs = as_kwargs(req, "model", "hardware", "speed", "sweep_chips", "chips", "tp")
        assert req.sweep_chips is not None
        points, skipped = layout_frontier(
            self.data.model(req.model),
            self.data.hardware(req.hardware),
            list(req.sweep_chips),
            **kwargs,
        )
        return {
            "points": [p.model_dump(mode="json") for p in points],
            "skipped": {str(n): why for n, why in skipped.items()},
        }

    def _check_frontier_grid(self, req: FrontierRequest) -> None:
        batches = len(req.batches) if req.batches else DEFAULT_SWEEP_POINTS
        layouts = len(set(req.sweep_chips)) if req.sweep_chips else 1
        self.limits.check_grid("batches × sweep_chips", batches * layouts)

    # --- compare, prices, cost -----------------------------------------------------------------

    def compare(self, req: CompareRequest) -> Comparison:
        hardware = [self.data.hardware(h, f"hardware.{i}") for i, h in enumerate(req.hardware)]
        self.limits.check_grid("hardware", len(hardware))
        prices = (
            {self.data.hardware(k, "price_per_hour"): v for k, v in req.price_per_hour.items()}
            if req.price_per_hour
            else None
        )
        kwargs = as_kwargs(req, "model", "hardware", "price_per_hour")
        return compare(self.data.model(req.model), hardware, price_per_hour=prices, **kwargs)

    def price_decode(self, req: PriceDecodeRequest) -> PriceDecoding:
        ref = self.data.sheet(req.sheet)
        sheet = load_price_sheets(ref)[0] if ref != req.sheet else price_sheet(ref)
        kwargs = as_kwargs(req, "sheet", "like", "hardware")
        return decode_sheet(
            sheet, self.data.model(req.like, "like"), self.data.hardware(req.hardware), **kwargs
        )

    def price_sheet(self, req: PriceSheetRequest) -> DerivedSheet:
        kwargs = as_kwargs(req, "model", "hardware")
        return derive_sheet(self.data.model(req.model), self.data.hardware(req.hardware), **kwargs)

    def cost(self, spec: WorkloadSpec) -> WorkloadCost:
        safe = self.data.workload(spec.model_dump(mode="json", exclude_unset=True))
        return cost_workload(parse_workload(safe))

    # --- simulate ------------------------------------------------------------------------------

    def scenario(self, req: SimulateRequest) -> Scenario:
        """The request's scenario with every file inside the data directory, within the limits."""
        if (req.scenario is None) == (req.scenario_file is None):
            raise InfercostError(
                "scenario", None, "give exactly one of scenario (inline) and scenario_file"
            )
        if req.scenario_file is not None:
            raw = self._yaml_file(req.scenario_file, "scenario_file")
        else:
            assert req.scenario is not None
            raw = req.scenario.model_dump(mode="json", exclude_unset=True)
        spec = load_scenario(self.data.scenario(raw))
        self.data.check_inside(spec, "scenario")
        n = spec.workload.requests
        if n is None or n > self.limits.max_sim_requests:
            raise InfercostError(
                "scenario.workload.requests",
                n,
                f"set it, at most {self.limits.max_sim_requests} (server limit per simulation)",
            )
        return spec

    def submit_simulation(self, req: SimulateRequest) -> Job:
        spec = self.scenario(req)
        total = spec.workload.requests or 0
        seed = req.seed
        calibration = (
            self.data.file(req.calibration, "calibration") if req.calibration is not None else None
        )

        def work(progress: Progress) -> dict[str, Any]:
            sim = simulate(spec, seed=seed, on_done=progress.advance, calibration=calibration)
            return {
                "scenario": spec.name,
                "summary": finite(sim.summary),
                "price_sources": sim.price_sources,
                "plots": simulation_plot_data(sim.requests(), sim.timeline()),
            }

        return self.jobs.submit("simulate", total, work, max_seconds=self.limits.max_sim_seconds)

    def _yaml_file(self, ref: str, field: str) -> dict[str, Any]:
        """A YAML mapping from the data directory, its relative paths made relative to the root."""
        import yaml

        path = self.data.file(ref, field)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            raise InfercostError(field, ref, f"cannot be read as YAML ({err})") from None
        if not isinstance(raw, dict):
            raise InfercostError(field, ref, "a YAML mapping")
        return _relative_to(raw, path.parent, self.data)

    # --- plan ----------------------------------------------------------------------------------

    def plan_request(self, req: PlanApiRequest) -> PlanRequest:
        if (req.plan is None) == (req.plan_file is None):
            raise InfercostError("plan", None, "give exactly one of plan (inline) and plan_file")
        if req.plan_file is not None:
            raw = self._yaml_file(req.plan_file, "plan_file")
        else:
            assert req.plan is not None
            raw = req.plan.model_dump(mode="json", exclude_unset=True)
        spec = load_plan(self.data.plan(raw))
        self.data.check_inside(spec, "plan")
        return spec

    def submit_plan(self, req: PlanApiRequest) -> Job:
        spec = self.plan_request(req)
        hardware = (
            [self.data.hardware(h, f"hardware.{i}") for i, h in enumerate(req.hardware)]
            if req.hardware
            else None
        )
        build_space(spec, hardware)  # a mistake in the search space answers now, not in the job

        def work(progress: Progress) -> dict[str, Any]:
            result = plan(
                spec,
                hardware=hardware,
                top=req.top,
                verify_duration_s=req.verify_duration_s,
                on_progress=progress.stage,
            )
            return finite_dict({**result.to_dict(), "timings_s": result.timings_s})

        return self.jobs.submit("plan", 0, work, max_seconds=self.limits.max_plan_seconds)

    # --- audit ---------------------------------------------------------------------------------

    def audit_upload(self, files: list[tuple[str, bytes]], fields: AuditFields) -> AuditReport:
        """Audit the deployment behind uploaded telemetry files (a fresh store per request)."""
        if not files:
            raise InfercostError("files", 0, "upload at least one telemetry or request-log file")
        if len(files) > self.limits.max_audit_files:
            raise InfercostError(
                "files",
                len(files),
                f"at most {self.limits.max_audit_files} per audit (server limit)",
            )
        kwargs = as_kwargs(fields, "hardware", "model", "candidates")
        candidates = (
            [self.data.hardware(c.strip(), "candidates") for c in fields.candidates.split(",")]
            if fields.candidates
            else None
        )
        with tempfile.TemporaryDirectory(prefix="infercost-audit-") as tmp:
            folder = Path(tmp)
            names: dict[str, str] = {}
            paths = []
            for i, (name, content) in enumerate(files):
                path = folder / f"{i:02d}-{_safe_name(name, i)}"
                path.write_bytes(content)
                names[str(path)] = name
                paths.append(path)
            try:
                report = audit(
                    paths,
                    store=folder / "store.duckdb",
                    hardware=self.data.hardware(fields.hardware) if fields.hardware else None,
                    model=self.data.model(fields.model) if fields.model else None,
                    candidates=candidates,
                    **kwargs,
                )
            except InfercostError as err:
                raise _without_folder(err, folder, names) from None
        shown = [f.model_copy(update={"path": names.get(f.path, f.path)}) for f in report.files]
        return report.model_copy(update={"files": shown})

    # --- validate ------------------------------------------------------------------------------

    def validate_upload(self, content: bytes, filename: str) -> dict[str, Any]:
        """Score the rows of an uploaded validation CSV (the schema of validation/README.md)."""
        try:
            content.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InfercostError(
                "file", filename, f"not UTF-8 text (byte {err.start}); upload a CSV file"
            ) from None
        with tempfile.TemporaryDirectory(prefix="infercost-upload-") as tmp:
            path = Path(tmp) / "rows.csv"
            path.write_bytes(content)
            return validation_json(_validate_file(path, filename))

    def accuracy(self) -> dict[str, Any] | None:
        """The validation summary and rows of the shipped measurements (None when absent)."""
        if self.validation_csv is None or not self.validation_csv.is_file():
            return None
        if self._accuracy is None:
            self._accuracy = validation_json(_validate_file(self.validation_csv, "dev.csv"))
        return self._accuracy


def _validate_file(path: Path, label: str) -> ValidationResult:
    import csv

    profile = shipped_profile()
    try:
        rows = read_rows(path)
    except (csv.Error, UnicodeDecodeError) as err:
        raise InfercostError("file", label, f"not a readable CSV ({err})") from None
    except InfercostError as err:
        raise InfercostError("file", label, err.allowed) from None
    if not rows:
        raise InfercostError("file", label, "holds no rows")
    return ValidationResult(predict_rows(rows, profile), profile.version)


def validation_json(result: ValidationResult) -> dict[str, Any]:
    rows = [
        {
            "id": r.id,
            "source": r.source,
            "model": r.model,
            "hardware": r.hardware,
            "engine": r.engine,
            "scenario": r.scenario,
            "metric": r.metric,
            "measured": r.measured,
            "predicted": r.predicted,
            "error_pct": r.error_pct,
            "reason": r.reason,
        }
        for r in result.rows
    ]
    return finite_dict({"summary": result.summary(), "rows": rows})


def _safe_name(name: str, index: int) -> str:
    """An uploaded file's name without folders or odd characters (its extension kept)."""
    import re

    base = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name.replace("\\", "/")).name).lstrip(".")
    return base[:100] or f"upload-{index}"


def _without_folder(err: InfercostError, folder: Path, names: dict[str, str]) -> InfercostError:
    """The error as the user should read it: their file names, not the server's temporary paths."""

    def clean(text: Any) -> Any:
        if not isinstance(text, str):
            return text
        for path, name in names.items():
            text = text.replace(path, name)
        return text.replace(str(folder), "(upload)")

    return InfercostError(err.field, clean(err.value), clean(err.allowed))


def _relative_to(raw: dict[str, Any], folder: Path, data: DataDir) -> dict[str, Any]:
    """Paths in a scenario file are relative to its folder: rewrite them relative to the data dir."""
    assert data.root is not None
    prefix = folder.relative_to(data.root)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: str(prefix / v)
                if k == "path" and isinstance(v, str) and not Path(v).is_absolute()
                else walk(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    out: dict[str, Any] = walk(raw)
    return out


def _json_bytes(data: Any) -> bytes:
    return json.dumps(
        finite(data), ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode()


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small thread-safe least-recently-used map: `estimate` is pure in catalog ids, so a
    repeated request is answered from here without recomputing or re-serializing it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def catalog_ids() -> dict[str, list[str]]:
    return {"models": catalog.model_ids(), "hardware": catalog.hardware_ids()}
