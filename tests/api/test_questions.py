"""Frontier, compare, prices, cost and the catalog over HTTP answer what the library answers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from infercost import catalog, frontier
from infercost.econ.compare import compare
from infercost.econ.frontier import layout_frontier
from infercost.econ.price_decode import decode_sheet
from infercost.econ.price_derive import derive_sheet
from infercost.econ.price_sheets import price_sheet, price_sheets
from infercost.econ.workload_cost import cost_workload, load_workload
from infercost.report.frontier_plot import frontier_json

from .conftest import EXAMPLES, dumps


def test_frontier_equals_the_library(client: TestClient) -> None:
    fields = {"model": "llama-3.1-70b", "hardware": "h100-sxm", "isl": 2048, "speed": 2}
    response = client.post("/api/frontier", json=fields)
    assert response.status_code == 200, response.text
    front = frontier("llama-3.1-70b", "h100-sxm", isl=2048)
    assert response.json() == dumps(frontier_json(front, front.fast_mode(2)))
    assert response.json()["fast_mode"]["speed_requested"] == 2


def test_frontier_at_chosen_batches(client: TestClient) -> None:
    fields = {"model": "llama-3.1-8b", "hardware": "a100-sxm-80gb", "batches": [1, 5, 7, 33]}
    body = client.post("/api/frontier", json=fields).json()
    assert [p["batch"] for p in body["points"]] == [1, 5, 7, 33]
    front = frontier("llama-3.1-8b", "a100-sxm-80gb", batches=[1, 5, 7, 33])
    assert body == dumps(frontier_json(front))


def test_frontier_across_chip_counts(client: TestClient) -> None:
    fields = {"model": "llama-3.1-70b", "hardware": "h100-sxm", "sweep_chips": [1, 2, 4, 8]}
    body = client.post("/api/frontier", json=fields).json()
    points, skipped = layout_frontier("llama-3.1-70b", "h100-sxm", [1, 2, 4, 8])
    assert body["points"] == dumps([p.model_dump(mode="json") for p in points])
    assert set(body["skipped"]) == {str(n) for n in skipped}
    assert "1" in body["skipped"]  # 140 GB of weights do not fit one 80 GB chip


def test_grid_over_the_server_limit_is_400(client: TestClient) -> None:
    # the fixture's limit is 256 points; 100 batches × 4 chip counts = 400
    fields = {
        "model": "llama-3.1-8b",
        "hardware": "h100-sxm",
        "batches": list(range(1, 101)),
        "sweep_chips": [1, 2, 4, 8],
    }
    response = client.post("/api/frontier", json=fields)
    assert response.status_code == 400
    assert "at most 256 points" in response.json()["detail"]


def test_compare_equals_the_library(client: TestClient) -> None:
    fields = {"model": "llama-3.1-70b", "hardware": ["h100-sxm", "h200"], "isl": 2048}
    response = client.post("/api/compare", json=fields)
    assert response.status_code == 200, response.text
    assert response.json() == dumps(
        compare("llama-3.1-70b", ["h100-sxm", "h200"], isl=2048).to_dict()
    )


def test_compare_prices_a_spec_file_by_its_relative_path(
    client: TestClient, data_dir: Path
) -> None:
    fields = {
        "model": "llama-3.1-8b",
        "hardware": ["h100-sxm", "fast-h100.yaml"],
        "price_per_hour": {"fast-h100.yaml": 2.99},
    }
    response = client.post("/api/compare", json=fields)
    assert response.status_code == 200, response.text
    path = str(data_dir / "fast-h100.yaml")
    expected = compare("llama-3.1-8b", ["h100-sxm", path], price_per_hour={path: 2.99})
    assert response.json() == dumps(expected.to_dict())


def test_price_decode_equals_the_library(client: TestClient) -> None:
    sheet_id = sorted(price_sheets())[0]
    fields = {"sheet": sheet_id, "like": "llama-3.1-70b", "hardware": "h100-sxm", "batch": 32}
    response = client.post("/api/price/decode", json=fields)
    assert response.status_code == 200, response.text
    expected = decode_sheet(price_sheet(sheet_id), "llama-3.1-70b", "h100-sxm", batch=32)
    assert response.json() == dumps(expected.model_dump(mode="json"))


def test_unknown_sheet_is_400_with_a_hint(client: TestClient) -> None:
    response = client.post("/api/price/decode", json={"sheet": "openai/gpt-55555"})
    assert response.status_code == 400
    assert response.json()["field"] == "price sheet"


def test_price_sheet_equals_the_library(client: TestClient) -> None:
    fields = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "margin": 0.5, "utilization": 0.6}
    response = client.post("/api/price/sheet", json=fields)
    assert response.status_code == 200, response.text
    derived = derive_sheet("llama-3.1-8b", "h100-sxm", margin=0.5, utilization=0.6)
    body = response.json()
    # the sheet is dated today: compare everything the two runs share
    assert body["derived"] == dumps(derived.model_dump(mode="json"))
    assert body["sheet"]["output_usd_per_mtok"] == derived.output_usd_per_mtok


@pytest.mark.parametrize("example", ["cost-agent.yaml", "cost-mix.yaml"])
def test_cost_of_the_examples_equals_the_library(client: TestClient, example: str) -> None:
    body = yaml.safe_load((EXAMPLES / example).read_text())
    response = client.post("/api/cost", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == dumps(
        cost_workload(load_workload(EXAMPLES / example)).model_dump(mode="json")
    )


def test_cost_mistakes(client: TestClient) -> None:
    body = yaml.safe_load((EXAMPLES / "cost-agent.yaml").read_text())
    body["tasks"][0]["share"] = 0.1  # shares no longer sum to 1
    response = client.post("/api/cost", json=body)
    assert response.status_code == 422
    assert "shares must sum to 1" in response.json()["message"]
    body = yaml.safe_load((EXAMPLES / "cost-agent.yaml").read_text())
    body["pricing"] = {"sheet": "../../etc/prices.yaml"}
    response = client.post("/api/cost", json=body)
    assert response.status_code == 400
    assert response.json()["field"] == "pricing.sheet"


def test_catalog_listings(client: TestClient) -> None:
    hardware = client.get("/api/hardware").json()
    assert [h["id"] for h in hardware] == catalog.hardware_ids()
    assert all(h["source"] for h in hardware)
    models = client.get("/api/models").json()
    assert [m["id"] for m in models] == catalog.model_ids()
    one = next(m for m in models if m["id"] == "llama-3.1-70b")
    assert one["total_params"] == catalog.model("llama-3.1-70b").total_params
    sheets = client.get("/api/prices/sheets").json()
    assert {s["id"] for s in sheets} == set(price_sheets())
    assert len(client.get("/api/prices/chips").json()) == len(catalog.chip_prices())
    assert [f["id"] for f in client.get("/api/formats").json()] == catalog.format_ids()


def test_catalog_items_and_404s(client: TestClient) -> None:
    h100 = client.get("/api/hardware/h100").json()  # an alias
    assert h100["id"] == "h100-sxm"
    assert (
        h100["default_price"]["usd_per_chip_hour"]
        == catalog.default_price("h100-sxm").usd_per_chip_hour
    )  # type: ignore[union-attr]
    assert client.get("/api/hardware/not-a-chip").status_code == 404
    assert client.get("/api/hardware/fast-h100.yaml").status_code == 404  # ids only: no files
    assert client.get("/api/models/llama-3.1-8b").json()["layer_groups"]
    assert client.get("/api/models/..%2F..%2Fetc").status_code == 404
    sheet_id = sorted(price_sheets())[0]
    assert client.get(f"/api/prices/sheets/{sheet_id}").json()["id"] == sheet_id
    assert client.get("/api/prices/sheets/nobody/nothing").status_code == 404
