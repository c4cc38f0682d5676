"""Plans in the local DuckDB store: saved, listed, shown as printed, compared; Parquet export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from infercost.cli import app
from infercost.errors import InfercostError
from infercost.plan import Plan, plan
from infercost.plan.store import (
    compare_plans,
    list_plans,
    load_result,
    save_plan,
    sweep_points,
    write_parquet,
)

EXAMPLE = Path(__file__).parents[2] / "examples" / "plan-chat-70b.yaml"
runner = CliRunner()


def small(tmp: Path, rate: float) -> Plan:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["workload"]["arrival"]["rate_rps"] = rate
    data["search"].update({"hardware": ["h100-sxm"], "modes": ["aggregated"]})
    data["verify"].update({"top": 1, "duration_s": 15, "warmup_s": 5, "trim": 0})
    path = tmp / f"plan-{rate:g}.yaml"
    path.write_text(yaml.safe_dump(data))
    return plan(path, workers=1)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], list[Plan]]:
    tmp = tmp_path_factory.mktemp("store")
    store = tmp / "store.duckdb"
    plans = [small(tmp, 10.0), small(tmp, 20.0)]
    ids = [save_plan(p, store) for p in plans]
    return store, ids, plans


def test_saved_plans_are_listed_newest_first_with_their_winner(stored: Any) -> None:
    store, ids, plans = stored
    rows = list_plans(store)
    assert [r["id"] for r in rows] == ids[::-1]
    by_id = {r["id"]: r for r in rows}
    for plan_id, p in zip(ids, plans, strict=True):
        assert by_id[plan_id]["replicas"] == p.best.replicas
        assert by_id[plan_id]["usd_per_hour"] == pytest.approx(p.best.usd_per_hour)


def test_show_gives_back_exactly_the_result(stored: Any) -> None:
    store, ids, plans = stored
    data = load_result(ids[0], store)
    assert data.pop("id") == ids[0]
    assert data == json.loads(json.dumps(plans[0].to_dict(), default=str))
    assert load_result(ids[0][-6:], store)["id"] == ids[0]  # a unique part of the id will do
    with pytest.raises(InfercostError, match="plan id"):
        load_result("nope", store)


def test_every_screened_point_and_candidate_is_stored(stored: Any) -> None:
    store, ids, plans = stored
    assert sweep_points(ids[1], store) == plans[1].result.points_screened
    con = duckdb.connect(str(store))
    try:
        n = con.execute(
            "SELECT count(*) FROM plan_candidates WHERE plan_id = ?", [ids[1]]
        ).fetchone()
        feasible = con.execute(
            "SELECT count(*) FROM plan_sweep WHERE plan_id = ? AND feasible", [ids[1]]
        ).fetchone()
    finally:
        con.close()
    assert n is not None and n[0] == len(plans[1].result.candidates)
    assert feasible is not None and feasible[0] == plans[1].result.points_feasible


def test_compare_puts_the_winners_side_by_side(stored: Any) -> None:
    store, ids, plans = stored
    data = compare_plans(ids[0], ids[1], store)
    rows = {r["field"]: r for r in data["rows"]}
    assert rows["load_rps"]["delta"] == pytest.approx(10.0)
    cost = rows["best.usd_per_hour"]
    assert cost["delta"] == pytest.approx(plans[1].best.usd_per_hour - plans[0].best.usd_per_hour)
    assert cost["delta"] >= 0  # twice the load never costs less here


def test_parquet_export_round_trips(stored: Any, tmp_path: Path) -> None:
    _, _, plans = stored
    candidates, sweep = write_parquet(plans[0], tmp_path)
    frame = pl.read_parquet(sweep)
    assert frame.height == plans[0].result.points_screened
    assert frame["feasible"].sum() == plans[0].result.points_feasible
    first = pl.read_parquet(candidates).row(0, named=True)
    assert first["status"] == "winner" and first["replicas"] == plans[0].best.replicas


def test_plans_commands(stored: Any) -> None:
    store, ids, _ = stored
    listed = runner.invoke(app, ["plans", "list", "--store", str(store), "--json"])
    assert listed.exit_code == 0 and {r["id"] for r in json.loads(listed.output)} == set(ids)
    shown = runner.invoke(app, ["plans", "show", ids[0], "--store", str(store)])
    assert shown.exit_code == 0 and "vllm serve" in shown.output
    compared = runner.invoke(app, ["plans", "compare", *ids, "--store", str(store), "--json"])
    assert compared.exit_code == 0 and json.loads(compared.output)["b"] == ids[1]
    missing = runner.invoke(app, ["plans", "show", "nope", "--store", str(store)])
    assert missing.exit_code == 2 and missing.output.startswith("error: plan id")
