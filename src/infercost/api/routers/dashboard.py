"""The dashboard: Jinja2 pages whose forms post (htmx) to fragment endpoints under /ui, which call
the same `ServerState` methods as the JSON API and render the library's numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile as FormFile

from infercost import catalog
from infercost.api.errors import readable
from infercost.api.routers.api import state
from infercost.api.schemas import (
    AuditFields,
    EstimateRequest,
    FrontierRequest,
    PlanApiRequest,
    PriceDecodeRequest,
    PriceSheetRequest,
    SimulateRequest,
)
from infercost.commands.frontier import summary_lines
from infercost.econ.price_sheets import price_sheets
from infercost.errors import InfercostError
from infercost.plan import PlanResult
from infercost.report.audit import audit_figure
from infercost.report.audit import headline as audit_headline
from infercost.report.frontier_plot import frontier_figure
from infercost.report.html import (
    accuracy_figure,
    estimate_figure,
    figure_json,
    number,
    simulation_figure,
)
from infercost.report.plan_plot import plan_figure
from infercost.specs.engine import ENGINE_NAMES

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parents[1] / "templates"))
templates.env.filters["num"] = number

# Scripts only from this server; plotly needs inline styles; nothing else is fetched.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

PAGES = (
    ("/", "Calculator"),
    ("/frontier", "Frontier"),
    ("/simulate", "Simulate"),
    ("/plan", "Plan"),
    ("/prices", "Prices"),
    ("/audit", "Audit"),
    ("/accuracy", "Accuracy"),
)

EXAMPLE_SCENARIO = """\
# A chat service: Llama-3.1-8B on one H100, Poisson arrivals, lognormal lengths.
name: chat-small
model: llama-3.1-8b
deployment: {hardware: h100-sxm, tp: 1, engine: vllm}
scheduler: {batching: continuous, max_num_seqs: 256, chunked_prefill: true, prefix_caching: true}
workload:
  seed: 1
  requests: 400
  arrival: {kind: poisson, rate_rps: 8}
  classes:
    - name: chat
      system_prompt: {key: assistant, tokens: 300}
      prompt: {kind: lognormal, median: 500, sigma: 0.9, max: 16000}
      output: {kind: lognormal, median: 220, sigma: 0.8, max: 4096}
      slo: {ttft_ms: 500, tpot_ms: 40}
"""


EXAMPLE_PLAN = """\
# The cheapest deployment of Llama-3.1-8B for a chat service at 10 req/s, p99 TTFT ≤ 1 s and
# TPOT ≤ 50 ms: screened over three GPU types, the cheapest verified by the simulator.
name: chat-8b
model: llama-3.1-8b
slo: {ttft_ms: 1000, tpot_ms: 50, percentile: 99}
workload:
  seed: 7
  duration_s: 30
  arrival: {kind: poisson, rate_rps: 10}
  classes:
    - name: chat
      prompt: {kind: lognormal, median: 600, sigma: 0.7, max: 4000}
      output: {kind: lognormal, median: 150, sigma: 0.6, max: 1000}
search:
  hardware: [h100-sxm, a100-sxm-80gb, h200]
  weights: [native, fp8]
  kv: [bf16]
  max_chips_per_replica: 2
  max_num_seqs: [64, 256]
  chunk: [8192]
  modes: [aggregated]
verify: {top: 2, duration_s: 20, warmup_s: 2, max_rounds: 2}
"""


def _page(request: Request, name: str, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, name, {"pages": PAGES, "path": request.url.path, **context}
    )
    response.headers["content-security-policy"] = CSP
    return response


def _fragment(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["content-security-policy"] = CSP
    return response


def _error(request: Request, message: str, status: int) -> HTMLResponse:
    return _fragment(request, "_error.html", status=status, message=message)


async def _form(request: Request) -> dict[str, Any]:
    """The form's filled-in fields (empty inputs mean "default")."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and v.strip() != ""}


def _choices() -> dict[str, Any]:
    return {
        "models": catalog.model_ids(),
        "hardware": catalog.hardware_ids(),
        "formats": catalog.format_ids(),
        "engines": ENGINE_NAMES,
    }


def _parse(model: type[BaseModel], data: dict[str, Any]) -> Any:
    return model.model_validate(data)


async def _answer(request: Request, render: Any) -> HTMLResponse:
    """Run a fragment's work; a mistake becomes an error box with the one-line message."""
    from starlette.concurrency import run_in_threadpool

    try:
        result: HTMLResponse = await run_in_threadpool(render)
        return result
    except ValidationError as err:
        return _error(request, readable(err.errors()), 422)
    except InfercostError as err:
        return _error(request, str(err), 400)


# --- pages ----------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def calculator_page(request: Request) -> HTMLResponse:
    return _page(request, "calculator.html", **_choices())


@router.get("/frontier", response_class=HTMLResponse)
def frontier_page(request: Request) -> HTMLResponse:
    return _page(request, "frontier.html", **_choices())


@router.get("/simulate", response_class=HTMLResponse)
def simulate_page(request: Request) -> HTMLResponse:
    server = state(request)
    return _page(
        request,
        "simulate.html",
        example=EXAMPLE_SCENARIO,
        max_requests=server.limits.max_sim_requests,
    )


@router.get("/plan", response_class=HTMLResponse)
def plan_page(request: Request) -> HTMLResponse:
    return _page(request, "plan.html", example=EXAMPLE_PLAN)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request) -> HTMLResponse:
    return _page(request, "audit.html", **_choices())


@router.get("/prices", response_class=HTMLResponse)
def prices_page(request: Request) -> HTMLResponse:
    sheets = sorted(price_sheets().values(), key=lambda s: s.id)
    return _page(
        request, "prices.html", sheets=sheets, chip_prices=catalog.chip_prices(), **_choices()
    )


@router.get("/accuracy", response_class=HTMLResponse)
async def accuracy_page(request: Request) -> HTMLResponse:
    from starlette.concurrency import run_in_threadpool

    server = state(request)
    result = await run_in_threadpool(server.accuracy)
    figure = figure_json(accuracy_figure(result["rows"])) if result else None
    return _page(request, "accuracy.html", result=result, figure=figure, csv=server.validation_csv)


@router.get("/index.html", include_in_schema=False)
def index_redirect() -> RedirectResponse:
    return RedirectResponse("/")


# --- fragments ------------------------------------------------------------------------------------


@router.post("/ui/estimate", response_class=HTMLResponse)
async def estimate_fragment(request: Request) -> HTMLResponse:
    server, data = state(request), await _form(request)

    def render() -> HTMLResponse:
        est = server.estimate(_parse(EstimateRequest, data))
        figure = figure_json(estimate_figure(est))
        return _fragment(request, "_estimate.html", est=est, figure=figure)

    return await _answer(request, render)


@router.post("/ui/frontier", response_class=HTMLResponse)
async def frontier_fragment(request: Request) -> HTMLResponse:
    server, data = state(request), await _form(request)

    def render() -> HTMLResponse:
        front, fast = server.frontier(_parse(FrontierRequest, data))
        return _fragment(
            request,
            "_frontier.html",
            front=front,
            lines=summary_lines(front, fast),
            figure=figure_json(frontier_figure(front)),
        )

    return await _answer(request, render)


def _yaml_mapping(data: dict[str, Any], field: str) -> dict[str, Any]:
    """A form field holding a YAML mapping (a scenario or a plan), or a one-line error."""
    try:
        value = yaml.safe_load(data.get(field, ""))
    except yaml.YAMLError as err:
        raise InfercostError(field, "(YAML)", f"is not valid YAML: {err}") from None
    if not isinstance(value, dict):
        raise InfercostError(field, type(value).__name__, "a YAML mapping")
    return value


@router.post("/ui/simulate", response_class=HTMLResponse)
async def simulate_fragment(request: Request) -> HTMLResponse:
    server, data = state(request), await _form(request)

    def render() -> HTMLResponse:
        scenario = _yaml_mapping(data, "scenario")
        fields: dict[str, Any] = {"scenario": scenario}
        if "seed" in data:
            fields["seed"] = data["seed"]
        job = server.submit_simulation(_parse(SimulateRequest, fields))
        return _fragment(request, "_job.html", job=job.view())

    return await _answer(request, render)


@router.post("/ui/plan", response_class=HTMLResponse)
async def plan_fragment(request: Request) -> HTMLResponse:
    server, data = state(request), await _form(request)

    def render() -> HTMLResponse:
        raw = _yaml_mapping(data, "plan")
        job = server.submit_plan(_parse(PlanApiRequest, {"plan": raw}))
        return _fragment(request, "_job.html", job=job.view())

    return await _answer(request, render)


@router.post("/ui/audit", response_class=HTMLResponse)
async def audit_fragment(request: Request) -> HTMLResponse:
    server = state(request)
    form = await request.form()
    uploads = [
        (f.filename or f"upload-{i}", await f.read())
        for i, f in enumerate(form.getlist("files"))
        if isinstance(f, FormFile) and (f.filename or f.size)
    ]
    fields = {
        k: v for k, v in form.items() if k != "files" and isinstance(v, str) and v.strip() != ""
    }

    def render() -> HTMLResponse:
        report = server.audit_upload(uploads, _parse(AuditFields, fields))
        return _fragment(
            request,
            "_audit.html",
            report=report,
            headline=audit_headline(report),
            figure=figure_json(audit_figure(report)),
        )

    return await _answer(request, render)


@router.get("/ui/jobs/{job_id}", response_class=HTMLResponse)
def job_fragment(job_id: str, request: Request) -> Response:
    server = state(request)
    job = server.jobs.get(job_id)
    if job is None:
        return _error(request, f"no job {job_id!r}", 404)
    if job.status == "done" and job.kind == "plan":
        result = PlanResult.model_validate(job.result)
        figure = figure_json(plan_figure(result))
        return _fragment(request, "_plan.html", r=result, figure=figure, job=job.view())
    if job.status == "done":
        result = job.result
        figure = figure_json(simulation_figure(result["scenario"], result["plots"]))
        return _fragment(request, "_simulation.html", result=result, figure=figure)
    if job.status == "failed":
        return _error(request, job.error or "failed", 200)
    return _fragment(request, "_job.html", job=job.view())


@router.post("/ui/price/decode", response_class=HTMLResponse)
async def decode_fragment(request: Request) -> HTMLResponse:
    server, data = state(request), await _form(request)

    def render() -> HTMLResponse:
        decoded = server.price_decode(_parse(PriceDecodeRequest, data))
        return _fragment(request, "_decode.html", d=decoded)

    return await _answer(request, render)


@router.post("/ui/price/sheet", response_class=HTMLResponse)
async def sheet_fragment(request: Request) -> HTMLResponse:
    server, data = state(request), await _form(request)

    def render() -> HTMLResponse:
        derived = server.price_sheet(_parse(PriceSheetRequest, data))
        return _fragment(request, "_sheet.html", s=derived)

    return await _answer(request, render)
