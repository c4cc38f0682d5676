"""How the API answers mistakes: 422 with a readable line for malformed requests, 400 with the
library's one-line message for `InfercostError`, and JSON that never holds NaN or infinity."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from infercost.errors import InfercostError


def finite(value: Any) -> Any:
    """JSON-ready data with NaN and ±inf as null (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def finite_dict(data: Any) -> dict[str, Any]:
    """`finite` of a mapping, typed as one."""
    out: dict[str, Any] = finite(data)
    return out


class FiniteJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(
            finite(jsonable_encoder(content)),
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
        ).encode("utf-8")


def _where(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "form", "file"):
        parts = parts[1:] or parts
    return ".".join(parts)


def readable(errors: Sequence[Any]) -> str:
    """The first problem as one line: `field.path: what is wrong`."""
    if not errors:
        return "invalid request"
    first = errors[0]
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    where = _where(first.get("loc", ()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {msg}{more}" if where else f"{msg}{more}"


def infercost_error_body(err: InfercostError) -> dict[str, Any]:
    return {
        "detail": str(err),
        "field": err.field,
        "value": finite(_safe_input(err.value)),
        "allowed": err.allowed,
    }


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        return FiniteJSONResponse(
            {"detail": jsonable_encoder(_plain(errors)), "message": readable(errors)},
            status_code=422,
        )

    @app.exception_handler(InfercostError)
    async def _user_error(request: Request, exc: InfercostError) -> JSONResponse:
        return FiniteJSONResponse(infercost_error_body(exc), status_code=400)

    @app.exception_handler(ValidationError)
    async def _library_validation(request: Request, exc: ValidationError) -> JSONResponse:
        return FiniteJSONResponse({"detail": readable(exc.errors())}, status_code=400)


def _plain(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic's error list without `ctx` objects that are not JSON (exceptions)."""
    out = []
    for e in errors:
        item = {k: v for k, v in e.items() if k not in ("ctx", "url")}
        if "input" in item:
            item["input"] = _safe_input(item["input"])
        out.append(item)
    return out


def _safe_input(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)[:200]
    return value
