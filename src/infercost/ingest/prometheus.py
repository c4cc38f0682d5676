"""Prometheus text exposition from the DCGM exporter, vLLM and SGLang.

Which one a file came from is read off the metric names: `DCGM_FI_*` (dcgm), `vllm:*` (vllm),
`sglang:*` (sglang). Every sample goes to `engine_samples` (histogram `_bucket` samples to
`histogram_buckets`); DCGM samples are also pivoted into one `gpu_samples` row per GPU or MIG instance
per scrape, in SI units (`DCGM_FI_DEV_GPU_UTIL` % → fraction, `DCGM_FI_DEV_FB_*` MiB → bytes).

Several scrapes in one file
---------------------------
A line ``# scrape at <ISO 8601 time>`` (for example ``# scrape at 2025-01-31T12:00:15.250+00:00``; a
time without a zone is UTC) starts a scrape: the samples after it, up to the next such line, were taken
at that time. `scrape()` writes this format. A sample's own Prometheus timestamp (milliseconds after the
value) wins over the marker. A file with neither gets the file's modification time, and the report says
so (`time_from_mtime`).

Each sample line is parsed with `prometheus_client.parser`, one line at a time, so a malformed line is
reported with its number. NaN values are stored as null.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from infercost.ingest.store import (
    BucketRow,
    EngineRow,
    GpuRow,
    Parsed,
    bad_line,
    epoch_s,
)

SCRAPE_MARKER = "# scrape at "

_PREFIXES = (("DCGM_", "dcgm"), ("vllm:", "vllm"), ("sglang:", "sglang"))

_MIB = 1024**2
# DCGM field -> (gpu_samples column, scale to SI)
_DCGM_FIELDS: dict[str, tuple[str, float]] = {
    "DCGM_FI_DEV_GPU_UTIL": ("utilization", 0.01),
    "DCGM_FI_DEV_MEM_COPY_UTIL": ("memory_utilization", 0.01),
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": ("gr_engine_active", 1.0),
    "DCGM_FI_PROF_SM_ACTIVE": ("sm_active", 1.0),
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": ("tensor_active", 1.0),
    "DCGM_FI_PROF_DRAM_ACTIVE": ("dram_active", 1.0),
    "DCGM_FI_DEV_FB_USED": ("memory_used_bytes", _MIB),
    "DCGM_FI_DEV_FB_FREE": ("_fb_free", _MIB),
    "DCGM_FI_DEV_FB_RESERVED": ("_fb_reserved", _MIB),
    "DCGM_FI_DEV_FB_TOTAL": ("memory_total_bytes", _MIB),
    "DCGM_FI_DEV_POWER_USAGE": ("power_w", 1.0),
}


def engine_of(metric: str) -> str | None:
    for prefix, engine in _PREFIXES:
        if metric.startswith(prefix):
            return engine
    return None


def looks_like(head: str) -> bool:
    """Whether text looks like Prometheus exposition from one of the known exporters."""
    return any(
        line.startswith(("# HELP ", "# TYPE ", SCRAPE_MARKER)) or engine_of(line) is not None
        for line in head.splitlines()[:50]
    )


def scrape_marker(seconds: float) -> str:
    """The comment line that starts a scrape taken at `seconds` (epoch)."""
    from datetime import UTC

    return f"{SCRAPE_MARKER}{datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec='milliseconds')}"


def _family_type(name: str, types: dict[str, str]) -> tuple[str, str]:
    """(type, family name) of a sample name given the `# TYPE` lines seen so far."""
    if name in types:
        return types[name], name
    for suffix in ("_bucket", "_count", "_sum", "_total", "_created"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if base in types:
                return types[base], base
    return "untyped", name


def _parse_sample(line: str) -> tuple[str, dict[str, str], float, float | None]:
    families = list(text_string_to_metric_families(line + "\n"))
    if len(families) != 1 or len(families[0].samples) != 1:
        raise ValueError("not one sample")
    sample = families[0].samples[0]
    stamp = sample.timestamp
    return (
        sample.name,
        dict(sample.labels),
        float(sample.value),
        None if stamp is None else float(stamp),
    )


def parse(path: Path, text: str, *, mtime_s: float) -> Parsed:
    parsed = Parsed(kind="prometheus")
    types: dict[str, str] = {}
    scrape_time: float | None = None
    samples: list[tuple[float, str, str, dict[str, str], float | None]] = []
    used_mtime = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith(SCRAPE_MARKER):
                stamp = line[len(SCRAPE_MARKER) :].strip()
                try:
                    scrape_time = epoch_s(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
                except ValueError:
                    raise bad_line(path, number, raw, "'# scrape at <ISO 8601 time>'") from None
            elif line.startswith("# TYPE "):
                parts = line.split()
                if len(parts) != 4:
                    raise bad_line(path, number, raw, "'# TYPE <metric> <type>'")
                types[parts[2]] = parts[3]
            continue
        try:
            name, labels, value, stamp_s = _parse_sample(line)
        except (ValueError, IndexError, TypeError):
            raise bad_line(
                path, number, raw, "a Prometheus sample 'name{label=\"v\"} value [ms]'"
            ) from None
        if stamp_s is not None:
            when = float(stamp_s)
        elif scrape_time is not None:
            when = scrape_time
        else:
            when, used_mtime = mtime_s, True
        kind, family = _family_type(name, types)
        samples.append(
            (when, name, f"{kind}|{family}", labels, None if math.isnan(value) else value)
        )

    engines = {e for e in (engine_of(s[1]) for s in samples) if e is not None}
    if not engines:
        raise bad_line(
            path, 1, text[:80], "Prometheus text with DCGM_FI_*, vllm:* or sglang:* metrics"
        )
    main = sorted(engines)[0] if len(engines) == 1 else "+".join(sorted(engines))
    parsed.engine = main
    if used_mtime:
        parsed.time_from_mtime = True
        parsed.notes.append(
            "no '# scrape at' line or sample timestamps: times are the file's mtime"
        )

    for when, name, typed, sample_labels, sample_value in samples:
        labels = dict(sample_labels)
        kind, family = typed.split("|", 1)
        engine = engine_of(name) or (main if len(engines) == 1 else "other")
        if name.endswith("_bucket") and "le" in labels and kind in ("histogram", "untyped"):
            le_text = labels.pop("le")
            try:
                le = float(le_text)
            except ValueError:
                le = math.nan
            if not math.isnan(le) and sample_value is not None:
                parsed.buckets.append(
                    BucketRow(when, engine, family, _labels_json(labels), le, sample_value)
                )
                continue
            labels["le"] = le_text
        parsed.engine_samples.append(
            EngineRow(when, engine, name, kind, _labels_json(labels), sample_value)
        )
    parsed.gpu = list(_dcgm_rows(samples))
    return parsed


def _labels_json(labels: dict[str, str]) -> str:
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


def _int_or_none(text: str | None) -> int | None:
    try:
        return None if text is None or text == "" else int(text)
    except ValueError:
        return None


def _dcgm_rows(
    samples: Iterable[tuple[float, str, str, dict[str, str], float | None]],
) -> Iterable[GpuRow]:
    """One `GpuRow` per (time, host, GPU, MIG instance) from the DCGM fields we know."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for when, name, _typed, labels, value in samples:
        if name not in _DCGM_FIELDS or value is None:
            continue
        key = (
            when,
            labels.get("Hostname"),
            labels.get("gpu"),
            labels.get("UUID"),
            labels.get("GPU_I_ID"),
            labels.get("GPU_I_PROFILE"),
        )
        row = groups.setdefault(
            key,
            {
                "time_s": when,
                "host": labels.get("Hostname") or None,
                "gpu_index": _int_or_none(labels.get("gpu")),
                "gpu_uuid": labels.get("UUID") or None,
                "gpu_name": labels.get("modelName") or None,
                "mig_profile": labels.get("GPU_I_PROFILE") or None,
                "mig_instance": _int_or_none(labels.get("GPU_I_ID")),
            },
        )
        column, scale = _DCGM_FIELDS[name]
        row[column] = value * scale
    for row in groups.values():
        free, reserved = row.pop("_fb_free", None), row.pop("_fb_reserved", None)
        used = row.get("memory_used_bytes")
        if row.get("memory_total_bytes") is None and used is not None and free is not None:
            row["memory_total_bytes"] = used + free + (reserved or 0.0)
        for column in ("memory_used_bytes", "memory_total_bytes"):
            if row.get(column) is not None:
                row[column] = round(row[column])
        yield GpuRow(**{**dict.fromkeys(GpuRow._fields), **row})
