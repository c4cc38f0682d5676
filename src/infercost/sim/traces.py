"""Readers for public LLM-serving traces, one request per row, read lazily (line by line).

Every reader yields `TraceRow(arrival_s, prompt_tokens, output_tokens, prefix)`: seconds after the
trace's first row, token counts as recorded (0 allowed; the workload generator clips to ≥ 1; more
than 10⁹ is refused as corrupt), and a prefix chain of named segments (`()` except for Mooncake). A
row that cannot be read raises `InfercostError` naming the file and line (`path:line`). Timestamps
must not decrease. A UTF-8 byte-order mark at the start of a file is ignored.

Formats (checked against the public repositories and the tools that replay them):

- **Azure LLM inference trace** (github.com/Azure/AzurePublicDataset, 2023 "Splitwise" and 2024
  "DynamoLLM" releases): CSV with header `TIMESTAMP,ContextTokens,GeneratedTokens`; `TIMESTAMP` is a
  wall-clock time such as `2023-11-16 18:15:46.6805900` (100 ns ticks; an ISO offset such as
  `+00:00` is accepted too).
- **BurstGPT** (github.com/HPMLL/BurstGPT): CSV with header
  `Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type` (newer releases add
  `Session ID` and `Elapsed time`; extra columns are ignored). `Timestamp` is in seconds. The README
  says the files without `_without_fails` contain failed requests "that `Response tokens` are 0s", so
  rows with `Response tokens` = 0 are skipped unless `keep_failed=True`.
- **Mooncake** (github.com/kvcache-ai/Mooncake, FAST'25 traces): JSON lines
  `{"timestamp": ms, "input_length": n, "output_length": n, "hash_ids": [...]}`. Each hash id names
  one 512-token block of the prompt, and equal ids mean equal content *including everything before
  it*. Each full block becomes a segment `("mc{hash_id}", 512)` of the prefix chain, so requests
  sharing leading hash ids share those blocks in the prefix cache; a last partial block is not
  shared (it stays private to the request).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

from infercost.errors import InfercostError
from infercost.sim.request import Segment

TraceFormat = Literal["azure", "burstgpt", "mooncake"]
TRACE_FORMATS: tuple[TraceFormat, ...] = ("azure", "burstgpt", "mooncake")

MOONCAKE_BLOCK_TOKENS = 512
_MAX_TOKENS = 10**9  # a larger count is a corrupt row (and would overflow int64 arithmetic)

AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
BURSTGPT_COLUMNS = ("Timestamp", "Request tokens", "Response tokens")


class TraceRow(NamedTuple):
    """One recorded request: arrival (s after the first row), prompt and output tokens, prefix."""

    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    prefix: tuple[Segment, ...] = ()


def read_trace(path: str | Path, format: TraceFormat) -> Iterator[TraceRow]:
    """Rows of a trace file in one of `TRACE_FORMATS`."""
    if format == "azure":
        return read_azure(path)
    if format == "burstgpt":
        return read_burstgpt(path)
    if format == "mooncake":
        return read_mooncake(path)
    raise InfercostError("format", format, f"one of {', '.join(TRACE_FORMATS)}")


def _short(value: object, limit: int = 80) -> str:
    text = str(value).replace("\n", " ").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open(path: Path) -> Any:
    try:
        return path.open(newline="", encoding="utf-8-sig")  # tolerate a byte-order mark
    except OSError as err:
        raise InfercostError("trace", str(path), f"cannot be read ({err.strerror})") from None


def _count(text: str) -> int:
    """A token count: an integer from 0 to 10⁹ (a float with no fraction, e.g. `12.0`, is accepted)."""
    number = float(text)
    if not math.isfinite(number) or not 0 <= number <= _MAX_TOKENS or number != int(number):
        raise ValueError(text)
    return int(number)


class _Clock:
    """Arrival seconds relative to the first row; refuses timestamps that go back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.first: float | None = None
        self.last = -math.inf

    def __call__(self, t: float, line: int, raw: str) -> float:
        if self.first is None:
            self.first = t
        if t < self.last:
            raise InfercostError(
                f"{self.path}:{line}", _short(raw), "timestamps must not decrease; sort the trace"
            )
        self.last = t
        return t - self.first


def _header(reader: Any, path: Path, needed: tuple[str, ...], name: str) -> dict[str, int]:
    header = next(reader, None)
    if header is None:
        raise InfercostError(str(path), "", f"is empty; expected a {name} CSV header")
    columns = {c.strip(): i for i, c in enumerate(header)}
    missing = [c for c in needed if c not in columns]
    if missing:
        raise InfercostError(
            f"{path}:1",
            _short(",".join(header)),
            f"a {name} CSV needs columns {', '.join(needed)} (missing {', '.join(missing)})",
        )
    return columns


def _parse_azure_time(text: str) -> float:
    """Seconds since the epoch (naive times are read as UTC; only differences matter)."""
    stamp = datetime.fromisoformat(text.strip())
    if stamp.tzinfo is None:
        return (stamp - _EPOCH).total_seconds()
    return stamp.timestamp()


_EPOCH = datetime(1970, 1, 1)


def read_azure(path: str | Path) -> Iterator[TraceRow]:
    """Azure LLM inference trace CSV (`TIMESTAMP,ContextTokens,GeneratedTokens`)."""
    path = Path(path)
    with _open(path) as handle:
        reader = csv.reader(handle)
        columns = _header(reader, path, AZURE_COLUMNS, "Azure LLM inference trace")
        it, ip, io = (columns[c] for c in AZURE_COLUMNS)
        clock = _Clock(path)
        for row in reader:
            if not row or not "".join(row).strip():
                continue
            try:
                t = _parse_azure_time(row[it])
                prompt, output = _count(row[ip]), _count(row[io])
            except (ValueError, IndexError):
                raise InfercostError(
                    f"{path}:{reader.line_num}",
                    _short(",".join(row)),
                    "expected TIMESTAMP (e.g. 2023-11-16 18:15:46.6805900), ContextTokens, "
                    "GeneratedTokens (integers ≥ 0)",
                ) from None
            yield TraceRow(clock(t, reader.line_num, ",".join(row)), prompt, output)


def read_burstgpt(path: str | Path, *, keep_failed: bool = False) -> Iterator[TraceRow]:
    """BurstGPT CSV; rows with `Response tokens` = 0 (failed requests) are skipped by default."""
    path = Path(path)
    with _open(path) as handle:
        reader = csv.reader(handle)
        columns = _header(reader, path, BURSTGPT_COLUMNS, "BurstGPT")
        it, ip, io = (columns[c] for c in BURSTGPT_COLUMNS)
        clock = _Clock(path)
        for row in reader:
            if not row or not "".join(row).strip():
                continue
            try:
                t = float(row[it])
                if not math.isfinite(t):
                    raise ValueError(row[it])
                prompt, output = _count(row[ip]), _count(row[io])
            except (ValueError, IndexError):
                raise InfercostError(
                    f"{path}:{reader.line_num}",
                    _short(",".join(row)),
                    "expected Timestamp (seconds), Request tokens and Response tokens "
                    "(integers ≥ 0)",
                ) from None
            arrival = clock(t, reader.line_num, ",".join(row))
            if output == 0 and not keep_failed:
                continue
            yield TraceRow(arrival, prompt, output)


def mooncake_prefix(
    hash_ids: list[int], input_length: int, block_tokens: int = MOONCAKE_BLOCK_TOKENS
) -> tuple[Segment, ...]:
    """The shareable prefix chain of a Mooncake request: one segment per full block."""
    full = min(len(hash_ids), input_length // block_tokens)
    return tuple((f"mc{h}", block_tokens) for h in hash_ids[:full])


def read_mooncake(
    path: str | Path, *, block_tokens: int = MOONCAKE_BLOCK_TOKENS
) -> Iterator[TraceRow]:
    """Mooncake JSON lines; `hash_ids` become a prefix chain (see `mooncake_prefix`)."""
    path = Path(path)
    with _open(path) as handle:
        clock = _Clock(path)
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
                if not isinstance(record, dict):
                    raise ValueError(text)
                t = float(record["timestamp"]) / 1000.0
                prompt = _count(str(record["input_length"]))
                output = _count(str(record["output_length"]))
                hashes = record.get("hash_ids", [])
                if not isinstance(hashes, list) or not all(
                    isinstance(h, int) and not isinstance(h, bool) for h in hashes
                ):
                    raise ValueError(text)
                if not math.isfinite(t):
                    raise ValueError(text)
            except (ValueError, KeyError, TypeError):
                raise InfercostError(
                    f"{path}:{line}",
                    _short(text),
                    'expected a JSON object {"timestamp": ms, "input_length": n, '
                    '"output_length": n, "hash_ids": [int, ...]}',
                ) from None
            yield TraceRow(
                clock(t, line, text), prompt, output, mooncake_prefix(hashes, prompt, block_tokens)
            )
