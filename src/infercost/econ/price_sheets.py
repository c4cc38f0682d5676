"""LLM API price sheets: $ per million tokens by provider and model, and the cost of one request.

The shipped sheets live in `catalog/data/api_prices.yaml` (each with its `source` and `as_of`); users can
load their own sheets in the same schema with `load_price_sheets`. A request's cost follows how providers
bill: cached-input reads and writes at their own prices, the whole request at a long-context tier once its
input tokens exceed the tier's threshold (a "cliff"), then a service tier (priority, flex, fast, peak hours:
multipliers on those prices, or prices of its own) or the batch discount. Unknown prices are refused, not
guessed.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from infercost.errors import InfercostError

USER_INPUT = "user input"
TOKENS_PER_MTOK = 1e6

_DATA_FILE = "api_prices.yaml"
_ID = re.compile(r"^[a-z0-9][a-z0-9.\-]*/[a-z0-9][a-z0-9.\-]*$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_DATE_ALLOWED = "a date YYYY-MM or YYYY-MM-DD"


class _Loader(yaml.SafeLoader):
    """safe_load without timestamps: dates stay the strings the schema checks (so 2026-13-01 is a field
    error, not a YAML crash)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: safe


def _iso(value: Any) -> Any:
    """YAML reads an unquoted 2026-07-29 as a date; keep it as the ISO string the schema stores."""
    return value.isoformat() if isinstance(value, dt.date) else value


def _date(value: Any) -> Any:
    value = _iso(value)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(_DATE_ALLOWED)
    try:
        if _DAY.fullmatch(value):
            dt.date.fromisoformat(value)
        elif _MONTH.fullmatch(value):
            dt.date.fromisoformat(f"{value}-01")
        else:
            raise ValueError
    except ValueError:
        raise ValueError(_DATE_ALLOWED) from None
    return value


def _sheet_id(value: Any) -> Any:
    if not (isinstance(value, str) and _ID.fullmatch(value)):
        raise ValueError("provider/model, lower-case and hyphenated (e.g. acme/foo-1.5)")
    return value


Price = Annotated[float, Field(ge=0)]
Multiplier = Annotated[float, Field(gt=0)]
Tokens = Annotated[int, Field(gt=0)]
AsOf = Annotated[str | None, BeforeValidator(_date)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LongContextTier(_Frozen):
    """Prices for the whole request once its input tokens exceed `above_tokens` (absolute prices)."""

    above_tokens: Tokens
    input_usd_per_mtok: Price
    output_usd_per_mtok: Price
    cached_input_read_usd_per_mtok: Price | None = None
    cached_input_write_usd_per_mtok: Price | None = None
    cached_input_write_1h_usd_per_mtok: Price | None = None
    notes: str | None = None


_CACHE_FIELDS = (
    "cached_input_read_usd_per_mtok",
    "cached_input_write_usd_per_mtok",
    "cached_input_write_1h_usd_per_mtok",
)


def _check_long_context(owner: Any, where: str = "") -> None:
    """Thresholds increase; a long-context tier prices every cache class its owner prices."""
    above = [t.above_tokens for t in owner.long_context]
    if above != sorted(set(above)):
        raise InfercostError(
            f"{where}long_context",
            above,
            "thresholds (above_tokens) must be distinct and increasing",
        )
    for i, lc in enumerate(owner.long_context):
        for name in _CACHE_FIELDS:
            if getattr(owner, name) is not None and getattr(lc, name) is None:
                raise InfercostError(
                    f"{where}long_context[{i}].{name}",
                    None,
                    "a long-context tier prices every cache class its sheet prices",
                )


class ServiceTier(_Frozen):
    """A per-request service tier (priority, flex, fast, peak hours). EITHER `input_multiplier` and
    `output_multiplier` on the sheet's standard or long-context prices (the input multiplier scales every
    prompt-side class) OR prices of its own (input and output, cache optional, its own long-context
    tiers). `source`/`as_of` are set when they differ from the sheet's (as_of null: undated)."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")]
    input_multiplier: Multiplier | None = None
    output_multiplier: Multiplier | None = None
    input_usd_per_mtok: Price | None = None
    output_usd_per_mtok: Price | None = None
    cached_input_read_usd_per_mtok: Price | None = None
    cached_input_write_usd_per_mtok: Price | None = None
    cached_input_write_1h_usd_per_mtok: Price | None = None
    long_context: tuple[LongContextTier, ...] = ()
    source: str | None = None
    as_of: AsOf = None
    notes: str | None = None

    @property
    def priced(self) -> bool:
        """True when the tier has prices of its own (not multipliers)."""
        return self.input_usd_per_mtok is not None

    @model_validator(mode="after")
    def _one_form(self) -> ServiceTier:
        multipliers = (self.input_multiplier, self.output_multiplier)
        prices = (self.input_usd_per_mtok, self.output_usd_per_mtok)
        own = [*prices, *(getattr(self, n) for n in _CACHE_FIELDS)]
        if None not in multipliers and all(v is None for v in own) and not self.long_context:
            return self
        if None not in prices and multipliers == (None, None):
            _check_long_context(self, f"tiers.{self.name}.")
            return self
        raise InfercostError(
            f"tiers.{self.name}",
            "/".join(
                k for k, v in self.model_dump().items() if v not in (None, ()) and k != "name"
            ),
            "either input_multiplier and output_multiplier, or input_usd_per_mtok and "
            "output_usd_per_mtok (cache prices and long_context optional)",
        )


class PriceSheet(_Frozen):
    """One provider's prices for one model, USD per million tokens."""

    id: Annotated[str, BeforeValidator(_sheet_id)]
    provider: str
    model: str
    display_name: str | None = None
    input_usd_per_mtok: Price
    output_usd_per_mtok: Price
    cached_input_read_usd_per_mtok: Price | None = None
    cached_input_write_usd_per_mtok: Price | None = None
    cached_input_write_1h_usd_per_mtok: Price | None = None
    cache_write_ttl_s: Annotated[float, Field(gt=0)] | None = None
    batch_discount: Annotated[float, Field(ge=0, lt=1)] | None = None
    batch_source: str | None = None
    batch_as_of: AsOf = None
    long_context: tuple[LongContextTier, ...] = ()
    tiers: tuple[ServiceTier, ...] = ()
    context_window_tokens: Tokens | None = None
    effective_from: AsOf = None
    effective_until: AsOf = None
    confidence: Literal["official", "catalog", "3p"] | None = None
    source: Annotated[str, Field(min_length=1)]
    as_of: AsOf
    undated: bool = False
    notes: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _provider_and_model_from_id(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("id"), str) and "/" in data["id"]:
            provider, model = data["id"].split("/", 1)
            return {"provider": provider, "model": model, **data}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> PriceSheet:
        if self.as_of is None and not self.undated:
            raise InfercostError("as_of", None, f"required: {_DATE_ALLOWED} (or undated: true)")
        if self.as_of is not None and self.undated:
            raise InfercostError("undated", True, "only when as_of is null")
        _check_long_context(self)
        names = [t.name for t in self.tiers]
        if len(names) != len(set(names)):
            raise InfercostError("tiers", names, "tier names must be unique")
        return self


# --- errors -------------------------------------------------------------------------------------------


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model whose keys are checked at `loc` (for listing the allowed keys)."""
    model: type[BaseModel] = PriceSheet
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return model
        inner = [a for a in (field.annotation, *get_args(field.annotation)) if isinstance(a, type)]
        nested = [a for a in inner if issubclass(a, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _sheet_error(label: str, err: ValidationError) -> InfercostError:
    """The first pydantic error as one line: `sheet <id>: <field>: <value> is not valid; <allowed>`."""
    errors = err.errors()
    # an unknown key usually explains the rest (a typo also makes the intended key "missing")
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(first["loc"])
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, InfercostError):
        return InfercostError(f"sheet {label}: {cause.field}", cause.value, cause.allowed)
    field = _path(loc) or "sheet"
    if first["type"] == "extra_forbidden":
        owner = _model_at(loc[:-1])
        keys = ", ".join(owner.model_fields) if owner else "none"
        return InfercostError(
            f"sheet {label}: {field}", first["input"], f"unknown key; allowed: {keys}"
        )
    if first["type"] == "missing":
        return InfercostError(f"sheet {label}: {field}", None, "required")
    allowed = str(first["msg"]).removeprefix("Value error, ")
    allowed = allowed[0].lower() + allowed[1:] if allowed else allowed
    return InfercostError(f"sheet {label}: {field}", first["input"], allowed)


def _label(entry: Any, index: int) -> str:
    if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
        return str(entry["id"])
    return f"#{index + 1}"


def _validate(entry: Any, index: int, origin: str) -> PriceSheet:
    label = _label(entry, index)
    if not isinstance(entry, Mapping):
        raise InfercostError(f"sheet {label} in {origin}", entry, "a mapping of price-sheet fields")
    try:
        return PriceSheet.model_validate(entry)
    except ValidationError as err:
        raise _sheet_error(label, err) from None


def _no_duplicates(sheets: list[PriceSheet], origin: str) -> None:
    seen: set[str] = set()
    for s in sheets:
        if s.id in seen:
            raise InfercostError(f"sheet id in {origin}", s.id, "each id must appear once")
        seen.add(s.id)


# --- shipped catalog ----------------------------------------------------------------------------------


@cache
def _shipped() -> tuple[PriceSheet, ...]:
    text = (resources.files("infercost.catalog") / "data" / _DATA_FILE).read_text()
    sheets = [_validate(e, i, _DATA_FILE) for i, e in enumerate(_read(text))]
    _no_duplicates(sheets, _DATA_FILE)
    return tuple(sheets)


def price_sheets() -> dict[str, PriceSheet]:
    """The shipped price sheets by id (a fresh dict; the sheets themselves are frozen)."""
    return {s.id: s for s in _shipped()}


def price_sheet(ref: str) -> PriceSheet:
    """A shipped sheet by id (`provider/model`, case-insensitive); unknown ids get a "did you mean"."""
    table = price_sheets()
    key = ref.strip().lower()
    if key in table:
        return table[key]
    same_model = [i for i in table if i.split("/", 1)[1] == key]
    close = same_model or difflib.get_close_matches(key, list(table), n=3, cutoff=0.6)
    hint = (
        f"did you mean {', '.join(close)}?"
        if close
        else "ids are provider/model, e.g. openai/gpt-5"
    )
    raise InfercostError("price sheet", ref, f"not in the catalog; {hint}")


# --- user sheets --------------------------------------------------------------------------------------


def load_price_sheets(path: str | Path) -> list[PriceSheet]:
    """A user's YAML file holding one sheet (a mapping) or a list of them, in the catalog schema.
    `as_of` is required (`undated: true` is refused); a sheet without `source` is recorded as "user input"."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise InfercostError("price sheet file", str(path), "no such file")
    try:
        data = _read(file.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InfercostError("price sheet file", str(path), f"not valid YAML{where}") from None
    entries = data if isinstance(data, list) else [data]
    if not entries or data is None:
        raise InfercostError(
            "price sheet file", str(path), "one sheet (a mapping) or a list of them"
        )
    sheets = []
    for i, entry in enumerate(entries):
        if isinstance(entry, Mapping):
            label = _label(entry, i)
            if entry.get("undated"):
                raise InfercostError(
                    f"sheet {label}: undated",
                    entry["undated"],
                    f"a user sheet needs as_of: {_DATE_ALLOWED}",
                )
            if entry.get("as_of") is None:
                raise InfercostError(f"sheet {label}: as_of", None, f"required: {_DATE_ALLOWED}")
            if entry.get("source") is None:
                entry = {**entry, "source": USER_INPUT}
        sheets.append(_validate(entry, i, str(path)))
    _no_duplicates(sheets, str(path))
    return sheets


def describe_source(sheet: PriceSheet) -> str:
    """Where a sheet's prices come from: "source, as_of" ("undated" when the source gives no date), or
    "user input"."""
    if sheet.source == USER_INPUT:
        return USER_INPUT if sheet.as_of is None else f"{USER_INPUT}, {sheet.as_of}"
    return f"{sheet.source}, {sheet.as_of or 'undated'}"


# --- cost of a request --------------------------------------------------------------------------------


def _tokens(field: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InfercostError(field, value, "a whole number of tokens >= 0")
    return value


def long_context_tier(sheet: PriceSheet | ServiceTier, input_tokens: int) -> LongContextTier | None:
    """The long-context tier a prompt of `input_tokens` is billed at (None: the standard prices)."""
    hit = [t for t in sheet.long_context if input_tokens > t.above_tokens]
    return hit[-1] if hit else None


def service_tier(sheet: PriceSheet, name: str) -> ServiceTier:
    """A sheet's service tier by name (case-insensitive)."""
    for t in sheet.tiers:
        if t.name == name.strip().lower():
            return t
    names = ", ".join(t.name for t in sheet.tiers)
    allowed = f"allowed for {sheet.id}: {names}" if names else f"{sheet.id} has no service tiers"
    raise InfercostError("tier", name, allowed)


Prices = PriceSheet | ServiceTier | LongContextTier


def _prompt_usd(
    prices: Prices, sheet_prices: Prices, uncached: int, cached: int, written: int, label: str
) -> float:
    """Prompt dollars x 1e6. A cache class without a price is billed as input, unless the sheet prices it
    and a priced tier does not: then the price is unknown and the request is refused."""
    input_price = prices.input_usd_per_mtok
    assert input_price is not None
    usd = uncached * input_price
    for tokens, name in (
        (cached, "cached_input_read_usd_per_mtok"),
        (written, "cached_input_write_usd_per_mtok"),
    ):
        price = getattr(prices, name)
        if tokens and price is None and getattr(sheet_prices, name) is not None:
            raise InfercostError(
                "cached_input_tokens" if "read" in name else "cache_write_tokens",
                tokens,
                f"{label} gives no {name} (unknown); use 0",
            )
        usd += tokens * (input_price if price is None else price)
    return usd


def request_cost_usd(
    sheet: PriceSheet,
    *,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    cache_write_tokens: int = 0,
    batch: bool = False,
    tier: str | None = None,
) -> float:
    """Dollars for one request.

    `input_tokens` is the whole prompt; `cached_input_tokens` of it are read from the provider's cache and
    `cache_write_tokens` of it are written to the cache (default TTL); the rest is billed at the input
    price. A sheet without a cache price bills those tokens as ordinary input. Once the prompt exceeds a
    long-context threshold the whole request is billed at that tier. `tier` picks a service tier: its
    multipliers on those prices, or its own prices (and its own long-context tiers); `batch` applies the
    batch discount (not both).
    """
    _tokens("input_tokens", input_tokens)
    _tokens("output_tokens", output_tokens)
    _tokens("cached_input_tokens", cached_input_tokens)
    _tokens("cache_write_tokens", cache_write_tokens)
    if cached_input_tokens + cache_write_tokens > input_tokens:
        raise InfercostError(
            "cached_input_tokens",
            cached_input_tokens + cache_write_tokens,
            f"cached reads plus cache writes are part of the prompt: at most input_tokens ({input_tokens})",
        )
    if tier is not None and batch:
        raise InfercostError("tier", tier, "a service tier or batch, not both")
    uncached = input_tokens - cached_input_tokens - cache_write_tokens
    standard: Prices = long_context_tier(sheet, input_tokens) or sheet
    chosen = service_tier(sheet, tier) if tier is not None else None
    factor_in = factor_out = 1.0
    prices: Prices = standard
    if chosen is not None and chosen.priced:
        own = long_context_tier(chosen, input_tokens)
        if standard is not sheet and own is None:
            raise InfercostError(
                "input_tokens",
                input_tokens,
                f"tier {chosen.name} of {sheet.id} has no price above "
                f"{standard.above_tokens if isinstance(standard, LongContextTier) else 0} input tokens",
            )
        prices = own or chosen
    elif chosen is not None:
        assert chosen.input_multiplier is not None and chosen.output_multiplier is not None
        factor_in, factor_out = chosen.input_multiplier, chosen.output_multiplier
    if batch:
        if sheet.batch_discount is None:
            raise InfercostError("batch", batch, f"{sheet.id} has no batch discount in its sheet")
        factor_in = factor_out = 1.0 - sheet.batch_discount
    label = f"tier {chosen.name} of {sheet.id}" if chosen is not None else sheet.id
    prompt_usd = _prompt_usd(
        prices, standard, uncached, cached_input_tokens, cache_write_tokens, label
    )
    output_price = prices.output_usd_per_mtok
    assert output_price is not None
    output_usd = output_tokens * output_price
    return (prompt_usd * factor_in + output_usd * factor_out) / TOKENS_PER_MTOK
