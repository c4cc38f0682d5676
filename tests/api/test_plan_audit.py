"""Plan (a job) and audit (file upload) over HTTP answer what `plan()` and `audit()` answer."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from infercost.api import Limits, create_app
from infercost.api.errors import finite
from infercost.api.routers.dashboard import EXAMPLE_PLAN
from infercost.api.service import _safe_name
from infercost.audit import audit
from infercost.cli import app as cli_app
from infercost.plan import plan

from .conftest import EXAMPLES, dumps

PLAN: dict[str, Any] = yaml.safe_load(EXAMPLE_PLAN)
PROM = EXAMPLES / "audit" / "vllm-day.prom"
SMI = EXAMPLES / "audit" / "nvidia-smi-day.csv"


def finished(client: TestClient, started: Any, timeout_s: float = 300) -> dict[str, Any]:
    assert started.status_code == 202, started.text
    url = started.json()["status_url"]
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = client.get(url).json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


# --- plan ------------------------------------------------------------------------------------------


def test_a_plan_job_gives_the_library_plan(client: TestClient) -> None:
    job = finished(client, client.post("/api/plan", json={"plan": PLAN}))
    assert job["status"] == "done", job
    body = client.get(job["result_url"]).json()
    expected = plan(PLAN).to_dict()
    assert set(body.pop("timings_s")) == {"screen", "verify", "total"}
    assert body == dumps(finite(expected))
    assert body["best"]["status"] == "winner"


def test_plan_options_as_the_cli_has_them(client: TestClient) -> None:
    fields = {"plan": PLAN, "hardware": ["h200"], "top": 1}
    job = finished(client, client.post("/api/plan", json=fields))
    assert job["status"] == "done", job
    body = client.get(job["result_url"]).json()
    assert {c["hardware"] for c in body["candidates"]} == {"h200"}


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        ({"search": {**PLAN["search"], "hardware": ["l40s"]}}, "search.prices", "no price"),
        (
            {"search": {**PLAN["search"], "hardware": ["../x.yaml"]}},
            "plan.search.hardware.0",
            "inside",
        ),
        ({"model": "/etc/passwd"}, "plan.model", "not absolute"),
    ],
)
def test_plan_mistakes_answer_now(
    client: TestClient, change: dict[str, Any], field: str, why: str
) -> None:
    response = client.post("/api/plan", json={"plan": {**PLAN, **change}})
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert why in response.json()["detail"]


def test_plan_schema_mistakes_are_422(client: TestClient) -> None:
    response = client.post("/api/plan", json={"plan": {**PLAN, "verify": {"top": 0}}})
    assert response.status_code == 422
    assert response.json()["message"].startswith("plan.verify.top")
    neither = client.post("/api/plan", json={})
    assert neither.status_code == 400 and "exactly one of" in neither.json()["detail"]


def test_a_plan_file_in_the_data_dir(client: TestClient, data_dir: Path) -> None:
    (data_dir / "plans").mkdir(exist_ok=True)
    (data_dir / "plans" / "chat.yaml").write_text(EXAMPLE_PLAN)
    job = finished(client, client.post("/api/plan", json={"plan_file": "plans/chat.yaml"}))
    assert job["status"] == "done", job


def test_a_plan_over_its_time_limit_stops_with_a_message() -> None:
    with TestClient(create_app(limits=Limits(max_plan_seconds=0.001))) as c:
        job = finished(c, c.post("/api/plan", json={"plan": PLAN}))
    assert job["status"] == "failed"
    assert "limit per plan job" in job["error"]


# --- audit -----------------------------------------------------------------------------------------


def test_an_audit_upload_equals_the_library(client: TestClient, tmp_path: Path) -> None:
    form = {"hardware": "h100-sxm", "model": "llama-3.1-8b", "price_per_hour": "2.99"}
    files = [("files", ("vllm-day.prom", PROM.read_bytes(), "text/plain"))]
    response = client.post("/api/audit", data=form, files=files)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = audit(
        [PROM], store=tmp_path / "s.duckdb", hardware="h100-sxm", model="llama-3.1-8b",
        price_per_hour=2.99,
    ).model_dump(mode="json")  # fmt: skip
    assert [f["path"] for f in body.pop("files")] == ["vllm-day.prom"]
    expected.pop("files")
    assert body == dumps(finite(expected))
    assert body["recommendations"]


def test_several_files_and_the_cli_options(client: TestClient) -> None:
    files = [
        ("files", ("vllm-day.prom", PROM.read_bytes(), "text/plain")),
        ("files", ("smi.csv", SMI.read_bytes(), "text/csv")),
    ]
    form = {"hardware": "h100-sxm", "model": "llama-3.1-8b", "isl": "1450", "osl": "230"}
    response = client.post("/api/audit", data=form, files=files)
    assert response.status_code == 200, response.text
    kinds = {f["path"]: f["kind"] for f in response.json()["files"]}
    assert kinds == {"vllm-day.prom": "prometheus", "smi.csv": "nvidia-smi"}


@pytest.mark.parametrize(
    ("name", "content", "form", "status", "why"),
    [
        ("junk.bin", b"\x00\x01\x02 not text", {}, 400, "junk.bin"),
        ("notes.txt", b"hello\nthis is not telemetry\n", {}, 400, "a file of a known kind"),
        ("vllm.prom", PROM.read_bytes(), {"model": "llama-3.1-8b"}, 400, "give both"),
        ("vllm.prom", PROM.read_bytes(), {"price_per_hour": "-3"}, 422, "price_per_hour"),
        (
            "vllm.prom",
            PROM.read_bytes(),
            {"hardware": "a.yaml", "model": "m"},
            400,
            "data directory",
        ),
    ],
)
def test_malformed_audit_uploads_are_4xx(
    bare_client: TestClient, name: str, content: bytes, form: dict[str, str], status: int, why: str
) -> None:
    response = bare_client.post("/api/audit", data=form, files=[("files", (name, content, "x/y"))])
    assert response.status_code == status, response.text
    assert why in response.text
    assert "/tmp" not in response.text  # the server's temporary folder is not shown
    ok = bare_client.post("/api/estimate", json={"model": "llama-3.1-8b", "hardware": "h100-sxm"})
    assert ok.status_code == 200


def test_too_many_files_or_none(data_dir: Path) -> None:
    with TestClient(create_app(limits=Limits(max_audit_files=2))) as c:
        files = [("files", (f"f{i}.prom", PROM.read_bytes(), "text/plain")) for i in range(3)]
        response = c.post("/api/audit", files=files)
        assert response.status_code == 400 and "at most 2" in response.json()["detail"]
        assert c.post("/api/audit", data={"hardware": "h100-sxm"}).status_code == 422


def test_upload_names_lose_their_folders() -> None:
    assert _safe_name("../../etc/passwd", 0) == "passwd"
    assert _safe_name("C:\\Users\\me\\metrics.prom", 1) == "metrics.prom"
    assert _safe_name("..", 2) == "upload-2"
    assert _safe_name("a b;rm -rf.csv", 3) == "a_b_rm_-rf.csv"


# --- dashboard and report --------------------------------------------------------------------------


def test_plan_and_audit_pages(client: TestClient) -> None:
    assert client.get("/plan").status_code == 200
    started = client.post("/ui/plan", data={"plan": EXAMPLE_PLAN})
    assert started.status_code == 200 and 'data-testid="job"' in started.text
    files = [("files", ("vllm-day.prom", PROM.read_bytes(), "text/plain"))]
    form = {"hardware": "h100-sxm", "model": "llama-3.1-8b"}
    done = client.post("/ui/audit", data=form, files=files)
    assert done.status_code == 200, done.text
    assert 'data-testid="audit-recommendations"' in done.text
    empty = client.post("/ui/audit", data=form)
    assert empty.status_code == 400 and "upload at least one" in empty.text


def test_report_plan_and_audit(tmp_path: Path) -> None:
    runner = CliRunner()
    spec = tmp_path / "plan.yaml"
    spec.write_text(EXAMPLE_PLAN)
    made = runner.invoke(cli_app, ["plan", str(spec), "--json", "--no-save"])
    assert made.exit_code == 0, made.output
    (tmp_path / "plan.json").write_text(made.stdout)
    result = runner.invoke(
        cli_app, ["report", "plan", str(tmp_path / "plan.json"), "--out", str(tmp_path / "p")]
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "p" / "report.html").read_text()
    assert "Plotly.newPlot" in page and "vllm serve" in page
    assert (tmp_path / "p" / "pareto.png").read_bytes().startswith(b"\x89PNG")
    report = audit([PROM], store=tmp_path / "a.duckdb", hardware="h100-sxm", model="llama-3.1-8b")
    (tmp_path / "a.json").write_text(report.model_dump_json())
    result = runner.invoke(
        cli_app, ["report", "audit", str(tmp_path / "a.json"), "--out", str(tmp_path / "a")]
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "a" / "report.html").read_text()
    assert "Plotly.newPlot" in page and report.recommendations[0].title in page
    assert (tmp_path / "a" / "audit.png").read_bytes().startswith(b"\x89PNG")
