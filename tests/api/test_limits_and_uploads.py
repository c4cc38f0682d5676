"""Oversized bodies and malformed uploads get 4xx with a clear message; the server keeps serving."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from infercost.api import Limits, create_app
from infercost.validation import validate
from infercost.validation.rows import COLUMNS

from .conftest import dumps

ROWS = [
    # id, model, hardware, chips, weights, tp, engine, isl, osl, concurrency, scenario, metric, value
    (
        "T1",
        "llama-3.1-8b",
        "h100-sxm",
        1,
        "bf16",
        1,
        "vllm",
        1024,
        256,
        1,
        "single-stream",
        "tpot_ms",
        7.0,
    ),
    (
        "T2",
        "llama-3.1-70b",
        "h100-sxm",
        4,
        "bf16",
        4,
        "vllm",
        1024,
        256,
        1,
        "single-stream",
        "tpot_ms",
        20.0,
    ),
    (
        "T3",
        "llama-3.1-8b",
        "h100-sxm",
        1,
        "fp8",
        1,
        "trtllm",
        128,
        128,
        64,
        "fixed-batch",
        "output_tps",
        9000,
    ),
    (
        "T4",
        "not-a-model",
        "h100-sxm",
        1,
        "bf16",
        1,
        "vllm",
        128,
        128,
        1,
        "single-stream",
        "tpot_ms",
        5.0,
    ),
]


def validation_csv() -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for rid, model, hw, chips, w, tp, eng, isl, osl, conc, scen, metric, value in ROWS:
        writer.writerow(
            {
                "id": rid,
                "source": "hand-made test rows",
                "model": model,
                "hardware": hw,
                "chips": chips,
                "weights": w,
                "tp": tp,
                "pp": 1,
                "engine": eng,
                "isl": isl,
                "osl": osl,
                "concurrency": conc,
                "scenario": scen,
                "metric": metric,
                "value": value,
            }
        )
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def small() -> Iterator[TestClient]:
    limits = Limits(max_body_bytes=2_000, max_upload_bytes=20_000)
    with TestClient(create_app(limits=limits)) as c:
        yield c


def still_serving(client: TestClient) -> None:
    ok = client.post("/api/estimate", json={"model": "llama-3.1-8b", "hardware": "h100-sxm"})
    assert ok.status_code == 200


def test_a_json_body_over_the_limit_is_413(small: TestClient) -> None:
    body = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "pad": "x" * 5_000}
    response = small.post("/api/estimate", json=body)
    assert response.status_code == 413
    assert "larger than the server's limit of 2,000 bytes" in response.json()["detail"]
    still_serving(small)


def test_a_chunked_body_over_the_limit_is_413(small: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "llama-3.1-8b", "hardware": "h100-sxm", "pad": "'
        for _ in range(10):
            yield b"x" * 1_000
        yield b'"}'

    response = small.post(
        "/api/estimate", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    still_serving(small)


def test_an_upload_over_its_limit_is_413(small: TestClient) -> None:
    big = validation_csv() + b"\n" * 30_000
    response = small.post("/api/validate", files={"file": ("rows.csv", big, "text/csv")})
    assert response.status_code == 413
    assert "20,000 bytes" in response.json()["detail"]
    still_serving(small)


def test_an_uploaded_file_is_scored_like_validate(small: TestClient, tmp_path: Path) -> None:
    content = validation_csv()
    response = small.post("/api/validate", files={"file": ("rows.csv", content, "text/csv")})
    assert response.status_code == 200, response.text
    path = tmp_path / "rows.csv"
    path.write_bytes(content)
    expected = validate(path)
    body = response.json()
    assert body["summary"] == dumps(expected.summary())
    assert [r["predicted"] for r in body["rows"]] == [r.predicted for r in expected.rows]
    assert body["summary"]["rows"] == 4 and body["summary"]["covered"] == 3
    assert body["rows"][3]["predicted"] is None and body["rows"][3]["reason"]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\xff\xfe\x00binary\x00junk", "not UTF-8"),
        (b"just,some,columns\n1,2,3\n", "missing columns"),
        (b"", "missing columns"),
        (",".join(COLUMNS).encode() + b"\n", "holds no rows"),
    ],
)
def test_malformed_uploads_are_400_with_a_message(
    small: TestClient, content: bytes, why: str
) -> None:
    response = small.post("/api/validate", files={"file": ("bad.csv", content, "text/csv")})
    assert response.status_code == 400, response.text
    assert why in response.json()["detail"]
    assert response.json()["value"] == "bad.csv"
    still_serving(small)


def test_an_upload_without_the_file_field_is_422(small: TestClient) -> None:
    response = small.post("/api/validate", files={"other": ("x.csv", b"a,b\n", "text/csv")})
    assert response.status_code == 422
    assert response.json()["message"].startswith("file: ")
    not_multipart = small.post("/api/validate", json={"file": "x"})
    assert not_multipart.status_code == 422
    still_serving(small)


def test_a_broken_multipart_body_is_4xx(small: TestClient) -> None:
    response = small.post(
        "/api/validate",
        content=b'--XYZ\r\nContent-Disposition: form-data; name="file"\r\n\r\nno end',
        headers={"content-type": "multipart/form-data; boundary=XYZ"},
    )
    assert 400 <= response.status_code < 500
    still_serving(small)


def test_a_bad_content_length_is_400(small: TestClient) -> None:
    response = small.post(
        "/api/estimate",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": "x"},
    )
    assert response.status_code in (400, 422)
    still_serving(small)
