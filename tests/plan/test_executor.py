"""Scale-out: the same plan inline, on a local process pool and on a local Ray instance."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from infercost.errors import InfercostError
from infercost.plan import plan
from infercost.plan.executor import LocalExecutor, make_executor

EXAMPLE = Path(__file__).parents[2] / "examples" / "plan-chat-70b.yaml"


def square(x: int) -> int:
    return x * x


def small(tmp_path: Path) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["search"]["hardware"] = ["h100-sxm", "h200", "mi300x"]
    data["verify"].update({"top": 3, "duration_s": 15, "warmup_s": 5, "max_rounds": 2})
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def answer(p: Any) -> dict[str, Any]:
    return p.to_dict()  # type: ignore[no-any-return]


def test_pool_returns_results_in_task_order_and_reports_each() -> None:
    done: list[int] = []
    out = LocalExecutor(2).map(square, list(range(7)), lambda: done.append(1))
    assert out == [x * x for x in range(7)] and len(done) == 7


def test_unknown_executor_is_a_user_error() -> None:
    with pytest.raises(InfercostError, match="executor"):
        make_executor("dask")


def test_inline_and_process_pool_give_the_same_plan(tmp_path: Path) -> None:
    path = small(tmp_path)
    inline = plan(path, workers=1)
    pooled = plan(path, workers=2)
    assert answer(inline) == answer(pooled)
    assert inline.sweep.keys() == pooled.sweep.keys()


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_with_two_cpus_gives_the_same_plan_as_the_local_pool(tmp_path: Path) -> None:
    path = small(tmp_path)
    local = plan(path, executor="local", workers=2)
    on_ray = plan(path, executor="ray", workers=2)
    assert answer(on_ray) == answer(local)
    assert on_ray.result.simulations == local.result.simulations > 0
