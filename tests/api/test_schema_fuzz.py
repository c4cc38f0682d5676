"""Schemathesis over the OpenAPI schema: whatever a client sends, the server never answers 5xx."""

from __future__ import annotations

import warnings

import schemathesis
from hypothesis import HealthCheck, settings

from infercost.api import Limits, create_app

warnings.filterwarnings("ignore", message=".*httpx2.*")

# small simulations and grids so a few hundred generated requests fit in a couple of minutes
APP = create_app(
    limits=Limits(max_sim_requests=50, max_grid_points=64, max_sim_seconds=5, max_queued_jobs=2)
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:500]}"
    )
