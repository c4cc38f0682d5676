"""Routing: per-class costs by hand from simple price sheets, thinking only where required, the
router's overhead and escalations, latency limits, and one-line input errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from infercost.cli import app
from infercost.errors import InfercostError
from infercost.plan.routing import parse_route, route

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# $ per million tokens: a small and a big model with round prices
SHEETS = [
    {"id": "test/small", "input_usd_per_mtok": 0.1, "output_usd_per_mtok": 0.4, "as_of": "2026-01"},
    {"id": "test/big", "input_usd_per_mtok": 3.0, "output_usd_per_mtok": 15.0, "as_of": "2026-01"},
]


def usd(sheet: dict[str, Any], inp: int, out: int) -> float:
    return (inp * sheet["input_usd_per_mtok"] + out * sheet["output_usd_per_mtok"]) / 1e6


@pytest.fixture()
def sheets(tmp_path: Path) -> dict[str, str]:
    paths = {}
    for s in SHEETS:
        name = s["id"].split("/")[1]
        p = tmp_path / f"{name}.yaml"
        p.write_text(yaml.safe_dump(s))
        paths[name] = str(p)
    return paths


def spec(sheets: dict[str, str], **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "volume": {"per_day": 1000, "days_per_month": 30},
        "models": [
            {"name": "small", "pricing": {"sheet": sheets["small"], "ttft_ms": 100, "tpot_ms": 5}},
            {"name": "big", "pricing": {"sheet": sheets["big"], "ttft_ms": 500, "tpot_ms": 20}},
        ],
        "baseline": {"model": "big", "thinking": "always"},
        "classes": [
            {
                "name": "easy",
                "share": 0.75,
                "input_tokens": 1000,
                "output_tokens": 100,
                "acceptable": ["small", "big"],
                "reasoning_multiplier": 3,
            },
            {
                "name": "hard",
                "share": 0.25,
                "input_tokens": 2000,
                "output_tokens": 200,
                "acceptable": ["big"],
                "thinking": True,
                "reasoning_multiplier": 5,
            },
        ],
    }
    data.update(overrides)
    return data


def test_costs_per_class_and_policy_by_hand(sheets: dict[str, str]) -> None:
    small, big = SHEETS
    plan = route(parse_route(spec(sheets)))
    easy, hard = plan.classes
    assert easy.chosen == "small"
    assert easy.usd_per_task == pytest.approx(usd(small, 1000, 100))
    assert easy.baseline_usd_per_task == pytest.approx(usd(big, 1000, 100))
    assert hard.chosen == "big"
    assert hard.usd_per_task == pytest.approx(usd(big, 2000, 1000))  # thinking: 200 × 5 out
    always, required, routed = plan.policies
    # 1: everything on big, thinking everywhere (easy thinks too: 100 × 3 output)
    assert always.usd_per_task == pytest.approx(
        0.75 * usd(big, 1000, 300) + 0.25 * usd(big, 2000, 1000)
    )
    # 2: thinking only where required
    assert required.usd_per_task == pytest.approx(
        0.75 * usd(big, 1000, 100) + 0.25 * usd(big, 2000, 1000)
    )
    # 3: easy to small
    assert routed.usd_per_task == pytest.approx(
        0.75 * usd(small, 1000, 100) + 0.25 * usd(big, 2000, 1000)
    )
    assert routed.usd_per_day == pytest.approx(routed.usd_per_task * 1000)
    assert routed.usd_per_month == pytest.approx(routed.usd_per_task * 1000 * 30)
    assert routed.savings_vs_first_pct == pytest.approx(
        100 * (always.usd_per_task - routed.usd_per_task) / always.usd_per_task
    )
    assert always.usd_per_task > required.usd_per_task > routed.usd_per_task


def test_latency_from_the_given_ttft_and_tpot(sheets: dict[str, str]) -> None:
    plan = route(parse_route(spec(sheets)))
    easy, hard = plan.classes
    assert easy.ttft_ms == pytest.approx(100)
    assert easy.e2e_ms == pytest.approx(100 + 5 * 99)
    assert hard.e2e_ms == pytest.approx(500 + 20 * 999)
    routed = plan.policies[-1]
    assert routed.mean_e2e_ms == pytest.approx(0.75 * (100 + 5 * 99) + 0.25 * (500 + 20 * 999))


def test_router_overhead_and_escalations_are_charged(sheets: dict[str, str]) -> None:
    small, big = SHEETS
    router = {"usd_per_request": 0.001, "latency_ms": 50, "escalation_rate": 0.1}
    plan = route(parse_route(spec(sheets, router=router)))
    easy = plan.classes[0]
    assert easy.usd_per_task == pytest.approx(
        usd(small, 1000, 100) + 0.001 + 0.1 * usd(big, 1000, 100)
    )
    assert easy.e2e_ms == pytest.approx(100 + 5 * 99 + 50 + 0.1 * (500 + 20 * 99))


def test_escalations_can_make_the_big_model_the_cheaper_route(sheets: dict[str, str]) -> None:
    # a router that costs more than the big model per task: route nothing down
    plan = route(parse_route(spec(sheets, router={"usd_per_request": 0.1})))
    assert plan.classes[0].chosen == "big"


def test_a_latency_limit_excludes_a_slow_model(sheets: dict[str, str]) -> None:
    data = spec(sheets)
    data["classes"][0]["max_e2e_ms"] = 400  # small's 595 ms is too slow; big's is slower
    with pytest.raises(InfercostError, match="no acceptable model meets its latency limits"):
        route(parse_route(data))
    data["classes"][0]["max_e2e_ms"] = 600
    assert route(parse_route(data)).classes[0].chosen == "small"


def test_baseline_as_required_makes_the_first_two_policies_equal(sheets: dict[str, str]) -> None:
    plan = route(parse_route(spec(sheets, baseline={"model": "big", "thinking": "as_required"})))
    assert plan.policies[0].usd_per_task == pytest.approx(plan.policies[1].usd_per_task)


def test_self_hosted_example_routes_easy_work_down() -> None:
    plan = route(EXAMPLES / "route-support.yaml")
    chosen = {c.name: c.chosen for c in plan.classes}
    assert chosen["faq"] == "small"
    for c in plan.classes:
        option = next(o for o in c.options if o.model == c.chosen)
        assert option.acceptable
        cheaper = [
            o
            for o in c.options
            if o.acceptable and o.meets_latency and o.usd_per_task < c.usd_per_task
        ]
        assert not cheaper  # the chosen model is the cheapest acceptable one
    assert plan.policies[-1].usd_per_task <= plan.policies[1].usd_per_task


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"baseline": {"model": "huge"}}, "baseline.model", "one of small, big"),
        ({"router": {"escalation_rate": 2}}, "router.escalation_rate", "less than or equal to 1"),
        ({"volume": {"per_day": 0}}, "volume.per_day", "greater than 0"),
        ({"extra": 1}, "extra", "unknown field; allowed: name, volume, models"),
    ],
)
def test_bad_route_files_are_one_line_errors(
    sheets: dict[str, str], change: dict[str, Any], field: str, text: str
) -> None:
    with pytest.raises(InfercostError) as err:
        parse_route(spec(sheets, **change))
    assert err.value.field == field
    assert text in str(err.value)


def test_class_errors_name_the_class(sheets: dict[str, str]) -> None:
    data = spec(sheets)
    data["classes"][1]["acceptable"] = ["medium"]
    with pytest.raises(InfercostError) as err:
        parse_route(data)
    assert err.value.field == "classes[1].acceptable"
    data = spec(sheets)
    data["classes"][0]["share"] = 0.5
    with pytest.raises(InfercostError, match="shares must sum to 1"):
        parse_route(data)
    data = spec(sheets)
    data["classes"][1]["reasoning_multiplier"] = 1
    with pytest.raises(InfercostError) as err:
        parse_route(data)
    assert err.value.field == "classes[1].reasoning_multiplier"


def test_cli_route_json_files_and_error(tmp_path: Path, sheets: dict[str, str]) -> None:
    runner = CliRunner()
    file = tmp_path / "r.yaml"
    file.write_text(yaml.safe_dump(spec(sheets)))
    out = tmp_path / "out"
    res = runner.invoke(app, ["route", str(file), "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = yaml.safe_load(res.stdout)
    assert [c["chosen"] for c in data["classes"]] == ["small", "big"]
    for name in ("route.json", "route_classes.csv", "route.html", "route.png"):
        assert (out / name).stat().st_size > 0
    file.write_text(yaml.safe_dump(spec(sheets, baseline={"model": "huge"})))
    res = runner.invoke(app, ["route", str(file)])
    assert res.exit_code == 2
    assert "baseline.model" in res.stderr and "Traceback" not in res.output


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("route-*.yaml")))
def test_every_route_example_runs(name: str) -> None:
    plan = route(EXAMPLES / name)
    assert plan.policies[-1].usd_per_task <= plan.policies[0].usd_per_task
