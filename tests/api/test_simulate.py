"""Simulations as jobs: progress, a result URL, the same summary as `simulate()`, and limits."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from infercost import simulate
from infercost.api import Limits, create_app
from infercost.api.errors import finite
from infercost.api.jobs import JobStore
from infercost.errors import InfercostError

from .conftest import dumps

SCENARIO: dict[str, Any] = {
    "name": "api-test",
    "model": "llama-3.1-8b",
    "deployment": {"hardware": "h100-sxm", "tp": 1},
    "workload": {
        "seed": 3,
        "requests": 120,
        "arrival": {"kind": "poisson", "rate_rps": 6},
        "classes": [{"name": "chat", "prompt": 400, "output": 120}],
    },
}


def wait(client: TestClient, status_url: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = client.get(status_url).json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def test_a_simulation_job_gives_the_library_summary(client: TestClient) -> None:
    started = client.post("/api/simulate", json={"scenario": SCENARIO, "seed": 11})
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["progress"]["total"] == 120
    assert job["status_url"] == f"/api/jobs/{job['id']}"
    done = wait(client, job["status_url"])
    assert done["status"] == "done", done
    assert done["progress"]["done"] == 120
    result = client.get(done["result_url"]).json()
    expected = simulate(SCENARIO, seed=11)
    assert result["summary"] == dumps(finite(expected.summary))
    assert result["price_sources"] == expected.price_sources
    cdf = result["plots"]["cdf_ms"]["TTFT"]
    assert cdf["p"][-1] == 1.0 and cdf["x"] == sorted(cdf["x"])


def test_a_scenario_file_in_the_data_dir_with_a_trace_beside_it(client: TestClient) -> None:
    started = client.post("/api/simulate", json={"scenario_file": "scenarios/trace.yaml"})
    assert started.status_code == 202, started.text
    done = wait(client, started.json()["status_url"])
    assert done["status"] == "done", done
    result = client.get(done["result_url"]).json()
    assert result["scenario"] == "trace-in-data-dir"
    assert result["summary"]["requests"] == 40


@pytest.mark.parametrize(
    ("change", "where", "why"),
    [
        (
            {
                "arrival": {
                    "kind": "trace",
                    "path": "/etc/hosts",
                    "format": "azure",
                    "lengths_from": "classes",
                }
            },
            "scenario.workload.arrival.path",
            "not absolute",
        ),
        (
            {
                "arrival": {
                    "kind": "trace",
                    "path": "../../x.csv",
                    "format": "azure",
                    "lengths_from": "classes",
                }
            },
            "scenario.workload.arrival.path",
            "inside the data directory",
        ),
        ({"requests": 5_000}, "scenario.workload.requests", "at most 2000"),
        ({"requests": None, "duration_s": 60}, "scenario.workload.requests", "set it"),
    ],
)
def test_unsafe_or_unbounded_scenarios_are_refused(
    client: TestClient, change: dict[str, Any], where: str, why: str
) -> None:
    workload = {**SCENARIO["workload"], **change}
    workload = {k: v for k, v in workload.items() if v is not None}
    response = client.post("/api/simulate", json={"scenario": {**SCENARIO, "workload": workload}})
    assert response.status_code == 400, response.text
    assert response.json()["field"] == where
    assert why in response.json()["detail"]


def test_a_scenario_mistake_is_422_and_one_of_scenario_or_file(client: TestClient) -> None:
    bad = {**SCENARIO, "scheduler": {"batching": "sometimes"}}
    response = client.post("/api/simulate", json={"scenario": bad})
    assert response.status_code == 422
    assert response.json()["message"].startswith("scenario.scheduler.batching")
    neither = client.post("/api/simulate", json={})
    assert neither.status_code == 400
    assert "exactly one of" in neither.json()["detail"]


def test_a_model_that_does_not_fit_fails_the_job_with_the_message(client: TestClient) -> None:
    scenario = {**SCENARIO, "model": "llama-3.1-405b"}
    started = client.post("/api/simulate", json={"scenario": scenario})
    done = wait(client, started.json()["status_url"])
    assert done["status"] == "failed"
    assert "does not fit" in done["error"]
    assert client.get(f"/api/jobs/{done['id']}/result").status_code == 409


def test_unknown_jobs_are_404(client: TestClient) -> None:
    assert client.get("/api/jobs/nope").status_code == 404
    assert client.get("/api/jobs/nope/result").status_code == 404


def test_a_simulation_over_the_time_limit_stops_with_a_message(data_dir: Path) -> None:
    limits = Limits(max_sim_seconds=0.001)
    with TestClient(create_app(data_dir, limits=limits)) as c:
        started = c.post("/api/simulate", json={"scenario": SCENARIO})
        done = wait(c, started.json()["status_url"])
    assert done["status"] == "failed"
    assert "server's limit per simulate job" in done["error"]
    assert done["progress"]["done"] < 120


def test_the_queue_is_bounded() -> None:
    store = JobStore(max_queued=1, max_kept=4)
    release = threading.Event()
    first = store.submit("slow", 1, lambda progress: release.wait(10), max_seconds=60)
    with pytest.raises(InfercostError, match="at most 1 jobs"):
        store.submit("slow", 1, lambda progress: None, max_seconds=60)
    release.set()
    while store.get(first.id).status != "done":  # type: ignore[union-attr]
        time.sleep(0.01)
    second = store.submit("fast", 1, lambda progress: 42, max_seconds=60)
    while store.get(second.id).status != "done":  # type: ignore[union-attr]
        time.sleep(0.01)
    assert store.get(second.id).result == 42  # type: ignore[union-attr]
    store.shutdown()


def test_old_finished_jobs_are_forgotten() -> None:
    store = JobStore(max_queued=2, max_kept=2)
    ids = []
    for i in range(5):
        job = store.submit("n", 1, lambda progress, i=i: i, max_seconds=60)
        while job.status != "done":
            time.sleep(0.01)
        ids.append(job.id)
    kept = [i for i in ids if store.get(i) is not None]
    assert ids[-1] in kept and ids[0] not in kept and len(kept) <= 3
    store.shutdown()


def test_yaml_scenario_round_trips_through_the_schema() -> None:
    """The request model is the library's Scenario: an example file goes through unchanged."""
    from infercost.api.schemas import SimulateRequest
    from infercost.sim.scenario import load_scenario

    path = Path(__file__).parents[2] / "examples" / "simulate-chat.yaml"
    request = SimulateRequest.model_validate({"scenario": yaml.safe_load(path.read_text())})
    assert request.scenario == load_scenario(path)


def test_shutting_down_stops_the_running_job() -> None:
    store = JobStore(max_queued=2, max_kept=4)
    started = threading.Event()

    def endless(progress: Any) -> None:
        started.set()
        while True:
            progress.advance()
            time.sleep(0.001)

    job = store.submit("endless", 0, endless, max_seconds=600)
    assert started.wait(10)
    store.shutdown()
    while job.status == "running":
        time.sleep(0.01)
    assert job.status == "failed" and "shut down" in (job.error or "")
