"""What the fleet, pack and route input files share: number types, the SLO block, reading a YAML
mapping, and turning the first validation problem into one line (field path, value, what is allowed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from infercost.errors import InfercostError

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
SpecT = TypeVar("SpecT", bound=BaseModel)


class InputSpec(BaseModel):
    """A block of an input file: frozen, and an unknown key is a mistake."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Slo(InputSpec):
    """p99 targets in milliseconds; at least one."""

    ttft_ms: Positive | None = None
    tpot_ms: Positive | None = None

    @model_validator(mode="after")
    def _one(self) -> Slo:
        if self.ttft_ms is None and self.tpot_ms is None:
            raise InfercostError("slo", {}, "give ttft_ms, tpot_ms or both (p99, milliseconds)")
        return self


def parse_spec(model: type[SpecT], data: Mapping[str, Any]) -> SpecT:
    """`model` validated from `data`; the first problem becomes one `InfercostError`."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise spec_error(err, model) from None


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """A YAML file that must hold a mapping; unreadable or malformed files are one-line errors."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise InfercostError(what, str(path), f"cannot be read ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise InfercostError(what, str(path), f"is not valid YAML{line}") from None
    if not isinstance(data, Mapping):
        raise InfercostError(what, str(path), "must hold a mapping of fields")
    return dict(data)


def spec_error(err: ValidationError, model: type[BaseModel]) -> InfercostError:
    """The first problem of a validation error as one line: field path, value, what is allowed."""
    problems = err.errors()
    first = next((e for e in problems if e["type"] == "extra_forbidden"), problems[0])
    loc = [p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, InfercostError):
        return InfercostError(_join(where, cause.field), cause.value, cause.allowed)
    if first["type"] == "extra_forbidden":
        fields = _fields_at(model, loc[:-1])
        listed = f"; allowed: {', '.join(fields)}" if fields else ""
        return InfercostError(where, first.get("input"), "unknown field" + listed)
    if first["type"] == "missing":
        return InfercostError(where or model.__name__, None, "required")
    msg = str(first["msg"]).removeprefix("Value error, ")
    value = first.get("input")
    if isinstance(value, Mapping | list):
        value = " ".join(str(value).split())[:60]
    return InfercostError(where or model.__name__, value, msg[:1].lower() + msg[1:])


def _join(where: str, field: str) -> str:
    """A validator's field under the location it ran at, without repeating the model's own name
    (`slo` raised inside `models[0].slo` is `models[0].slo`, `load.rate` inside `load` is `load.rate`)."""
    last = where.rsplit(".", 1)[-1]
    if not field or not where or where == field or where.endswith("." + field):
        return where or field
    if field.startswith(last + "."):
        return where + field[len(last) :]
    return f"{where}.{field}"


def _fields_at(model: type[BaseModel], loc: list[int | str]) -> list[str]:
    """Field names of the nested model at a validation location (for "unknown field" messages)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = _inner_model(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _inner_model(annotation: Any) -> Any:
    """The BaseModel inside `X`, `X | None`, `tuple[X, ...]`, `list[X]`, `dict[str, X]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        inner = _inner_model(arg)
        if inner is not None:
            return inner
    return None
