"""nvidia-smi CSV logs: `nvidia-smi --query-gpu=timestamp,index,...  --format=csv [-l N]`.

Headers may carry units (`utilization.gpu [%]`, `memory.used [MiB]`, `power.draw [W]`, the default) or
not (`--format=csv,nounits`); values may carry them too (`45 %`, `1024 MiB`). `[N/A]`, `[Not Supported]`
and friends become null. A repeated header line (several logs concatenated) is skipped. Columns this
reader does not know are ignored and named in the notes.

nvidia-smi writes local time without a zone (`2024/05/14 10:23:45.123`); it is stored as if it were UTC,
and a note says so.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from infercost.ingest.store import GpuRow, Parsed, bad_line, epoch_s

_HEADER = re.compile(r"^\s*(?P<name>[A-Za-z0-9_.]+)\s*(?:\[(?P<unit>[^\]]*)\])?\s*$")

# field -> (column in GpuRow, kind of unit)
_FIELDS: dict[str, tuple[str, str]] = {
    "timestamp": ("time_s", "time"),
    "index": ("gpu_index", "int"),
    "uuid": ("gpu_uuid", "text"),
    "gpu_uuid": ("gpu_uuid", "text"),
    "name": ("gpu_name", "text"),
    "gpu_name": ("gpu_name", "text"),
    "utilization.gpu": ("utilization", "percent"),
    "utilization.memory": ("memory_utilization", "percent"),
    "memory.used": ("memory_used_bytes", "memory"),
    "memory.total": ("memory_total_bytes", "memory"),
    "power.draw": ("power_w", "power"),
    "power.draw.average": ("power_w", "power"),
    "power.draw.instant": ("power_w", "power"),
}

_DEFAULT_UNIT = {"percent": "%", "memory": "MiB", "power": "W"}
_SCALE = {
    ("percent", "%"): 0.01,
    ("memory", "MiB"): 1024.0**2,
    ("memory", "GiB"): 1024.0**3,
    ("memory", "KiB"): 1024.0,
    ("memory", "B"): 1.0,
    ("power", "W"): 1.0,
    ("power", "mW"): 1e-3,
}
_MISSING = {"", "n/a", "[n/a]", "[not supported]", "[unknown error]", "[insufficient permissions]"}
_EMPTY: dict[str, Any] = dict.fromkeys(GpuRow._fields)
_TIME_FORMATS = ("%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S")


def looks_like(head: str) -> bool:
    """Whether the first line is an nvidia-smi --query-gpu header."""
    first = head.lstrip().splitlines()[0] if head.strip() else ""
    names = [c.split("[")[0].strip() for c in first.split(",")]
    return "timestamp" in names and any(n in _FIELDS and n != "timestamp" for n in names)


def _time(text: str) -> float:
    for fmt in _TIME_FORMATS:
        try:
            return epoch_s(datetime.strptime(text, fmt))
        except ValueError:
            continue
    return epoch_s(datetime.fromisoformat(text))


def parse(path: Path, text: str) -> Parsed:
    parsed = Parsed(kind="nvidia-smi")
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        parsed.notes.append("empty file")
        return parsed
    header_line = lines[header_at]
    columns: list[tuple[str, str, str]] = []  # (field, target, scale kind) per column
    scales: list[float] = []
    units: list[str] = []
    ignored: list[str] = []
    for cell in next(csv.reader([header_line], skipinitialspace=True)):
        m = _HEADER.match(cell)
        if m is None:
            raise bad_line(
                path,
                header_at + 1,
                header_line,
                "a --query-gpu header like 'timestamp, index, utilization.gpu [%]'",
            )
        name, given = m["name"], m["unit"]
        target, kind = _FIELDS.get(name, ("", "ignored"))
        if kind == "ignored":
            ignored.append(name)
        if kind in _DEFAULT_UNIT:
            unit = given or _DEFAULT_UNIT[kind]
            if (kind, unit) not in _SCALE:
                allowed = ", ".join(u for k, u in _SCALE if k == kind)
                raise bad_line(path, header_at + 1, cell, f"{name} in one of: {allowed}")
            scales.append(_SCALE[(kind, unit)])
            units.append(unit)
        else:
            scales.append(1.0)
            units.append("")
        columns.append((name, target, kind))
    if not any(c[0] == "timestamp" for c in columns):
        raise bad_line(
            path, header_at + 1, header_line, "a 'timestamp' column (add it to --query-gpu)"
        )
    if ignored:
        parsed.notes.append(f"ignored columns: {', '.join(ignored)}")
    parsed.notes.append("nvidia-smi timestamps have no zone; read as UTC")

    for number, line in enumerate(lines[header_at + 1 :], start=header_at + 2):
        if not line.strip() or line == header_line:
            continue
        cells = next(csv.reader([line], skipinitialspace=True))
        if len(cells) != len(columns):
            raise bad_line(
                path, number, line, f"{len(columns)} comma-separated values like the header"
            )
        values: dict[str, Any] = {}
        for (name, target, kind), scale, unit, cell in zip(
            columns, scales, units, cells, strict=True
        ):
            raw = cell.strip()
            if kind == "ignored" or raw.lower() in _MISSING:
                continue
            try:
                if kind == "time":
                    values[target] = _time(raw)
                elif kind == "text":
                    values[target] = raw
                elif kind == "int":
                    values[target] = int(raw)
                else:
                    parts = raw.split()
                    if len(parts) > 2 or (len(parts) == 2 and parts[1] != unit):
                        raise ValueError("unexpected unit")
                    amount = float(parts[0]) * scale
                    if amount < 0:
                        raise ValueError("negative")
                    values[target] = round(amount) if kind == "memory" else amount
            except (ValueError, IndexError):
                raise bad_line(
                    path, number, line, f"{name}: a number or [N/A], got {raw!r}"
                ) from None
        if "time_s" not in values:
            raise bad_line(path, number, line, "a timestamp in every row")
        parsed.gpu.append(GpuRow(**{**_EMPTY, **values}))
    return parsed
