"""API price sheets: every shipped sheet is sourced and non-negative, request costs match hand
calculations from the YAML numbers, and bad user sheets fail with one-line errors naming the field."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
import yaml

from infercost.econ.price_sheets import (
    USER_INPUT,
    PriceSheet,
    describe_source,
    load_price_sheets,
    price_sheet,
    price_sheets,
    request_cost_usd,
)
from infercost.errors import InfercostError

AS_OF = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")
PRICE_FIELDS = (
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "cached_input_read_usd_per_mtok",
    "cached_input_write_usd_per_mtok",
    "cached_input_write_1h_usd_per_mtok",
)


def raw(sheet_id: str) -> dict:  # type: ignore[type-arg]
    """The YAML entry itself, so expected values come from the data file, not from the loader."""
    text = (resources.files("infercost.catalog") / "data" / "api_prices.yaml").read_text()
    return next(e for e in yaml.safe_load(text) if e["id"] == sheet_id)


def one_line_error(excinfo: pytest.ExceptionInfo[InfercostError], field: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    assert field in message
    return message


# --- the shipped catalog ------------------------------------------------------------------------------


def test_every_shipped_sheet_loads_with_source_date_and_non_negative_prices() -> None:
    sheets = price_sheets()
    assert len(sheets) >= 100
    for sheet_id, sheet in sheets.items():
        assert sheet.id == sheet_id
        assert sheet.source and sheet.source != USER_INPUT
        assert (sheet.as_of is None and sheet.undated) or AS_OF.fullmatch(sheet.as_of or "")
        assert describe_source(sheet) == f"{sheet.source}, {sheet.as_of or 'undated'}"
        for name in PRICE_FIELDS:
            value = getattr(sheet, name)
            assert value is None or value >= 0, (sheet_id, name)
        for lc in sheet.long_context:
            assert lc.input_usd_per_mtok >= sheet.input_usd_per_mtok
            assert lc.output_usd_per_mtok >= sheet.output_usd_per_mtok
        for tier in sheet.tiers:
            if tier.priced:
                assert tier.input_usd_per_mtok is not None and tier.input_usd_per_mtok >= 0
            else:
                assert tier.input_multiplier is not None and tier.input_multiplier > 0
        assert sheet.batch_discount is None or 0 <= sheet.batch_discount < 1


def test_only_the_rows_the_reference_leaves_undated_lack_a_date() -> None:
    undated = sorted(i for i, s in price_sheets().items() if s.as_of is None)
    assert undated == [
        "groq/llama-3.1-405b-reasoning",
        "groq/llama-3.1-70b-versatile",
        "openai/gpt-6-luna",
        "openai/gpt-6-sol",
    ]
    assert describe_source(price_sheet(undated[0])).endswith(", undated")


def test_every_genai_prices_row_of_section_2_is_carried() -> None:
    # one sheet per row of the prices.md section 2 tables (106 rows; DeepSeek's 00:30-16:30 UTC rows
    # are the `peak` tier of their model's sheet), plus the section 2.1 sheets
    sheets = price_sheets()
    genai = [s for s in sheets.values() if s.source.startswith("pydantic/genai-prices")]
    peak = [s for s in genai if any(t.name == "peak" for t in s.tiers)]
    assert len(genai) + len(peak) == 106


def test_every_provider_of_the_reference_is_carried() -> None:
    providers = {s.provider for s in price_sheets().values()}
    assert providers == {
        "anthropic",
        "openai",
        "google",
        "deepseek",
        "mistral",
        "together",
        "fireworks",
        "groq",
        "cerebras",
        "xai",
    }


def test_lookup_is_case_insensitive() -> None:
    assert price_sheet("  OpenAI/GPT-4o ").id == "openai/gpt-4o"


def test_unknown_id_gives_a_hint() -> None:
    with pytest.raises(InfercostError) as excinfo:
        price_sheet("claude-opus-4-6")
    message = one_line_error(excinfo, "price sheet")
    assert "did you mean anthropic/claude-opus-4-6" in message
    with pytest.raises(InfercostError, match=r"did you mean .*openai/gpt-5"):
        price_sheet("openai/gpt5")


# --- request cost, hand-computed from the YAML ---------------------------------------------------------


def test_cost_gpt_4o_with_cached_input_and_batch() -> None:
    e = raw("openai/gpt-4o")
    sheet = price_sheet("openai/gpt-4o")
    prompt, cached, out = 10_000, 4_000, 2_000
    plain = (prompt * e["input_usd_per_mtok"] + out * e["output_usd_per_mtok"]) / 1e6
    assert request_cost_usd(sheet, input_tokens=prompt, output_tokens=out) == pytest.approx(plain)
    with_cache = (
        (prompt - cached) * e["input_usd_per_mtok"]
        + cached * e["cached_input_read_usd_per_mtok"]
        + out * e["output_usd_per_mtok"]
    ) / 1e6
    got = request_cost_usd(
        sheet, input_tokens=prompt, output_tokens=out, cached_input_tokens=cached
    )
    assert got == pytest.approx(with_cache)
    assert got < plain
    batch = request_cost_usd(sheet, input_tokens=prompt, output_tokens=out, batch=True)
    assert batch == pytest.approx(plain * (1 - e["batch_discount"]))
    assert batch == pytest.approx(plain / 2)  # OpenAI Batch API: 50% off


def test_cost_claude_sonnet_4_5_cache_write_and_long_context_switch_at_threshold() -> None:
    e = raw("anthropic/claude-sonnet-4-5")
    (lc,) = e["long_context"]
    sheet = price_sheet("anthropic/claude-sonnet-4-5")
    threshold, out, written = lc["above_tokens"], 1_000, 50_000

    def by_hand(prices: dict, prompt: int) -> float:  # type: ignore[type-arg]
        return (
            (prompt - written) * prices["input_usd_per_mtok"]
            + written * prices["cached_input_write_usd_per_mtok"]
            + out * prices["output_usd_per_mtok"]
        ) / 1e6

    at = request_cost_usd(
        sheet, input_tokens=threshold, output_tokens=out, cache_write_tokens=written
    )
    above = request_cost_usd(
        sheet, input_tokens=threshold + 1, output_tokens=out, cache_write_tokens=written
    )
    assert at == pytest.approx(by_hand(e, threshold))
    assert above == pytest.approx(by_hand(lc, threshold + 1))  # the whole request at the tier
    assert above > 1.4 * at


def test_priced_tier_has_its_own_long_context_and_unknown_cache_prices() -> None:
    # Opus 4.6 fast mode: $30/$150 per Mtok up to 200K input, $60/$225 above (prices.md section 3).
    sheet = price_sheet("anthropic/claude-opus-4-6")
    small = request_cost_usd(sheet, input_tokens=1_000, output_tokens=1_000, tier="FAST")
    assert small == pytest.approx((1_000 * 30 + 1_000 * 150) / 1e6)
    cost = request_cost_usd(sheet, input_tokens=1_000_000, output_tokens=1_000_000, tier="fast")
    assert cost == pytest.approx(60 + 225)
    with pytest.raises(
        InfercostError, match="cached_input_tokens"
    ):  # fast-mode cache price unknown
        request_cost_usd(
            sheet, input_tokens=1_000, output_tokens=1, cached_input_tokens=10, tier="fast"
        )


def test_multiplier_tier_scales_every_prompt_class() -> None:
    e = raw("openai/gpt-5.4")
    flex = next(t for t in e["tiers"] if t["name"] == "flex")
    sheet = price_sheet("openai/gpt-5.4")
    prompt, cached, out = 300_000, 100_000, 1_000  # above the 272K threshold
    (lc,) = e["long_context"]
    by_hand = (
        (
            (prompt - cached) * lc["input_usd_per_mtok"]
            + cached * lc["cached_input_read_usd_per_mtok"]
        )
        * flex["input_multiplier"]
        + out * lc["output_usd_per_mtok"] * flex["output_multiplier"]
    ) / 1e6
    got = request_cost_usd(
        sheet, input_tokens=prompt, output_tokens=out, cached_input_tokens=cached, tier="flex"
    )
    assert got == pytest.approx(by_hand)


def test_deepseek_peak_hours_are_a_priced_tier() -> None:
    e = raw("deepseek/deepseek-chat")
    peak = next(t for t in e["tiers"] if t["name"] == "peak")
    sheet = price_sheet("deepseek/deepseek-chat")
    got = request_cost_usd(
        sheet, input_tokens=2_000, output_tokens=500, cached_input_tokens=1_000, tier="peak"
    )
    by_hand = (
        1_000 * peak["input_usd_per_mtok"]
        + 1_000 * peak["cached_input_read_usd_per_mtok"]
        + 500 * peak["output_usd_per_mtok"]
    ) / 1e6
    assert got == pytest.approx(by_hand)
    assert got > request_cost_usd(
        sheet, input_tokens=2_000, output_tokens=500, cached_input_tokens=1_000
    )


def test_unknown_tier_lists_the_allowed_names() -> None:
    sheet = price_sheet("openai/gpt-5.4")
    with pytest.raises(InfercostError) as excinfo:
        request_cost_usd(sheet, input_tokens=1, output_tokens=1, tier="turbo")
    message = one_line_error(excinfo, "tier")
    assert "flex" in message and "priority" in message


def test_tier_priced_only_below_long_context_is_refused_above_it() -> None:
    sheet = price_sheet("openai/gpt-5.4")
    assert request_cost_usd(
        sheet, input_tokens=272_000, output_tokens=0, tier="priority"
    ) == pytest.approx(272_000 * 5 / 1e6)
    with pytest.raises(InfercostError, match="input_tokens"):
        request_cost_usd(sheet, input_tokens=272_001, output_tokens=0, tier="priority")


def test_batch_without_a_discount_and_bad_token_counts_are_refused() -> None:
    with pytest.raises(InfercostError, match="batch"):
        request_cost_usd(price_sheet("groq/qwen3-32b"), input_tokens=1, output_tokens=1, batch=True)
    sheet = price_sheet("openai/gpt-4o")
    with pytest.raises(InfercostError, match="cached_input_tokens"):
        request_cost_usd(sheet, input_tokens=10, output_tokens=1, cached_input_tokens=11)
    with pytest.raises(InfercostError, match="output_tokens"):
        request_cost_usd(sheet, input_tokens=10, output_tokens=-1)


def test_sheet_without_cache_prices_bills_cached_tokens_as_input() -> None:
    sheet = price_sheet("together/llama-3.3-70b-instruct-turbo")
    assert sheet.cached_input_read_usd_per_mtok is None
    assert request_cost_usd(
        sheet, input_tokens=1000, output_tokens=0, cached_input_tokens=1000
    ) == pytest.approx(request_cost_usd(sheet, input_tokens=1000, output_tokens=0))


# --- user sheets --------------------------------------------------------------------------------------

GOOD = """
id: acme/foo
input_usd_per_mtok: 1.0
output_usd_per_mtok: 4.0
cached_input_read_usd_per_mtok: 0.1
as_of: 2026-09
long_context:
  - {above_tokens: 100000, input_usd_per_mtok: 2.0, output_usd_per_mtok: 6.0,
     cached_input_read_usd_per_mtok: 0.2}
tiers:
  - {name: priority, input_multiplier: 2, output_multiplier: 2}
"""


def write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "sheet.yaml"
    file.write_text(text)
    return file


def test_user_sheet_loads_and_is_marked_user_input(tmp_path: Path) -> None:
    (sheet,) = load_price_sheets(write(tmp_path, GOOD))
    assert isinstance(sheet, PriceSheet)
    assert (sheet.provider, sheet.model, sheet.as_of) == ("acme", "foo", "2026-09")
    assert sheet.source == USER_INPUT
    assert describe_source(sheet).startswith(USER_INPUT)
    cost = request_cost_usd(sheet, input_tokens=100_001, output_tokens=0, tier="priority")
    assert cost == pytest.approx(100_001 * 2.0 * 2 / 1e6)


def test_user_list_with_source_and_unquoted_date(tmp_path: Path) -> None:
    text = """
- {id: acme/a, input_usd_per_mtok: 1, output_usd_per_mtok: 2, as_of: 2026-09-30, source: acme.example/pricing}
- {id: acme/b, input_usd_per_mtok: 0, output_usd_per_mtok: 0, as_of: "2026-10"}
"""
    a, b = load_price_sheets(write(tmp_path, text))
    assert describe_source(a) == "acme.example/pricing, 2026-09-30"
    assert b.source == USER_INPUT


BAD = [
    (
        "output_usd_per_mtok: 4.0",
        "output_usd_per_mtok: -4.0",
        "sheet acme/foo: output_usd_per_mtok",
    ),
    (
        "{name: priority, input_multiplier: 2, output_multiplier: 2}",
        "{name: x, bogus: 1}",
        "sheet acme/foo: tiers[0].bogus",
    ),
    ("as_of: 2026-09", "", "sheet acme/foo: as_of"),
    ("as_of: 2026-09", "as_of: last tuesday", "sheet acme/foo: as_of"),
    ("as_of: 2026-09", "as_of: 2026-13", "sheet acme/foo: as_of"),
    ("as_of: 2026-09", "as_of: 2026-02-30", "sheet acme/foo: as_of"),
    ("input_multiplier: 2,", "input_multiplier: 0,", "sheet acme/foo: tiers[0].input_multiplier"),
    ("above_tokens: 100000", "above_tokens: -5", "sheet acme/foo: long_context[0].above_tokens"),
    ("as_of: 2026-09", "as_of: 2026-09\nbatch_discount: 1.0", "sheet acme/foo: batch_discount"),
    (
        "cached_input_read_usd_per_mtok: 0.2}",
        "cached_input_read_usd_per_mtok: null}",
        "sheet acme/foo: long_context[0].cached_input_read_usd_per_mtok",
    ),
    ("id: acme/foo", "id: acme/foo\nprice: 3", "sheet acme/foo: price"),
    ("as_of: 2026-09", "as_of: null\nundated: true", "sheet acme/foo: undated"),
    (
        "input_multiplier: 2,",
        "input_multiplier: 2, input_usd_per_mtok: 3,",
        "sheet acme/foo: tiers",
    ),
    ("{name: priority,", "{name: Priority Tier,", "sheet acme/foo: tiers[0].name"),
]


@pytest.mark.parametrize(("old", "new", "field"), BAD)
def test_bad_user_sheet_is_one_line_naming_the_field(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    assert old in GOOD
    with pytest.raises(InfercostError) as excinfo:
        load_price_sheets(write(tmp_path, GOOD.replace(old, new, 1)))
    one_line_error(excinfo, field)


def test_unknown_key_error_lists_the_allowed_keys(tmp_path: Path) -> None:
    bad = GOOD.replace("{name: priority,", "{bogus: 1, name: priority,")
    with pytest.raises(InfercostError) as excinfo:
        load_price_sheets(write(tmp_path, bad))
    message = one_line_error(excinfo, "tiers[0].bogus")
    assert "input_multiplier" in message


def test_missing_file_and_broken_yaml(tmp_path: Path) -> None:
    with pytest.raises(InfercostError, match="no such file"):
        load_price_sheets(tmp_path / "nope.yaml")
    with pytest.raises(InfercostError, match="not valid YAML"):
        load_price_sheets(write(tmp_path, "id: [unclosed"))
