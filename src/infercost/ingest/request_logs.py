"""Request logs: OpenAI-style JSONL and LiteLLM spend logs (JSON array, JSONL or CSV).

OpenAI-style JSONL — one object per line, either a chat/completions response or a wrapper holding one in
`response`:

- start: `created` (epoch s, as in OpenAI responses) or `timestamp` / `start_time` (epoch s or ms, or
  ISO 8601);
- end (optional): `end_time`, or start + `latency_s` / `duration_s` / `latency_ms` / `duration_ms`;
- first token (optional): start + `ttft_s` / `ttft_ms`;
- `model`; `usage.prompt_tokens`, `usage.completion_tokens`,
  `usage.prompt_tokens_details.cached_tokens` (optional); cost (optional): `cost_usd` or `cost`;
  request id (optional): `id` or `request_id`.

LiteLLM spend logs (rows of `LiteLLM_SpendLogs`, as exported from the proxy's database or its
`/spend/logs` endpoint): `request_id`, `startTime`, `endTime`, `completionStartTime` (first token),
`model`, `prompt_tokens`, `completion_tokens`, `spend` (USD); cached prompt tokens from
`cache_read_input_tokens` or `metadata.usage_object.prompt_tokens_details.cached_tokens` when present.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infercost.ingest.store import Parsed, RequestRow, bad_line, parse_time


def _tokens(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number")
    if isinstance(value, str):
        value = float(value) if value.strip() else None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative whole number")
    return value


def _optional_tokens(value: Any, name: str) -> int | None:
    return None if value in (None, "") else _tokens(value, name)


def _optional_float(value: Any, name: str) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number") from None


def _optional_time(value: Any) -> float | None:
    return None if value in (None, "") else parse_time(value)


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _first(obj: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if obj.get(key) not in (None, ""):
            return obj[key]
    return None


def openai_row(obj: dict[str, Any]) -> RequestRow:
    """One request from an OpenAI-style log object. Raises ValueError naming what is wrong."""
    body = obj["response"] if isinstance(obj.get("response"), dict) else obj
    merged = {**obj, **body}
    start_raw = _first(merged, "created", "timestamp", "start_time")
    if start_raw is None:
        raise ValueError("needs 'created' or 'timestamp'")
    start = parse_time(start_raw)
    model = merged.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError("needs a 'model' string")
    usage = merged.get("usage")
    if not isinstance(usage, dict):
        raise ValueError("needs a 'usage' object")
    end = _optional_time(merged.get("end_time"))
    if end is None:
        for key, scale in (
            ("latency_s", 1.0),
            ("duration_s", 1.0),
            ("latency_ms", 1e-3),
            ("duration_ms", 1e-3),
        ):
            seconds = _optional_float(merged.get(key), key)
            if seconds is not None:
                end = start + seconds * scale
                break
    first_token = None
    for key, scale in (("ttft_s", 1.0), ("ttft_ms", 1e-3)):
        seconds = _optional_float(merged.get(key), key)
        if seconds is not None:
            first_token = start + seconds * scale
            break
    request_id = _first(merged, "request_id", "id")
    return RequestRow(
        start_time_s=start,
        end_time_s=end,
        first_token_time_s=first_token,
        request_id=None if request_id is None else str(request_id),
        model=model,
        prompt_tokens=_tokens(usage.get("prompt_tokens"), "usage.prompt_tokens"),
        completion_tokens=_tokens(usage.get("completion_tokens"), "usage.completion_tokens"),
        cached_tokens=_optional_tokens(
            _dig(usage, "prompt_tokens_details", "cached_tokens"),
            "usage.prompt_tokens_details.cached_tokens",
        ),
        cost_usd=_optional_float(_first(merged, "cost_usd", "cost"), "cost_usd"),
    )


def litellm_row(obj: dict[str, Any]) -> RequestRow:
    """One request from a LiteLLM spend-log row. Raises ValueError naming what is wrong."""
    if obj.get("startTime") in (None, ""):
        raise ValueError("needs 'startTime'")
    model = _first(obj, "model", "model_group")
    if not isinstance(model, str):
        raise ValueError("needs a 'model' string")
    metadata = obj.get("metadata")
    if isinstance(metadata, str) and metadata.strip().startswith("{"):
        try:
            metadata = json.loads(metadata)
        except json.JSONDecodeError:
            metadata = None
    cached = obj.get("cache_read_input_tokens")
    if cached in (None, ""):
        cached = _dig(metadata, "usage_object", "prompt_tokens_details", "cached_tokens")
    request_id = obj.get("request_id")
    return RequestRow(
        start_time_s=parse_time(obj["startTime"]),
        end_time_s=_optional_time(obj.get("endTime")),
        first_token_time_s=_optional_time(obj.get("completionStartTime")),
        request_id=None if request_id in (None, "") else str(request_id),
        model=model,
        prompt_tokens=_tokens(obj.get("prompt_tokens"), "prompt_tokens"),
        completion_tokens=_tokens(obj.get("completion_tokens"), "completion_tokens"),
        cached_tokens=_optional_tokens(cached, "cached tokens"),
        cost_usd=_optional_float(obj.get("spend"), "spend"),
    )


def _jsonl(path: Path, text: str) -> Iterator[tuple[int, str, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, line, json.loads(line)
        except json.JSONDecodeError as err:
            raise bad_line(path, number, line, f"one JSON object per line ({err.msg})") from None


def _json_array(path: Path, text: str) -> Iterator[tuple[int, str, Any]]:
    """Items of a top-level JSON array, each with the line it starts on."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            line = text.count("\n", 0, pos) + 1
            raise bad_line(path, line, text[-40:], "a JSON array closed with ']'")
        if text[pos] == "]":
            return
        line = text.count("\n", 0, pos) + 1
        try:
            item, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise bad_line(
                path, err.lineno, text.splitlines()[err.lineno - 1], f"valid JSON ({err.msg})"
            ) from None
        yield line, text[pos:end], item
        pos = end


def _csv(text: str) -> Iterator[tuple[int, str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    lines = text.splitlines()
    for row in reader:
        number = reader.line_num
        yield number, lines[number - 1] if number <= len(lines) else "", dict(row)


def is_litellm(obj: Any) -> bool:
    return isinstance(obj, dict) and "startTime" in obj and ("spend" in obj or "request_id" in obj)


def records(path: Path, text: str) -> Iterator[tuple[int, str, Any]]:
    """(line, text, object) for each record of a JSON array, JSONL or CSV file."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        return _json_array(path, text)
    if stripped.startswith("{") or not stripped:
        return _jsonl(path, text)
    return _csv(text)


def parse(path: Path, text: str, kind: str) -> Parsed:
    parsed = Parsed(kind=kind)
    make = litellm_row if kind == "litellm" else openai_row
    what = "a LiteLLM spend-log row" if kind == "litellm" else "an OpenAI-style request object"
    for number, line, obj in records(path, text):
        if not isinstance(obj, dict):
            raise bad_line(path, number, line, f"{what} (a JSON object)")
        try:
            parsed.requests.append(make(obj))
        except (ValueError, TypeError, OverflowError) as err:
            raise bad_line(path, number, line, f"{what}: {err}") from None
    return parsed
