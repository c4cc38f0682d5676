"""Against a real uvicorn server on loopback: oversized and malformed requests are refused with a
clear 4xx and the server keeps answering."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from infercost.api import Limits, create_app


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    limits = Limits(max_body_bytes=10_000, max_upload_bytes=50_000)
    server = uvicorn.Server(
        uvicorn.Config(create_app(limits=limits), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def serving(base_url: str) -> None:
    body = {"model": "llama-3.1-8b", "hardware": "h100-sxm"}
    assert httpx.post(f"{base_url}/api/estimate", json=body).status_code == 200


def test_a_large_body_is_413_and_the_server_serves_on(base_url: str) -> None:
    response = httpx.post(
        f"{base_url}/api/estimate",
        content=b'{"model": "' + b"x" * 200_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "larger than the server's limit of 10,000 bytes" in response.json()["detail"]
    serving(base_url)


def test_a_streamed_body_over_the_limit_is_413(base_url: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 1_000

    response = httpx.post(
        f"{base_url}/api/estimate", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    serving(base_url)


def test_a_large_upload_is_413(base_url: str) -> None:
    files = {"file": ("big.csv", b"a,b\n" * 40_000, "text/csv")}
    response = httpx.post(f"{base_url}/api/validate", files=files)
    assert response.status_code == 413
    serving(base_url)


def test_a_malformed_upload_is_400(base_url: str) -> None:
    files = {"file": ("rows.csv", b"\x89PNG\r\n\x1a\n binary", "text/csv")}
    response = httpx.post(f"{base_url}/api/validate", files=files)
    assert response.status_code == 400
    assert "not UTF-8" in response.json()["detail"]
    serving(base_url)
