"""An app over a data directory holding one of every kind of file a request may name."""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", message=".*httpx2.*")  # starlette's TestClient notice

from fastapi.testclient import TestClient  # noqa: E402

from infercost.api import Limits, create_app  # noqa: E402
from infercost.catalog import DATA  # noqa: E402

REPO = Path(__file__).parents[2]
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    (root / "models" / "my-8b").mkdir(parents=True)
    shutil.copy(DATA / "models" / "llama-3.1-8b.json", root / "models" / "my-8b" / "config.json")
    shutil.copy(EXAMPLES / "hardware-hypothetical.yaml", root / "fast-h100.yaml")
    (root / "traces").mkdir()
    shutil.copy(EXAMPLES / "traces" / "azure-sample.csv", root / "traces" / "azure.csv")
    (root / "scenarios").mkdir()
    (root / "scenarios" / "trace.yaml").write_text(
        "name: trace-in-data-dir\n"
        "model: llama-3.1-8b\n"
        "deployment: {hardware: h100-sxm, tp: 1}\n"
        "workload:\n"
        "  requests: 40\n"
        "  arrival: {kind: trace, path: ../traces/azure.csv, format: azure}\n"
    )
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.yaml").write_text("id: secret\n")
    (root / "link.yaml").symlink_to(outside / "secret.yaml")
    return root


def client_for(app: object) -> TestClient:
    return TestClient(app)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def client(data_dir: Path) -> Iterator[TestClient]:
    limits = Limits(max_sim_requests=2_000, max_grid_points=256)
    with client_for(create_app(data_dir, limits=limits)) as c:
        yield c


@pytest.fixture(scope="session")
def bare_client() -> Iterator[TestClient]:
    """No data directory: catalog ids only."""
    with client_for(create_app()) as c:
        yield c


def dumps(data: object) -> object:
    """The JSON round trip a response goes through (tuples become lists, floats stay exact)."""
    return json.loads(json.dumps(data))
