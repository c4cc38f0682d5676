"""Workload costing: agent sessions, voice, thinking and self-hosted pricing against hand calculations
from the price-sheet YAML numbers; the seed-001 levers; the examples; one-line errors; the CLI."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from infercost.commands.cost import register
from infercost.econ.workload_cost import (
    LeverEffect,
    WorkloadCost,
    cost_workload,
    load_workload,
    parse_workload,
)
from infercost.errors import InfercostError
from infercost.estimation import estimate

ROOT = Path(__file__).resolve().parents[2]
MAIN = "anthropic/claude-sonnet-4-5"
SMALL = "anthropic/claude-haiku-4-5"
PER_DAY = 1000.0
DAYS = 30.0


def raw(sheet_id: str) -> dict[str, Any]:
    """The YAML entry itself, so expected values come from the data file, not from the loader."""
    text = (resources.files("infercost.catalog") / "data" / "api_prices.yaml").read_text()
    entry: dict[str, Any] = next(e for e in yaml.safe_load(text) if e["id"] == sheet_id)
    return entry


P = raw(MAIN)
IN, OUT = P["input_usd_per_mtok"], P["output_usd_per_mtok"]
READ, WRITE = P["cached_input_read_usd_per_mtok"], P["cached_input_write_usd_per_mtok"]


def workload(*tasks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "pricing": {"sheet": MAIN},
        "volume": {"per_day": PER_DAY, "days_per_month": DAYS},
        "tasks": list(tasks),
        **extra,
    }


AGENT = {
    "kind": "agent",
    "name": "agent",
    "share": 1.0,
    "turns": 3,
    "system_prompt_tokens": 1000,
    "user_tokens": 100,
    "tool_output_tokens": 500,
    "output_tokens": 200,
    "seconds_between_turns": 10,
    "cache": {"hit_rate": 0.8, "ttl_s": 300},
}


def run(data: dict[str, Any]) -> WorkloadCost:
    return cost_workload(parse_workload(data))


def lever(result: WorkloadCost, name: str) -> LeverEffect:
    return next(e for e in result.levers if e.lever == name)


def usd(uncached: float, cached: float, written: float, output: float) -> float:
    return (uncached * IN + cached * READ + written * WRITE + output * OUT) / 1e6


# --- agent sessions -----------------------------------------------------------------------------------


def test_agent_session_context_growth_and_cache_split_by_hand() -> None:
    # prompts: P1 = 1000 + 100 = 1100; P2 = P1 + (100 + 200 + 500) = 1900; P3 = 2700 -> 5700 in all.
    # cached prefixes: S on turn 1, then the previous prompt: 1000 + 1100 + 1900 = 4000; a hit (0.8)
    # reads them: 3200. Writes: on a hit the new tokens a later turn reads (100, 800, none on the last
    # turn) -> 0.8 * 900 = 720; on a miss the prefix and the new tokens -> 0.2 * 4900 = 980.
    result = run(workload(AGENT))
    task = result.tasks[0]
    t = task.tokens
    assert (t.calls, t.input, t.output) == (3, 5700, 600)
    assert t.cached == pytest.approx(3200)
    assert t.cache_write == pytest.approx(1700)
    assert t.uncached == pytest.approx(800)
    expected = usd(800, 3200, 1700, 600)
    assert task.usd_per_unit == pytest.approx(expected)
    assert task.usd_per_month == pytest.approx(expected * PER_DAY * DAYS)
    assert result.usd_per_month == pytest.approx(expected * PER_DAY * DAYS)
    assert task.unit == "session"
    assert task.latency is None
    assert result.price_source.endswith(P["as_of"])


def test_agent_prefix_expires_past_the_ttl() -> None:
    # 400 s between turns > 300 s TTL: only the shared system prompt can hit; nothing new is written.
    result = run(workload({**AGENT, "seconds_between_turns": 400}))
    t = result.tasks[0].tokens
    assert t.cached == pytest.approx(0.8 * 3000)
    assert t.cache_write == pytest.approx(0.2 * 3000)
    assert result.tasks[0].usd_per_unit == pytest.approx(usd(5700 - 3000, 2400, 600, 600))


def test_one_hour_ttl_uses_the_one_hour_write_price_and_longer_ttl_is_refused() -> None:
    result = run(workload({**AGENT, "cache": {"hit_rate": 0.8, "ttl_s": 3600}}))
    one_hour = P["cached_input_write_1h_usd_per_mtok"]
    expected = (800 * IN + 3200 * READ + 1700 * one_hour + 600 * OUT) / 1e6
    assert result.tasks[0].usd_per_unit == pytest.approx(expected)
    with pytest.raises(InfercostError, match=r"tasks\[0\]\.cache\.ttl_s"):
        run(workload({**AGENT, "cache": {"hit_rate": 0.8, "ttl_s": 7200}}))


def test_output_limit_lever_lowers_cost_by_the_hand_computed_amount() -> None:
    # cap = 50 % of the mean output (200) = 100 per turn; prompts 1100, 1800, 2500 = 5400; prefixes
    # 1000, 1100, 1800 -> cached 0.8 * 3900 = 3120; writes 0.8 * (100 + 700) + 0.2 * (1100 + 1800 + 1800)
    # = 640 + 940 = 1580; uncached 5400 - 3120 - 1580 = 700; output 300.
    result = run(workload(AGENT))
    base = usd(800, 3200, 1700, 600)
    capped = usd(700, 3120, 1580, 300)
    effect = lever(result, "output_limit")
    assert effect.usd_per_month == pytest.approx(capped * PER_DAY * DAYS)
    assert effect.delta_usd_per_month == pytest.approx((capped - base) * PER_DAY * DAYS)
    assert effect.delta_usd_per_month < 0
    assert "100 tokens" in effect.setting


def test_system_prompt_and_response_cache_levers_by_hand() -> None:
    chat = {
        "kind": "chat",
        "name": "chat",
        "share": 1.0,
        "system_prompt_tokens": 2000,
        "input_tokens": 500,
        "output_tokens": 300,
        "response_cache_hit_rate": 0.1,
    }
    result = run(workload(chat))
    base = (2500 * IN + 300 * OUT) / 1e6 * 0.9
    assert result.tasks[0].usd_per_unit == pytest.approx(base)
    month = PER_DAY * DAYS
    shorter = (1500 * IN + 300 * OUT) / 1e6 * 0.9
    assert lever(result, "system_prompt").delta_usd_per_month == pytest.approx(
        (shorter - base) * month
    )
    cached = (2500 * IN + 300 * OUT) / 1e6 * (1 - 0.3)
    assert lever(result, "response_cache").usd_per_month == pytest.approx(cached * month)
    assert all(e.lever != "routing" for e in result.levers)  # no small_model: no routing lever


def test_routing_to_a_cheaper_small_model_lowers_cost() -> None:
    result = run(workload(AGENT, small_model={"sheet": SMALL}))
    on_small = run({**workload(AGENT), "pricing": {"sheet": SMALL}})
    routing = lever(result, "routing")
    expected = 0.7 * result.usd_per_month + 0.3 * on_small.usd_per_month
    assert routing.usd_per_month == pytest.approx(expected)
    assert routing.delta_usd_per_month < 0
    assert SMALL in routing.setting


# --- voice and thinking -------------------------------------------------------------------------------


def test_voice_cost_per_hour_and_latency_budget_by_hand() -> None:
    voice = {
        "kind": "voice",
        "name": "voice",
        "share": 1.0,
        "minutes_per_session": 2,
        "turns_per_minute": 3,
        "output_tokens_per_s": 3,
        "assistant_speech_share": 0.5,
        "input_tokens_per_turn": 50,
        "system_prompt_tokens": 200,
        "latency_budget_ms": 800,
    }
    data = workload(voice)
    data["pricing"] = {"sheet": MAIN, "ttft_ms": 500, "tpot_ms": 20}
    result = run(data)
    task = result.tasks[0]
    # 6 turns; 3 tok/s x 20 s per turn x 0.5 speech share = 30 output tokens per turn;
    # prompts 250 + (k - 1) * 80 -> 6 * 250 + 80 * 15 = 2700 input tokens, 180 output tokens.
    assert (task.tokens.calls, task.tokens.input, task.tokens.output) == (6, 2700, 180)
    session = (2700 * IN + 180 * OUT) / 1e6
    assert task.usd_per_unit == pytest.approx(session)
    assert task.usd_per_hour == pytest.approx(session * 60 / 2)
    assert task.latency is not None and task.latency.source == "user input"
    assert task.latency.e2e_ms == pytest.approx(500 + 20 * 29)
    assert task.fits_latency_budget is True
    assert task.keeps_up_with_speech is True  # 50 tok/s >= 3
    data["pricing"] = {"sheet": MAIN, "ttft_ms": 900}
    assert run(data).tasks[0].fits_latency_budget is False


def test_thinking_multiplier_and_share() -> None:
    thinking = {
        "kind": "thinking",
        "name": "think",
        "share": 1.0,
        "system_prompt_tokens": 100,
        "input_tokens": 400,
        "output_tokens": 200,
        "reasoning_multiplier": 3,
        "thinking_share": 0.25,
    }
    result = run(workload(thinking))
    task = result.tasks[0]
    assert task.tokens.output == pytest.approx(0.75 * 200 + 0.25 * 600)
    assert task.tokens.reasoning == pytest.approx(0.25 * 400)
    expected = 0.75 * (500 * IN + 200 * OUT) / 1e6 + 0.25 * (500 * IN + 600 * OUT) / 1e6
    assert task.usd_per_unit == pytest.approx(expected)
    # the output limit caps each path at 50 % of the mean output (300): 150
    capped = (500 * IN + 150 * OUT) / 1e6
    assert lever(result, "output_limit").usd_per_month == pytest.approx(capped * PER_DAY * DAYS)


# --- self-hosted --------------------------------------------------------------------------------------


def test_self_hosted_cost_is_estimates_usd_per_mtok_times_tokens() -> None:
    chat = {
        "kind": "summarization",
        "name": "sum",
        "share": 1.0,
        "system_prompt_tokens": 200,
        "input_tokens": 1800,
        "output_tokens": 150,
    }
    hosted = {
        "model": "llama-3.1-8b",
        "hardware": "h100-sxm",
        "chips": 1,
        "batch": 16,
        "price_per_hour": 2.0,
    }
    result = run({**workload(chat), "pricing": {"self_hosted": hosted}})
    est = estimate(
        "llama-3.1-8b", "h100-sxm", chips=1, batch=16, isl=2000, osl=150, price_per_hour=2.0
    )
    assert est.usd_per_mtok_input is not None and est.usd_per_mtok_output is not None
    expected = (2000 * est.usd_per_mtok_input + 150 * est.usd_per_mtok_output) / 1e6
    task = result.tasks[0]
    assert task.usd_per_unit == pytest.approx(expected)
    assert task.latency is not None
    assert task.latency.ttft_ms == pytest.approx(est.ttft_ms)
    assert task.latency.e2e_ms == pytest.approx(est.ttft_ms + est.tpot_ms * 149)
    assert "user input" in result.price_source


# --- examples, errors, CLI ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cost-agent.yaml", "cost-mix.yaml"])
def test_examples_load_and_run(name: str) -> None:
    result = cost_workload(ROOT / "examples" / name)
    assert result.usd_per_month > 0
    assert result.usd_per_month == pytest.approx(sum(t.usd_per_month for t in result.tasks))
    assert {e.lever for e in result.levers} == {
        "system_prompt",
        "response_cache",
        "routing",
        "output_limit",
    }
    assert all(e.delta_usd_per_month <= 0 for e in result.levers)
    assert result.price_source
    if name == "cost-mix.yaml":
        kinds = {t.kind for t in result.tasks}
        assert {"classification", "summarization", "code", "voice", "thinking"} <= kinds
        voice = next(t for t in result.tasks if t.kind == "voice")
        assert voice.usd_per_hour is not None and voice.fits_latency_budget is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["tasks"][0].update(turns=0), "tasks[0].turns"),
        (lambda d: d["tasks"][0].update(cahce={}), "tasks[0].cahce"),
        (lambda d: d["tasks"][0]["cache"].update(hit_rate=1.5), "tasks[0].cache.hit_rate"),
        (lambda d: d["tasks"][0].update(kind="poem"), "tasks[0].kind"),
        (lambda d: d["tasks"][0].update(share=0.5), "tasks[].share"),
        (
            lambda d: d["pricing"].update(self_hosted={"model": "x", "hardware": "y"}),
            "pricing.sheet",
        ),
        (lambda d: d.pop("volume"), "volume"),
    ],
)
def test_bad_spec_is_one_line_naming_the_field_path(change: Any, field: str) -> None:
    data = json.loads(json.dumps(workload(AGENT)))
    change(data)
    with pytest.raises(InfercostError) as excinfo:
        parse_workload(data)
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(field + ":"), message


def test_bad_sheet_and_bad_yaml_are_one_line(tmp_path: Path) -> None:
    data = workload(AGENT)
    data["pricing"] = {"sheet": "acme/nope"}
    with pytest.raises(InfercostError, match=r"^pricing\.sheet: "):
        run(data)
    data["pricing"] = {"sheet": MAIN, "tier": "warp"}
    with pytest.raises(InfercostError, match=r"^pricing\.tier: "):
        run(data)
    bad = tmp_path / "bad.yaml"
    bad.write_text("pricing: {sheet: [\n")
    with pytest.raises(InfercostError, match="not valid YAML"):
        load_workload(bad)


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """infercost (test app)"""

    register(app)
    return app


def test_cli_tables_json_and_one_line_error(tmp_path: Path) -> None:
    runner = CliRunner()
    example = str(ROOT / "examples" / "cost-agent.yaml")
    shown = runner.invoke(cli(), ["cost", example], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    for text in ("per task", "levers", "output_limit", "routing", "prices:", "2026-07-29"):
        assert text in shown.output
    as_json = runner.invoke(cli(), ["cost", example, "--json"])
    assert as_json.exit_code == 0
    data = json.loads(as_json.stdout)
    assert data["usd_per_month"] == pytest.approx(cost_workload(example).usd_per_month)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**workload(AGENT), "volume": {"per_day": -1}}))
    failed = runner.invoke(cli(), ["cost", str(bad)])
    assert failed.exit_code == 2
    assert "volume.per_day" in failed.output
