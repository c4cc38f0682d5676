"""The JSON API under /api: the same library calls as the CLI, one endpoint per question."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from infercost import __version__, catalog
from infercost.api.errors import finite_dict
from infercost.api.schemas import (
    AuditFields,
    CompareRequest,
    CostRequest,
    EstimateRequest,
    FrontierRequest,
    PlanApiRequest,
    PriceDecodeRequest,
    PriceSheetRequest,
    SimulateRequest,
)
from infercost.api.service import ServerState
from infercost.econ.price_sheets import describe_source, price_sheet, price_sheets
from infercost.errors import InfercostError

router = APIRouter(prefix="/api")

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A user mistake: one line naming the field, the value, what is allowed."},
    422: {"description": "The request does not match the schema; `message` is the first problem."},
}


def state(request: Request) -> ServerState:
    server: ServerState = request.app.state.infercost
    return server


State = Annotated[ServerState, Depends(state)]


# --- catalog ---------------------------------------------------------------------------------------


@router.get("/health", tags=["server"])
def health(server: State) -> dict[str, Any]:
    return {
        "status": "ok",
        "version": __version__,
        "data_dir": server.data.root is not None,
        "limits": server.limits.__dict__,
    }


@router.get("/hardware", tags=["catalog"])
def hardware_list() -> list[dict[str, Any]]:
    """Every chip in the catalog with its peaks, memory, links and sources."""
    return [h.model_dump(mode="json") for h in catalog.all_hardware()]


@router.get("/hardware/{hardware_id}", tags=["catalog"], responses={404: {}})
def hardware_show(hardware_id: str) -> dict[str, Any]:
    """One chip (id or alias) with its default price."""
    hw = _catalog_only(catalog.hardware, hardware_id, "hardware")
    data = hw.model_dump(mode="json")
    price = catalog.default_price(hw.id)
    data["default_price"] = price.model_dump(mode="json") if price else None
    return finite_dict(data)


@router.get("/models", tags=["catalog"])
def models_list() -> list[dict[str, Any]]:
    """Every model in the catalog with parameter counts and bf16 KV bytes per token."""
    return [model_summary(catalog.model(i)) for i in catalog.model_ids()]


@router.get("/models/{model_id}", tags=["catalog"], responses={404: {}})
def models_show(model_id: str) -> dict[str, Any]:
    """One model: its summary and layer groups."""
    if model_id.strip().lower() not in catalog.model_ids():
        raise HTTPException(404, f"model {model_id!r} is not in the catalog (GET /api/models)")
    spec = catalog.model(model_id)
    return {**model_summary(spec), "layer_groups": [g.model_dump(mode="json") for g in spec.layers]}


@router.get("/formats", tags=["catalog"])
def formats() -> list[dict[str, Any]]:
    """Number formats for weights, activations and KV cache."""
    return [catalog.number_format(f).model_dump(mode="json") for f in catalog.format_ids()]


@router.get("/prices/chips", tags=["catalog"])
def chip_prices() -> list[dict[str, Any]]:
    """$/chip-hour by provider and term, each with its source and date."""
    return [p.model_dump(mode="json") for p in catalog.chip_prices()]


@router.get("/prices/sheets", tags=["catalog"])
def sheets() -> list[dict[str, Any]]:
    """Every shipped API price sheet (USD per 1M tokens) with its source and date."""
    return [s.model_dump(mode="json") for s in sorted(price_sheets().values(), key=lambda s: s.id)]


@router.get("/prices/sheets/{provider}/{model}", tags=["catalog"], responses={404: {}})
def sheet_show(provider: str, model: str) -> dict[str, Any]:
    try:
        sheet = price_sheet(f"{provider}/{model}")
    except InfercostError as err:
        raise HTTPException(404, str(err)) from None
    return {**sheet.model_dump(mode="json"), "source_note": describe_source(sheet)}


def model_summary(spec: Any) -> dict[str, Any]:
    kv_bytes = catalog.number_format("bf16", "kv").bytes_per_element
    return {
        "id": spec.id,
        "architecture": spec.architecture,
        "layers": spec.num_layers,
        "total_params": spec.total_params,
        "active_params": spec.active_params,
        "native_weights": spec.native_weights,
        "kv_bytes_per_token_bf16": spec.kv_bytes_per_token(kv_bytes),
        "max_context": spec.max_context,
        "approximate": spec.approximate,
        "source": spec.source,
    }


def _catalog_only(lookup: Any, ref: str, what: str) -> Any:
    if ref.endswith((".yaml", ".yml")) or "\x00" in ref:
        raise HTTPException(404, f"{what} {ref!r}: catalog ids only here")
    try:
        return lookup(ref)
    except InfercostError as err:
        raise HTTPException(404, str(err)) from None


# --- questions -------------------------------------------------------------------------------------


@router.post("/estimate", tags=["estimate"], responses=ERRORS)
async def estimate_endpoint(req: EstimateRequest, server: State) -> Response:
    """Time of every prefill chunk and decode step with its breakdown, the memory plan, throughput
    and cost — `infercost estimate --json`."""
    # on the event loop: one estimate takes about a millisecond of CPU, less than the hop to a
    # worker thread and back costs under load (the GIL would serialize it anyway)
    body = server.cached_estimate_json(req) or server.estimate_json(req)
    return Response(body, media_type="application/json")


@router.post("/frontier", tags=["estimate"], responses=ERRORS)
def frontier_endpoint(req: FrontierRequest, server: State) -> dict[str, Any]:
    """The latency–cost frontier over batch — `infercost frontier --json`; with `sweep_chips`, every
    point across chip counts with the Pareto set marked."""
    return finite_dict(server.frontier_json(req))


@router.post("/compare", tags=["estimate"], responses=ERRORS)
def compare_endpoint(req: CompareRequest, server: State) -> dict[str, Any]:
    """Hardware side by side — `infercost compare --json`."""
    return finite_dict(server.compare(req).to_dict())


@router.post("/price/decode", tags=["prices"], responses=ERRORS)
def price_decode_endpoint(req: PriceDecodeRequest, server: State) -> dict[str, Any]:
    """What a price sheet implies beside our model — `infercost price decode --json`."""
    return finite_dict(server.price_decode(req).model_dump(mode="json"))


@router.post("/price/sheet", tags=["prices"], responses=ERRORS)
def price_sheet_endpoint(req: PriceSheetRequest, server: State) -> dict[str, Any]:
    """A cost-based price sheet for a self-hosted deployment — `infercost price sheet --json`."""
    derived = server.price_sheet(req)
    return finite_dict(
        {
            "derived": derived.model_dump(mode="json"),
            "sheet": derived.to_price_sheet().model_dump(mode="json"),
        }
    )


@router.post("/cost", tags=["prices"], responses=ERRORS)
def cost_endpoint(req: CostRequest, server: State) -> dict[str, Any]:
    """What a workload costs a month and what each lever saves — `infercost cost --json` (the
    body is the workload file as JSON)."""
    return finite_dict(server.cost(req).model_dump(mode="json"))


@router.post("/validate", tags=["validate"], responses=ERRORS)
async def validate_endpoint(
    server: State,
    file: Annotated[UploadFile, File(description="CSV in the schema of validation/README.md")],
) -> dict[str, Any]:
    """Score predictions against an uploaded file of measurements — `infercost validate --json`,
    with every row's prediction."""
    content = await file.read()
    result: dict[str, Any] = await run_in_threadpool(
        server.validate_upload, content, file.filename or "upload"
    )
    return result


@router.get("/validate/shipped", tags=["validate"], responses={404: {}})
def validate_shipped(server: State) -> dict[str, Any]:
    """The accuracy on the shipped measurements (the dashboard's accuracy page)."""
    result = server.accuracy()
    if result is None:
        raise HTTPException(404, "no validation file configured or found (--validation-csv)")
    return result


@router.post("/audit", tags=["audit"], responses={**ERRORS, 413: {}})
async def audit_endpoint(
    server: State,
    fields: Annotated[AuditFields, Form()],
    files: Annotated[
        list[UploadFile],
        File(description="nvidia-smi CSV, DCGM/vLLM/SGLang metrics text, request logs (JSONL)"),
    ],
) -> dict[str, Any]:
    """Utilization, achieved vs attainable throughput, waste in $/month and ranked
    recommendations from uploaded telemetry — `infercost audit --json`."""
    uploads = [(f.filename or f"upload-{i}", await f.read()) for i, f in enumerate(files)]
    report = await run_in_threadpool(server.audit_upload, uploads, fields)
    return finite_dict(report.model_dump(mode="json"))


# --- jobs: simulations and plans -------------------------------------------------------------------------------


@router.post("/simulate", tags=["simulate"], status_code=202, responses=ERRORS)
def simulate_endpoint(req: SimulateRequest, server: State) -> dict[str, Any]:
    """Start a simulation; poll `status_url` for progress, then fetch `result_url`."""
    return server.submit_simulation(req).view()


@router.post("/plan", tags=["plan"], status_code=202, responses=ERRORS)
def plan_endpoint(req: PlanApiRequest, server: State) -> dict[str, Any]:
    """Start a plan (screen the search space, verify the cheapest by simulation); poll
    `status_url`, then `result_url` gives `infercost plan --json`."""
    return server.submit_plan(req).view()


@router.get("/jobs/{job_id}", tags=["simulate"], responses={404: {}})
def job_status(job_id: str, server: State) -> dict[str, Any]:
    job = server.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id!r} (finished jobs are kept for a while)")
    return job.view()


@router.get("/jobs/{job_id}/result", tags=["simulate"], responses={404: {}, 409: {}})
def job_result(job_id: str, server: State) -> dict[str, Any]:
    """A finished job's result: a simulation's summary, price sources and plot data, or a plan."""
    job = server.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id!r} (finished jobs are kept for a while)")
    if job.status == "failed":
        raise HTTPException(409, f"job failed: {job.error}")
    if job.status != "done":
        raise HTTPException(409, f"job is {job.status} ({job.done} of {job.total} done)")
    result: dict[str, Any] = job.result
    return result
