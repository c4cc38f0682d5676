"""POST /api/estimate answers exactly what `estimate()` and `infercost estimate --json` answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from infercost import estimate
from infercost.cli import app as cli_app
from infercost.errors import InfercostError

from .conftest import dumps

CASES = [
    {"model": "llama-3.1-8b", "hardware": "h100-sxm"},
    {"model": "llama-3.1-70b", "hardware": "h100-sxm", "tp": 4, "batch": 32, "isl": 2048},
    {"model": "mixtral-8x7b", "hardware": "h200", "chips": 2, "weights": "fp8", "kv": "fp8"},
    {"model": "llama-3.1-8b", "hardware": "a100-sxm-80gb", "price_per_hour": 1.5, "osl": 1000},
    {"model": "qwen3-30b-a3b", "hardware": "mi300x", "engine": "vllm", "batch": 8},
]


@pytest.mark.parametrize("fields", CASES)
def test_estimate_equals_the_library(client: TestClient, fields: dict[str, object]) -> None:
    response = client.post("/api/estimate", json=fields)
    assert response.status_code == 200, response.text
    args = {k: v for k, v in fields.items() if k not in ("model", "hardware")}
    expected = estimate(fields["model"], fields["hardware"], **args)  # type: ignore[arg-type]
    assert response.json() == dumps(expected.model_dump(mode="json"))


def test_estimate_equals_the_cli_json(client: TestClient) -> None:
    fields = CASES[1]
    cli = CliRunner().invoke(
        cli_app,
        [
            "estimate",
            "llama-3.1-70b",
            "-H",
            "h100-sxm",
            "--tp",
            "4",
            "--batch",
            "32",
            "--isl",
            "2048",
            "--json",
        ],
    )
    assert cli.exit_code == 0, cli.output
    assert client.post("/api/estimate", json=fields).json() == json.loads(cli.stdout)


@settings(max_examples=15, deadline=None)
@given(
    batch=st.integers(1, 256),
    isl=st.integers(1, 32_768),
    osl=st.integers(2, 8_192),
)
def test_any_workload_point_matches_the_library(
    client: TestClient, batch: int, isl: int, osl: int
) -> None:
    fields = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "batch": batch, "isl": isl}
    fields["osl"] = osl
    response = client.post("/api/estimate", json=fields)
    try:
        expected = estimate("llama-3.1-8b", "h100-sxm", batch=batch, isl=isl, osl=osl)
    except InfercostError as err:  # e.g. the batch's KV does not fit: the same line, as 400
        assert response.status_code == 400
        assert response.json()["detail"] == str(err)
        return
    assert response.status_code == 200
    assert response.json() == dumps(expected.model_dump(mode="json"))


# --- mistakes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"model": "llama-3.1-8b", "hardware": "h100-sxm", "batch": 0}, "batch"),
        ({"model": "llama-3.1-8b", "hardware": "h100-sxm", "batch": "many"}, "batch"),
        ({"model": "llama-3.1-8b", "hardware": "h100-sxm", "isl": -5}, "isl"),
        ({"model": "llama-3.1-8b", "hardware": "h100-sxm", "price_per_hour": -1}, "price_per_hour"),
        ({"model": "llama-3.1-8b", "hardware": "h100-sxm", "colour": "blue"}, "colour"),
        ({"hardware": "h100-sxm"}, "model"),
    ],
)
def test_malformed_requests_are_422_with_one_readable_line(
    client: TestClient, fields: dict[str, object], where: str
) -> None:
    response = client.post("/api/estimate", json=fields)
    assert response.status_code == 422
    body = response.json()
    assert body["message"].startswith(f"{where}: ")
    assert "\n" not in body["message"]
    assert body["detail"][0]["loc"][-1] == where


def test_not_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/api/estimate", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON" in response.json()["message"]


def test_unknown_hardware_is_400_with_the_library_message(client: TestClient) -> None:
    response = client.post("/api/estimate", json={"model": "llama-3.1-8b", "hardware": "h1000"})
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "hardware" and body["value"] == "h1000"
    with pytest.raises(ValueError) as err:
        estimate("llama-3.1-8b", "h1000")
    assert body["detail"] == str(err.value)


def test_a_model_that_does_not_fit_is_400_with_the_numbers(client: TestClient) -> None:
    response = client.post(
        "/api/estimate", json={"model": "llama-3.1-405b", "hardware": "h100-sxm", "chips": 1}
    )
    assert response.status_code == 400
    assert "does not fit" in response.json()["detail"]
    assert "GiB" in response.json()["detail"]


# --- files: only inside the data directory ----------------------------------------------------------


def test_a_config_in_the_data_dir_is_the_same_model(client: TestClient) -> None:
    mine = client.post(
        "/api/estimate", json={"model": "models/my-8b/config.json", "hardware": "h100-sxm"}
    ).json()
    ours = client.post("/api/estimate", json={"model": "llama-3.1-8b", "hardware": "h100-sxm"})
    for key in ("ttft_ms", "tpot_ms", "weights_bytes_per_chip", "kv_capacity_tokens"):
        assert mine[key] == ours.json()[key]


def test_a_hardware_spec_in_the_data_dir(client: TestClient, data_dir: Path) -> None:
    response = client.post(
        "/api/estimate",
        json={"model": "llama-3.1-8b", "hardware": "fast-h100.yaml", "price_per_hour": 2.99},
    )
    assert response.status_code == 200, response.text
    expected = estimate("llama-3.1-8b", str(data_dir / "fast-h100.yaml"), price_per_hour=2.99)
    assert response.json()["tpot_ms"] == expected.tpot_ms
    assert response.json()["hardware"] == "h100-sxm-2x-bw"


@pytest.mark.parametrize(
    ("field", "ref", "why"),
    [
        ("hardware", "/etc/passwd.yaml", "not absolute"),
        ("hardware", "../outside.yaml", "inside the data directory"),
        ("hardware", "models/../../escape.yaml", "inside the data directory"),
        ("hardware", "link.yaml", "inside the data directory"),  # a symlink leading out
        ("hardware", "missing.yaml", "no such file"),
        ("model", "/etc", "not absolute"),
        ("model", "../", "inside the data directory"),
        ("model", "nul\x00byte", "relative to the data directory"),
    ],
)
def test_paths_outside_the_data_dir_are_refused(
    client: TestClient, field: str, ref: str, why: str
) -> None:
    fields = {"model": "llama-3.1-8b", "hardware": "h100-sxm", field: ref}
    response = client.post("/api/estimate", json=fields)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert why in response.json()["detail"]


def test_without_a_data_dir_no_file_is_read(bare_client: TestClient) -> None:
    response = bare_client.post(
        "/api/estimate", json={"model": "llama-3.1-8b", "hardware": "fast-h100.yaml"}
    )
    assert response.status_code == 400
    assert "needs a data directory" in response.json()["detail"]
    response = bare_client.post(
        "/api/estimate", json={"model": "/etc/passwd", "hardware": "h100-sxm"}
    )
    assert response.status_code == 400
    assert "not a catalog model id" in response.json()["detail"]
    hint = bare_client.post("/api/estimate", json={"model": "llama-3.1-8", "hardware": "h100-sxm"})
    assert "did you mean llama-3.1-8b" in hint.json()["detail"]


def test_a_repeated_request_is_answered_the_same(client: TestClient) -> None:
    fields = {"model": "llama-3.1-8b", "hardware": "h200", "batch": 24, "isl": 777}
    first = client.post("/api/estimate", json=fields)
    again = client.post("/api/estimate", json=fields)
    assert first.content == again.content
    expected = estimate("llama-3.1-8b", "h200", batch=24, isl=777)
    assert again.json() == dumps(expected.model_dump(mode="json"))


def test_a_calibration_is_read_from_the_data_dir_only(client: TestClient) -> None:
    base = {"model": "llama-3.1-8b", "hardware": "h100-sxm"}
    outside = client.post("/api/estimate", json={**base, "calibration": "../cal.yaml"})
    assert outside.status_code == 400
    assert outside.json()["field"] == "calibration"
    assert "inside the data directory" in outside.json()["detail"]
    # a file that is there but is no calibration: the library's own one-line refusal
    not_one = client.post("/api/estimate", json={**base, "calibration": "fast-h100.yaml"})
    assert not_one.status_code == 400
