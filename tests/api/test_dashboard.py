"""Dashboard pages and fragments: served offline, and the numbers are the library's."""

from __future__ import annotations

import json
import re
import time
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from infercost import estimate, frontier
from infercost.api import create_app
from infercost.api.app import default_validation_csv
from infercost.econ.price_sheets import price_sheets
from infercost.validation import validate

PAGES = ["/", "/frontier", "/simulate", "/prices", "/accuracy", "/docs"]
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)


def numbers(html: str) -> dict[str, object]:
    """data-key → data-value of every number shown (the last one of a key wins)."""
    pairs = re.findall(r"data-key=\"([^\"]+)\" data-value='([^']*)'", html)
    return {k: json.loads(v) for k, v in pairs}


@pytest.mark.parametrize("path", PAGES)
def test_pages_load_nothing_from_another_host(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert not EXTERNAL.search(response.text), EXTERNAL.search(response.text)
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', response.text):
        assert client.get(asset).status_code == 200, asset


def test_dashboard_pages_forbid_other_origins(client: TestClient) -> None:
    csp = client.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp


def test_plotly_is_the_plotly_package_build(client: TestClient) -> None:
    served = client.get("/static/vendor/plotly.min.js").content
    assert served == (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()


def test_calculator_fragment_shows_the_estimate(client: TestClient) -> None:
    form = {"model": "llama-3.1-70b", "hardware": "h100-sxm", "tp": "4", "batch": "32", "kv": ""}
    response = client.post("/ui/estimate", data=form)
    assert response.status_code == 200, response.text
    shown = numbers(response.text)
    est = estimate("llama-3.1-70b", "h100-sxm", tp=4, batch=32)
    for key in (
        "ttft_ms",
        "tpot_ms",
        "output_tps",
        "usd_per_mtok_output",
        "max_concurrent_sequences",
    ):
        assert shown[key] == getattr(est, key)
    assert shown["breakdown.weights_ms"] == est.breakdown.weights_ms
    assert shown["prefill_breakdown.compute_ms"] == est.prefill_breakdown.compute_ms
    assert 'class="plot" data-figure=' in response.text


def test_calculator_mistakes_render_one_line(client: TestClient) -> None:
    bad = client.post(
        "/ui/estimate", data={"model": "llama-3.1-8b", "hardware": "h100-sxm", "batch": "-1"}
    )
    assert bad.status_code == 422
    assert 'data-testid="error"' in bad.text and "batch:" in bad.text
    wont_fit = client.post(
        "/ui/estimate", data={"model": "llama-3.1-405b", "hardware": "h100-sxm", "chips": "1"}
    )
    assert wont_fit.status_code == 400
    assert "does not fit" in wont_fit.text


def test_frontier_fragment_shows_every_point(client: TestClient) -> None:
    response = client.post("/ui/frontier", data={"model": "llama-3.1-70b", "hardware": "h100-sxm"})
    assert response.status_code == 200, response.text
    front = frontier("llama-3.1-70b", "h100-sxm")
    rows = re.findall(r'<tr data-batch="(\d+)">', response.text)
    assert [int(b) for b in rows] == [p.batch for p in front.points]
    assert numbers(response.text)["latency_floor_ms"] == front.latency_floor_ms


def test_simulate_page_runs_a_job_to_its_result(client: TestClient) -> None:
    page = client.get("/simulate").text
    example = re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S)
    assert example is not None
    import html

    started = client.post("/ui/simulate", data={"scenario": html.unescape(example.group(1))})
    assert started.status_code == 200, started.text
    job_id = re.search(r'hx-get="/ui/jobs/([0-9a-f]+)"', started.text)
    assert job_id is not None
    for _ in range(2400):
        fragment = client.get(f"/ui/jobs/{job_id.group(1)}").text
        if 'data-testid="simulation-result"' in fragment:
            break
        time.sleep(0.05)
    assert numbers(fragment)["requests"] == 400
    bad = client.post("/ui/simulate", data={"scenario": "name: [unclosed"})
    assert bad.status_code == 400 and "not valid YAML" in bad.text


def test_prices_page_and_fragments(client: TestClient) -> None:
    page = client.get("/prices").text
    assert 'data-testid="sheets"' in page
    sheet_id = sorted(price_sheets())[0]
    assert f'data-sheet="{sheet_id}"' in page
    form = {"sheet": sheet_id, "like": "llama-3.1-70b", "hardware": "h100-sxm"}
    decoded = client.post("/ui/price/decode", data=form)
    assert decoded.status_code == 200 and 'data-testid="decode-result"' in decoded.text
    sheet = client.post("/ui/price/sheet", data={"model": "llama-3.1-8b", "hardware": "h100-sxm"})
    assert sheet.status_code == 200 and 'data-testid="sheet-result"' in sheet.text


def test_accuracy_page_without_the_shipped_data(tmp_path: Path) -> None:
    with TestClient(create_app(validation_csv=tmp_path / "missing.csv")) as c:
        assert 'data-testid="no-validation"' in c.get("/accuracy").text
        assert c.get("/api/validate/shipped").status_code == 404


@pytest.mark.skipif(
    default_validation_csv() is None, reason="shared/validation/dev.csv not present"
)
def test_accuracy_is_the_validate_summary(client: TestClient) -> None:
    path = default_validation_csv()
    assert path is not None
    expected = validate(path).summary()
    body = client.get("/api/validate/shipped").json()
    assert body["summary"]["mdape_pct"] == expected["mdape_pct"]
    assert body["summary"]["covered"] == expected["covered"]
    shown = numbers(client.get("/accuracy").text)
    assert shown["mdape_pct"] == expected["mdape_pct"]
    assert shown["within_25_pct"] == expected["within_25_pct"]
