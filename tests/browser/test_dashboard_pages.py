"""Click through every dashboard page in chromium; the numbers shown are the library's."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from infercost import estimate, frontier, simulate
from infercost.api.app import default_validation_csv
from infercost.api.routers.dashboard import EXAMPLE_SCENARIO
from infercost.econ.price_decode import decode_sheet
from infercost.econ.price_derive import derive_sheet
from infercost.econ.price_sheets import price_sheet, price_sheets
from infercost.validation import validate

from .conftest import Watched, shown_equals


def shown(page: Any, root: str) -> dict[str, tuple[str, Any]]:
    """data-key → (visible text, exact value) of every number under `root` (first of a key)."""
    out: dict[str, tuple[str, Any]] = {}
    for el in page.query_selector_all(f"{root} [data-key]"):
        key = el.get_attribute("data-key")
        if key not in out:
            out[key] = (el.inner_text(), json.loads(el.get_attribute("data-value")))
    return out


def assert_shows(numbers: dict[str, tuple[str, Any]], key: str, value: float | int | None) -> None:
    text, exact = numbers[key]
    assert exact == value, (key, exact, value)
    assert shown_equals(text, value), (key, text, value)


def plot_drawn(page: Any, root: str) -> None:
    page.wait_for_selector(f"{root} .plot[data-drawn=yes]")
    assert page.locator(f"{root} .plot .main-svg").count() >= 1


def test_calculator(page: Watched) -> None:
    pg = page.page
    pg.goto(page.base + "/")
    pg.select_option("#f-model", "llama-3.1-70b")
    pg.select_option("#f-hardware", "h100-sxm")
    pg.select_option("#f-weights", "fp8")
    pg.fill("#f-tp", "4")
    pg.fill("#f-batch", "48")
    pg.fill("#f-isl", "3000")
    pg.fill("#f-osl", "500")
    pg.click("#estimate-submit")
    root = "[data-testid=estimate-result]"
    plot_drawn(pg, root)
    est = estimate("llama-3.1-70b", "h100-sxm", weights="fp8", tp=4, batch=48, isl=3000, osl=500)
    numbers = shown(pg, root)
    for key in (
        "ttft_ms",
        "tpot_ms",
        "output_tps",
        "tokens_per_s_per_user",
        "usd_per_mtok_output",
        "usd_per_mtok_input",
        "usd_per_hour",
        "usd_per_request",
        "kv_capacity_tokens",
        "max_concurrent_sequences",
        "latency_floor_ms",
    ):
        assert_shows(numbers, key, getattr(est, key))
    for part in ("compute", "weights", "kv", "comm", "overhead", "total"):
        assert_shows(numbers, f"breakdown.{part}_ms", getattr(est.breakdown, f"{part}_ms"))
        assert_shows(
            numbers, f"prefill_breakdown.{part}_ms", getattr(est.prefill_breakdown, f"{part}_ms")
        )
    assert_shows(numbers, "weights_gb_per_chip", est.weights_bytes_per_chip / 1e9)
    page.shot("calculator")
    # a mistake: one line in the page, and the page still works afterwards
    pg.select_option("#f-model", "llama-3.1-405b")
    pg.fill("#f-tp", "1")
    pg.click("#estimate-submit")
    pg.wait_for_selector("[data-testid=error]")
    assert "does not fit" in pg.inner_text("[data-testid=error]")
    page.shot("calculator-error")
    page.problems = [p for p in page.problems if "400" not in p]  # the refused request itself
    page.check()


def test_frontier(page: Watched) -> None:
    pg = page.page
    pg.goto(page.base + "/frontier")
    pg.select_option("#f-model", "llama-3.1-8b")
    pg.select_option("#f-hardware", "h200")
    pg.fill("#f-isl", "2048")
    pg.fill("#f-speed", "2")
    pg.click("#frontier-submit")
    root = "[data-testid=frontier-result]"
    plot_drawn(pg, root)
    front = frontier("llama-3.1-8b", "h200", isl=2048)
    numbers = shown(pg, root)
    assert_shows(numbers, "latency_floor_ms", front.latency_floor_ms)
    assert_shows(numbers, "cost_floor_usd_per_mtok", front.cost_floor_usd_per_mtok)
    assert_shows(numbers, "single_user_vs_best_cost_ratio", front.single_user_vs_best_cost_ratio)
    rows = pg.query_selector_all(f"{root} tr[data-batch]")
    assert [int(r.get_attribute("data-batch")) for r in rows] == [p.batch for p in front.points]
    for row, point in zip(rows, front.points, strict=True):
        cells = {
            el.get_attribute("data-key"): el.inner_text()
            for el in row.query_selector_all("[data-key]")
        }
        assert shown_equals(cells["tpot_ms"], point.tpot_ms)
        assert shown_equals(cells["usd_per_mtok_output"], point.usd_per_mtok_output)
        assert shown_equals(cells["output_tps"], point.output_tps)
    assert "fast mode 2×" in pg.inner_text(root)
    page.shot("frontier")
    page.check()


def test_simulate(page: Watched) -> None:
    pg = page.page
    pg.goto(page.base + "/simulate")
    pg.fill("#f-seed", "5")
    pg.click("#simulate-submit")
    pg.wait_for_selector("[data-testid=job], [data-testid=simulation-result]")
    page.shot("simulate-running")
    root = "[data-testid=simulation-result]"
    pg.wait_for_selector(root, timeout=180_000)
    plot_drawn(pg, root)
    summary = simulate(yaml.safe_load(EXAMPLE_SCENARIO), seed=5).summary
    numbers = shown(pg, root)
    for key in (
        "requests",
        "completed",
        "ttft_ms_p50",
        "ttft_ms_p99",
        "tpot_ms_p50",
        "tpot_ms_p99",
        "e2e_ms_p99",
        "output_tps",
        "goodput_rps",
        "usd_per_mtok_output",
    ):
        assert_shows(numbers, key, summary[key])
    page.shot("simulate")
    page.check()


def test_prices(page: Watched) -> None:
    pg = page.page
    pg.goto(page.base + "/prices")
    assert pg.locator("[data-testid=sheets] tbody tr").count() == len(price_sheets())
    sheet_id = sorted(price_sheets())[0]
    pg.select_option("#decode-form select[name=sheet]", sheet_id)
    pg.select_option("#decode-form select[name=like]", "llama-3.1-70b")
    pg.select_option("#decode-form select[name=hardware]", "h100-sxm")
    pg.click("#decode-submit")
    pg.wait_for_selector("[data-testid=decode-result]")
    decoded = decode_sheet(price_sheet(sheet_id), "llama-3.1-70b", "h100-sxm")
    text = pg.inner_text("[data-testid=decode-result]")
    for imp in decoded.implications:
        assert imp.topic in text and imp.modeled in text and imp.sheet in text
    pg.select_option("#sheet-form select[name=model]", "llama-3.1-8b")
    pg.select_option("#sheet-form select[name=hardware]", "h100-sxm")
    pg.fill("#sheet-form input[name=margin]", "0.5")
    pg.click("#sheet-submit")
    root = "[data-testid=sheet-result]"
    pg.wait_for_selector(root)
    derived = derive_sheet("llama-3.1-8b", "h100-sxm", margin=0.5)
    numbers = shown(pg, root)
    for key in ("input_usd_per_mtok", "output_usd_per_mtok", "cost_output_usd_per_mtok"):
        assert_shows(numbers, key, getattr(derived, key))
    page.shot("prices")
    page.check()


def test_accuracy(page: Watched) -> None:
    pg = page.page
    pg.goto(page.base + "/accuracy")
    path = default_validation_csv()
    if path is None:
        assert pg.locator("[data-testid=no-validation]").count() == 1
        page.shot("accuracy-absent")
        pytest.skip("shared/validation/dev.csv not present: the page says so")
    plot_drawn(pg, "main")
    summary = validate(path).summary()
    numbers = shown(pg, "[data-testid=accuracy-summary]")
    for key in ("rows", "covered", "mdape_pct", "mape_pct", "within_25_pct"):
        assert_shows(numbers, key, summary[key])
    page.shot("accuracy")
    page.check()


def test_api_docs_render_offline(page: Watched) -> None:
    pg = page.page
    pg.goto(page.base + "/docs")
    pg.wait_for_selector(".swagger-ui .opblock")
    assert pg.locator(".opblock-summary-path", has_text="/api/estimate").count() == 1
    page.shot("api-docs")
    page.check()


def test_every_nav_link_opens(page: Watched) -> None:
    pg = page.page
    pg.goto(page.base + "/")
    links = [a.get_attribute("href") for a in pg.query_selector_all("header nav a")]
    assert len(links) >= 6
    for href in links:
        response = pg.goto(page.base + href)
        assert response is not None and response.status == 200, href
    page.check()


def test_plan(page: Watched) -> None:
    from infercost.api.routers.dashboard import EXAMPLE_PLAN
    from infercost.plan import plan

    pg = page.page
    pg.goto(page.base + "/plan")
    pg.click("#plan-submit")
    root = "[data-testid=plan-result]"
    pg.wait_for_selector(root, timeout=300_000)
    plot_drawn(pg, root)
    result = plan(yaml.safe_load(EXAMPLE_PLAN)).result
    best = result.best
    assert pg.inner_text("[data-testid=best-layout]") == best.layout
    numbers = shown(pg, "[data-testid=plan-best]")
    for key in ("usd_per_hour", "usd_per_mtok_output", "ttft_ms_p99", "tpot_ms_p99"):
        assert_shows(numbers, f"best.{key}", getattr(best, key))
    rows = pg.query_selector_all("[data-testid=plan-candidates] tr[data-rank]")
    assert len(rows) == len(result.candidates)
    for row, c in zip(rows, result.candidates, strict=True):
        cells = {
            e.get_attribute("data-key"): e.inner_text()
            for e in row.query_selector_all("[data-key]")
        }
        assert shown_equals(cells["usd_per_hour"], c.usd_per_hour)
    assert pg.inner_text("[data-testid=plan-launch]") == "\n".join(result.launch.shell_lines())
    page.shot("plan")
    page.check()


def test_audit(page: Watched) -> None:
    from pathlib import Path

    from infercost.audit import audit
    from infercost.report.audit import headline

    prom = Path(__file__).parents[2] / "examples" / "audit" / "vllm-day.prom"
    pg = page.page
    pg.goto(page.base + "/audit")
    pg.set_input_files("#f-files", str(prom))
    pg.select_option("#f-hardware", "h100-sxm")
    pg.select_option("#f-model", "llama-3.1-8b")
    pg.fill("#f-price_per_hour", "2.5")
    pg.click("#audit-submit")
    root = "[data-testid=audit-result]"
    pg.wait_for_selector(root)
    plot_drawn(pg, root)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        report = audit(
            [prom],
            store=Path(tmp) / "s.duckdb",
            hardware="h100-sxm",
            model="llama-3.1-8b",
            price_per_hour=2.5,
        )
    cells = pg.query_selector_all("[data-testid=audit-headline] td[data-label]")
    assert [(c.get_attribute("data-label"), c.inner_text()) for c in cells] == headline(report)
    rows = pg.query_selector_all("[data-testid=audit-recommendations] tr td:nth-child(2)")
    assert [r.inner_text() for r in rows] == [r.title for r in report.recommendations]
    numbers = [
        json.loads(e.get_attribute("data-value"))
        for e in pg.query_selector_all(
            "[data-testid=audit-recommendations] [data-key=savings_usd_per_month]"
        )
    ]
    assert numbers == [r.savings_usd_per_month for r in report.recommendations]
    page.shot("audit")
    page.check()
