"""Shipped data (hardware, number formats, models, chip prices) and lookups by id, alias or path.

Files are read once and kept: they are immutable package data, so caching cannot change an answer.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from infercost.errors import InfercostError
from infercost.specs.engine import GENERIC_ENGINE, Engine
from infercost.specs.hardware import Hardware
from infercost.specs.hf_config import model_from_config, read_config_file
from infercost.specs.model import Frozen, ModelSpec
from infercost.specs.precision import NumberFormat, Precision

DATA = resources.files("infercost.catalog") / "data"


class ChipPrice(Frozen):
    hardware: str
    provider: str
    sku: str | None = None
    term: str
    usd_per_chip_hour: float
    region: str | None = None
    tier: str | None = None
    default: bool = False
    source: str
    as_of: str | None
    notes: str | None = None


def _read_yaml(name: str) -> Any:
    return yaml.safe_load((DATA / name).read_text())


def _unknown(field: str, value: str, choices: list[str]) -> InfercostError:
    close = difflib.get_close_matches(value.lower(), choices, n=3, cutoff=0.5)
    hint = (
        f"did you mean {', '.join(close)}?"
        if close
        else f"see `infercost {field}{'s' if field == 'model' else ''} list`"
    )
    return InfercostError(field, value, f"not in the catalog; {hint}")


def _validation_message(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}"


# --- hardware -----------------------------------------------------------------------------------------


@cache
def _hardware_table() -> dict[str, Hardware]:
    table: dict[str, Hardware] = {}
    for entry in _read_yaml("hardware.yaml"):
        hw = Hardware.model_validate(entry)
        table[hw.id] = hw
    return table


@cache
def _hardware_aliases() -> dict[str, str]:
    return {alias: hw.id for hw in _hardware_table().values() for alias in hw.aliases}


def hardware_ids() -> list[str]:
    return sorted(_hardware_table())


def all_hardware() -> list[Hardware]:
    return [_hardware_table()[i] for i in hardware_ids()]


def hardware(ref: str) -> Hardware:
    """A catalog hardware id or alias, or a YAML file describing one chip in the catalog schema."""
    key = ref.strip().lower()
    table = _hardware_table()
    if key in table:
        return table[key]
    if key in _hardware_aliases():
        return table[_hardware_aliases()[key]]
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        data = yaml.safe_load(path.read_text())
        try:
            return Hardware.model_validate(data[0] if isinstance(data, list) else data)
        except ValidationError as err:
            raise InfercostError("hardware", ref, _validation_message(err)) from None
    raise _unknown("hardware", ref, list(table) + list(_hardware_aliases()))


# --- number formats -----------------------------------------------------------------------------------


@cache
def _format_table() -> dict[str, NumberFormat]:
    return {e["id"]: NumberFormat.model_validate(e) for e in _read_yaml("formats.yaml")}


def format_ids() -> list[str]:
    return list(_format_table())


def number_format(ref: str, field: str = "format") -> NumberFormat:
    key = ref.strip().lower()
    table = _format_table()
    if key not in table:
        raise InfercostError(field, ref, f"allowed: {' '.join(table)}")
    return table[key]


def precision(weights: str, kv: str | None = None, activations: str = "bf16") -> Precision:
    """Formats by id; the KV cache defaults to the activation format."""
    act = number_format(activations, "activations")
    return Precision(
        weights=number_format(weights, "weights"),
        activations=act,
        kv=number_format(kv, "kv") if kv else act,
    )


# --- models -------------------------------------------------------------------------------------------


@cache
def model_ids() -> list[str]:
    return sorted(
        p.name[: -len(".json")] for p in (DATA / "models").iterdir() if p.name.endswith(".json")
    )


@cache
def _catalog_model(model_id: str) -> ModelSpec:
    config = json.loads((DATA / "models" / f"{model_id}.json").read_text())
    return model_from_config(config, model_id)


def model(ref: str) -> ModelSpec:
    """A catalog model id, or a path to a Hugging Face `config.json` (file or model directory)."""
    key = ref.strip().lower()
    if key in model_ids():
        return _catalog_model(key)
    path = Path(ref).expanduser()
    if path.exists():
        name = path.name if path.is_dir() else path.parent.name or path.stem
        return model_from_config(read_config_file(path), name)
    raise _unknown("model", ref, model_ids())


# --- prices -------------------------------------------------------------------------------------------


@cache
def _price_rows() -> tuple[ChipPrice, ...]:
    return tuple(ChipPrice.model_validate(e) for e in _read_yaml("chip_prices.yaml"))


def chip_prices(hardware_id: str | None = None) -> list[ChipPrice]:
    rows = _price_rows()
    return [r for r in rows if hardware_id is None or r.hardware == hardware_id]


def default_price(hardware_id: str) -> ChipPrice | None:
    """The catalog's default $/chip-hour for a hardware id (None when no source has a price)."""
    return next((r for r in chip_prices(hardware_id) if r.default), None)


# --- serving engines ----------------------------------------------------------------------------------


@cache
def _engine_table() -> dict[str, Engine]:
    if not (DATA / "engines.yaml").is_file():
        return {}
    return {e["id"]: Engine.model_validate(e) for e in _read_yaml("engines.yaml")}


def engine(ref: str | None) -> Engine:
    """Defaults of a serving engine; an engine the catalog does not know gets generic limits."""
    if not ref:
        return GENERIC_ENGINE
    return _engine_table().get(ref.strip().lower(), GENERIC_ENGINE.model_copy(update={"id": ref}))
