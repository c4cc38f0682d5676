"""Catalog integrity: every number has a source and a date, every id used elsewhere resolves, prices name
real hardware with one default each, number formats have their defined sizes, and user mistakes raise
`InfercostError` with a useful message."""

from __future__ import annotations

import csv
import re
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest
import yaml

from infercost import catalog
from infercost.errors import InfercostError

ID = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")  # lower-case, hyphenated (DESIGN.md "Data")
AS_OF = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")

REQUIRED_HARDWARE = [
    "a100-sxm-40gb",
    "a100-sxm-80gb",
    "h100-pcie",
    "h100-sxm",
    "h100-nvl",
    "h800",
    "h200",
    "gh200",
    "b200",
    "b300",
    "gb200",
    "gb300",
    "l4",
    "l40s",
    "a10g",
    "a40",
    "rtx-3090",
    "rtx-4090",
    "rtx-5090",
    "rtx-pro-6000",
    "dgx-spark",
    "mi250x",
    "mi300x",
    "mi325x",
    "mi355x",
    "tpu-v4",
    "tpu-v5e",
    "tpu-v5p",
    "tpu-v6e",
    "tpu-7x",
    "tpu-8i",
    "gaudi2",
    "gaudi3",
    "arc-pro-b60",
    "xeon-6980p",
    "trainium2",
    "inferentia2",
    "apple-m1",
    "apple-m1-pro",
    "apple-m1-max",
    "apple-m1-ultra",
    "apple-m2",
    "apple-m2-pro",
    "apple-m2-max",
    "apple-m2-ultra",
    "apple-m3",
    "apple-m3-pro",
    "apple-m3-max",
    "apple-m3-ultra",
    "apple-m4",
    "apple-m4-pro",
    "apple-m4-max",
]

DEV_CSV = Path(__file__).parents[2].parent / "shared" / "validation" / "dev.csv"


def _raw_hardware() -> list[dict[str, object]]:
    text = (resources.files("infercost.catalog") / "data" / "hardware.yaml").read_text()
    entries = yaml.safe_load(text)
    assert isinstance(entries, list)
    return entries


# --- hardware -----------------------------------------------------------------------------------------


def test_every_hardware_entry_states_source_and_date() -> None:
    for entry in _raw_hardware():
        assert entry.get("source"), entry["id"]
        assert "as_of" in entry, entry["id"]
    for hw in catalog.all_hardware():
        sources = [hw.source] if isinstance(hw.source, str) else list(hw.source)
        assert sources and all(s.strip() for s in sources), hw.id
        assert hw.as_of is not None and AS_OF.match(hw.as_of), hw.id


def test_hardware_ids_and_aliases_are_unique_lowercase_hyphenated() -> None:
    ids = [str(e["id"]) for e in _raw_hardware()]
    assert len(ids) == len(set(ids))
    names = ids + [a for hw in catalog.all_hardware() for a in hw.aliases]
    duplicates = [n for n, c in Counter(names).items() if c > 1]
    assert duplicates == []
    assert all(ID.match(n) for n in names), [n for n in names if not ID.match(n)]


def test_hardware_core_numbers_are_positive_or_null() -> None:
    for hw in catalog.all_hardware():
        assert hw.memory_gb is None or hw.memory_gb > 0
        assert hw.memory_bw_gbps is None or hw.memory_bw_gbps > 0
        assert all(v is None or v > 0 for v in hw.peak_tflops.values()), hw.id
        # decode is bandwidth-bound: every entry must at least know its memory bandwidth (peaks may be
        # null where no source gives them, e.g. the A10G's tensor rates)
        assert hw.memory_bw_gbps is not None, hw.id


@pytest.mark.parametrize("hardware_id", REQUIRED_HARDWARE)
def test_required_hardware_resolves(hardware_id: str) -> None:
    hw = catalog.hardware(hardware_id)
    assert hw.id == hardware_id
    assert catalog.hardware(hardware_id.upper()) is hw  # lookups ignore case


def test_aliases_resolve_to_the_same_object() -> None:
    checked = 0
    for hw in catalog.all_hardware():
        for alias in hw.aliases:
            assert catalog.hardware(alias) is catalog.hardware(hw.id)
            checked += 1
    assert checked > 20
    assert catalog.hardware("a100") is catalog.hardware("a100-sxm-80gb")


def test_unknown_hardware_suggests_near_misses() -> None:
    with pytest.raises(InfercostError) as err:
        catalog.hardware("h100-sxn")
    message = str(err.value)
    assert err.value.field == "hardware"
    assert "h100-sxn" in message
    assert "did you mean" in message and "h100-sxm" in message


def test_unknown_hardware_without_near_miss_points_to_the_list() -> None:
    with pytest.raises(InfercostError, match="infercost hardware list"):
        catalog.hardware("zzzzqqqq")


_HYPOTHETICAL = """
id: my-chip
name: Hypothetical accelerator
vendor: acme
family: prototype
kind: gpu
peak_tflops: {{bf16: 500, fp8: 1000}}
memory_gb: 96
memory_bw_gbps: {bw}
scale_up: {{tech: "mesh", domain_size: 4, bw_gbps: 200}}
source: "unit test"
as_of: "2026-01"
"""


def test_hardware_yaml_file_loads(tmp_path: Path) -> None:
    file = tmp_path / "my-chip.yaml"
    file.write_text(_HYPOTHETICAL.format(bw=4000))
    hw = catalog.hardware(str(file))
    assert hw.id == "my-chip"
    assert hw.peak_flops("bf16") == pytest.approx(500e12)
    assert hw.peak_flops("fp16") is None
    assert hw.memory_bytes == pytest.approx(96e9)
    assert hw.memory_bw_bytes_per_s == pytest.approx(4e12)
    assert hw.drain_time_s == pytest.approx(96 / 4000)
    assert hw.scale_up.domain_size == 4


def test_hardware_yaml_list_form_loads(tmp_path: Path) -> None:
    file = tmp_path / "chips.yml"
    file.write_text("- " + _HYPOTHETICAL.format(bw=4000).strip().replace("\n", "\n  "))
    assert catalog.hardware(str(file)).memory_bw_gbps == 4000


def test_hardware_yaml_with_negative_bandwidth_is_rejected(tmp_path: Path) -> None:
    file = tmp_path / "bad-chip.yaml"
    file.write_text(_HYPOTHETICAL.format(bw=-1))
    with pytest.raises(InfercostError, match="memory_bw_gbps") as err:
        catalog.hardware(str(file))
    assert err.value.field == "hardware"


def test_hardware_yaml_with_unknown_peak_key_is_rejected(tmp_path: Path) -> None:
    file = tmp_path / "bad-peak.yaml"
    file.write_text(_HYPOTHETICAL.format(bw=4000).replace("fp8: 1000", "fp6: 1000"))
    with pytest.raises(InfercostError, match="fp6"):
        catalog.hardware(str(file))


# --- validation data ids ------------------------------------------------------------------------------


def _dev_rows() -> list[dict[str, str]]:
    if not DEV_CSV.is_file():
        pytest.skip(f"{DEV_CSV} not present (shared/ sits beside the repository in CI)")
    with DEV_CSV.open(newline="") as f:
        return list(csv.DictReader(f))


def test_validation_hardware_ids_resolve() -> None:
    ids = sorted({row["hardware"] for row in _dev_rows()})
    assert ids
    for hardware_id in ids:
        assert catalog.hardware(hardware_id).id == hardware_id


def test_validation_model_ids_resolve() -> None:
    ids = sorted({row["model"] for row in _dev_rows()})
    assert ids
    for model_id in ids:
        assert catalog.model(model_id).id == model_id


def test_validation_formats_resolve() -> None:
    formats = {row[col] for row in _dev_rows() for col in ("weights", "kv") if row[col]}
    for fmt in sorted(formats):
        catalog.number_format(fmt)


# --- models -------------------------------------------------------------------------------------------


def test_every_catalog_model_parses_with_a_source() -> None:
    for model_id in catalog.model_ids():
        spec = catalog.model(model_id)
        assert ID.match(model_id)
        assert spec.id == model_id
        assert spec.source, model_id
        assert spec.total_params > 0 and 0 < spec.active_params <= spec.total_params


def test_unknown_model_id_is_a_user_error() -> None:
    with pytest.raises(InfercostError) as err:
        catalog.model("llama-3.1-8c")
    assert err.value.field == "model"
    assert "llama-3.1-8b" in str(err.value)


# --- prices -------------------------------------------------------------------------------------------


def test_every_price_row_names_catalog_hardware() -> None:
    known = set(catalog.hardware_ids())
    unknown = sorted({row.hardware for row in catalog.chip_prices()} - known)
    assert unknown == []


def test_exactly_one_default_price_per_priced_hardware() -> None:
    rows = catalog.chip_prices()
    priced = {row.hardware for row in rows}
    defaults = Counter(row.hardware for row in rows if row.default)
    assert {h: defaults[h] for h in priced if defaults[h] != 1} == {}
    for hardware_id in priced:
        default = catalog.default_price(hardware_id)
        assert default is not None and default.hardware == hardware_id


def test_price_rows_are_positive_and_sourced() -> None:
    for row in catalog.chip_prices():
        assert row.usd_per_chip_hour > 0, row
        assert row.source.strip(), row
        assert row.as_of is None or AS_OF.match(row.as_of), row


def test_hardware_without_prices_has_no_default() -> None:
    priced = {row.hardware for row in catalog.chip_prices()}
    for hardware_id in catalog.hardware_ids():
        if hardware_id not in priced:
            assert catalog.default_price(hardware_id) is None


# --- number formats -----------------------------------------------------------------------------------


def test_every_format_has_positive_bits_and_a_source() -> None:
    ids = catalog.format_ids()
    assert len(ids) == len(set(ids))
    for fmt_id in ids:
        fmt = catalog.number_format(fmt_id)
        assert fmt.bits_per_element > 0, fmt_id
        assert fmt.source, fmt_id


@pytest.mark.parametrize(
    ("fmt_id", "bits"),
    [
        ("bf16", 16.0),
        ("fp8", 8.0),
        ("q8_0", 8.5),  # 32 int8 + one fp16 scale = 34 bytes / 32
        ("q4_0", 4.5),  # 32 x 4-bit + one fp16 scale = 18 bytes / 32
        ("mxfp4", 4.25),  # 32 E2M1 + one E8M0 scale = 136 bits / 32
        ("nvfp4", 4.5),  # 16 E2M1 + one E4M3 scale = 72 bits / 16
    ],
)
def test_block_format_sizes(fmt_id: str, bits: float) -> None:
    assert catalog.number_format(fmt_id).bits_per_element == bits


def test_unknown_format_lists_allowed_values() -> None:
    with pytest.raises(InfercostError, match="q4_0") as err:
        catalog.number_format("q4_9", field="weights")
    assert err.value.field == "weights"
