"""Reading a validation file: the schema of `../shared/validation/README.md`, one row per measurement.

A file without the required columns is one `InfercostError`; a row with a bad value becomes a
`RowProblem` with its reason, so one bad row never stops the others.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from infercost.errors import InfercostError

COLUMNS = [
    "id",
    "source",
    "model",
    "hardware",
    "chips",
    "weights",
    "kv",
    "tp",
    "pp",
    "ep",
    "engine",
    "isl",
    "osl",
    "concurrency",
    "scenario",
    "slo_ttft_ms",
    "slo_tpot_ms",
    "metric",
    "value",
]
SCENARIOS = ("single-stream", "fixed-batch", "closed-loop", "offline", "server")
METRICS = [
    "output_tps",
    "output_tps_per_chip",
    "total_tps",
    "prompt_tps",
    "decode_tps",
    "decode_tps_per_user",
    "ttft_ms",
    "tpot_ms",
    "itl_ms",
    "e2e_ms",
    "mfu_pct",
    "usd_per_mtok_output",
]


@dataclass(frozen=True)
class Row:
    id: str
    source: str
    model: str
    hardware: str
    chips: int
    weights: str | None
    kv: str | None
    tp: int | None
    pp: int | None
    ep: int | None
    engine: str
    isl: int | None
    osl: int | None
    concurrency: int | None  # None: unknown; -1: "max" (unbounded)
    scenario: str
    slo_ttft_ms: float | None
    slo_tpot_ms: float | None
    metric: str
    value: float


@dataclass(frozen=True)
class RowProblem:
    id: str
    reason: str
    raw: dict[str, str]


def _int(raw: dict[str, str], key: str) -> int | None:
    text = (raw.get(key) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{key}={text!r} is not a number") from None
    if value != int(value) or value < 0:
        raise ValueError(f"{key}={text!r} must be a whole number ≥ 0")
    return int(value)


def _float(raw: dict[str, str], key: str) -> float | None:
    text = (raw.get(key) or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{key}={text!r} is not a number") from None


def _text(raw: dict[str, str], key: str) -> str | None:
    text = (raw.get(key) or "").strip().lower()
    return text or None


def parse_row(raw: dict[str, str]) -> Row | RowProblem:
    row_id = (raw.get("id") or "").strip() or "?"
    try:
        scenario = _text(raw, "scenario") or ""
        if scenario not in SCENARIOS:
            raise ValueError(f"scenario={scenario!r}; allowed: {', '.join(SCENARIOS)}")
        metric = _text(raw, "metric") or ""
        if metric not in METRICS:
            raise ValueError(f"metric={metric!r}; allowed: {', '.join(METRICS)}")
        value = _float(raw, "value")
        if value is None or value <= 0:
            raise ValueError("value must be a positive number")
        chips = _int(raw, "chips")
        if not chips:
            raise ValueError("chips must be a whole number ≥ 1")
        conc_text = (raw.get("concurrency") or "").strip().lower()
        concurrency = -1 if conc_text == "max" else _int(raw, "concurrency")
        return Row(
            id=row_id,
            source=(raw.get("source") or "").strip(),
            model=_text(raw, "model") or "",
            hardware=_text(raw, "hardware") or "",
            chips=chips,
            weights=_text(raw, "weights"),
            kv=_text(raw, "kv"),
            tp=_int(raw, "tp") or None,
            pp=_int(raw, "pp") or None,
            ep=_int(raw, "ep") or None,
            engine=_text(raw, "engine") or "other",
            isl=_int(raw, "isl"),
            osl=_int(raw, "osl"),
            concurrency=concurrency,
            scenario=scenario,
            slo_ttft_ms=_float(raw, "slo_ttft_ms"),
            slo_tpot_ms=_float(raw, "slo_tpot_ms"),
            metric=metric,
            value=value,
        )
    except ValueError as err:
        return RowProblem(row_id, str(err), raw)


def read_rows(path: Path) -> list[Row | RowProblem]:
    if not path.is_file():
        raise InfercostError("file", str(path), "no such file")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InfercostError(
                "file",
                str(path),
                f"missing columns: {', '.join(missing)} (see validation/README.md)",
            )
        return [parse_row(raw) for raw in reader]


def source_family(source: str) -> str:
    """The document a row was read from, without its commit: the unit of leave-one-source-out."""
    return source.split(" @")[0].strip()
