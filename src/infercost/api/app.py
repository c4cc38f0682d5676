"""`create_app`: the FastAPI application — JSON API, dashboard, offline API docs, static files."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from infercost import __version__, catalog
from infercost.api import errors
from infercost.api.datadir import DataDir
from infercost.api.jobs import JobStore
from infercost.api.limits import BodySizeLimit, Limits
from infercost.api.routers import api, dashboard
from infercost.api.service import ServerState
from infercost.econ.price_sheets import price_sheets
from infercost.estimation import estimate

STATIC = Path(__file__).parent / "static"


def default_validation_csv() -> Path | None:
    """The shipped measurements: $INFERCOST_VALIDATION_CSV, else `shared/validation/dev.csv`
    beside a source checkout (where `.ci/run` and the tests find it)."""
    env = os.environ.get("INFERCOST_VALIDATION_CSV")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[3]  # src/infercost/api/app.py → the checkout
    candidate = checkout.parent / "shared" / "validation" / "dev.csv"
    return candidate if candidate.is_file() else None


def warm_up() -> None:
    """Read the catalogs once before the first request: many first requests at once would each
    parse them (the lookups are cached, but not locked), and wait seconds for one another."""
    catalog.all_hardware()
    catalog.chip_prices()
    price_sheets()
    estimate("llama-3.1-8b", "h100-sxm")
    # the catalogs and modules loaded so far live as long as the server: keep the cyclic garbage
    # collector from walking them on every collection (fewer long pauses under load)
    gc.collect()
    gc.freeze()


def create_app(
    data_dir: Path | str | None = None,
    *,
    limits: Limits | None = None,
    validation_csv: Path | str | None = None,
) -> FastAPI:
    """The server. Requests may read files only under `data_dir` (none without it)."""
    chosen = limits or Limits()
    jobs = JobStore(max_queued=chosen.max_queued_jobs, max_kept=chosen.max_kept_jobs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(warm_up)
        yield
        jobs.shutdown()

    app = FastAPI(
        title="infercost",
        version=__version__,
        description=(
            "LLM inference economics over HTTP: the same library calls as the `infercost` CLI. "
            "Mistakes answer 400 with one line (field, value, what is allowed); malformed "
            "requests 422; bodies over the server's limit 413."
        ),
        docs_url=None,  # served below from the package: nothing from a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.infercost = ServerState(
        data=DataDir(Path(data_dir) if data_dir is not None else None),
        limits=chosen,
        jobs=jobs,
        validation_csv=Path(validation_csv) if validation_csv else default_validation_csv(),
    )
    errors.install(app)
    app.add_middleware(BodySizeLimit, limits=chosen)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="infercost API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": True},
        )

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        """plotly.js from the installed plotly package: the same build the reports inline."""
        path = resources.files("plotly") / "package_data" / "plotly.min.js"
        return FileResponse(
            str(path),
            media_type="text/javascript",
            headers={"cache-control": "public, max-age=86400"},
        )

    app.include_router(api.router)
    app.include_router(dashboard.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
