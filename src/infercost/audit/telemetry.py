"""What an audit reads from the local store: the rows of the files audited, as numpy series.

- GPU series, one per device (host, GPU, MIG instance): utilization, memory, power.
- Engine series, one per replica (source file × `instance` × `engine` label): vLLM and SGLang gauges
  (running, waiting, KV usage) and counters (tokens, preemptions, prefix cache), histogram sums and
  counts, and vLLM's `cache_config_info` labels.
- Requests from request logs.

Only rows of the files given (by SHA-256) are read, so two audits of different files never mix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from infercost._types import FloatArray
from infercost.ingest.store import Store

# metric names by meaning; the first present in a replica's samples wins
RUNNING = ("vllm:num_requests_running", "sglang:num_running_reqs")
WAITING = ("vllm:num_requests_waiting", "sglang:num_queue_reqs")
KV_USAGE = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage")
GENERATION_TOKENS = ("vllm:generation_tokens_total", "sglang:generation_tokens_total")
PROMPT_TOKENS = ("vllm:prompt_tokens_total", "sglang:prompt_tokens_total")
CACHED_PROMPT_TOKENS = ("vllm:prompt_tokens_cached_total",)
PREEMPTIONS = ("vllm:num_preemptions_total",)
PREFIX_QUERIES = ("vllm:prefix_cache_queries_total",)
PREFIX_HITS = ("vllm:prefix_cache_hits_total",)
HISTOGRAMS = {  # meaning -> histogram family (its _sum and _count samples)
    "prompt_tokens": ("vllm:request_prompt_tokens",),
    "output_tokens": ("vllm:request_generation_tokens",),
    "tpot_s": ("vllm:request_time_per_output_token_seconds",),
    "ttft_s": ("vllm:time_to_first_token_seconds", "sglang:time_to_first_token_seconds"),
    "prefill_s": ("vllm:request_prefill_time_seconds",),
    "decode_s": ("vllm:request_decode_time_seconds",),
}
# vLLM's `kv_cache_usage_perc` is a 0–1 fraction despite its name (1 means 100 %), as is SGLang's
GAUGES = {"running": RUNNING, "waiting": WAITING, "kv_usage": KV_USAGE}
COUNTERS = {
    "generation_tokens": GENERATION_TOKENS,
    "prompt_tokens": PROMPT_TOKENS,
    "cached_prompt_tokens": CACHED_PROMPT_TOKENS,
    "preemptions": PREEMPTIONS,
    "prefix_queries": PREFIX_QUERIES,
    "prefix_hits": PREFIX_HITS,
}
CACHE_INFO = "vllm:cache_config_info"


@dataclass(frozen=True)
class Series:
    """Samples of one metric in time order (epoch seconds)."""

    time_s: FloatArray
    value: FloatArray

    def __len__(self) -> int:
        return int(self.time_s.size)


@dataclass(frozen=True)
class GpuDevice:
    key: str
    name: str | None
    mig_profile: str | None
    time_s: FloatArray
    utilization: FloatArray  # 0–1; nan where the sample has none
    memory_used_bytes: FloatArray
    memory_total_bytes: FloatArray
    power_w: FloatArray


@dataclass
class Replica:
    key: str
    engine: str  # vllm or sglang
    model_name: str | None = None
    gauges: dict[str, Series] = field(default_factory=dict)
    counters: dict[str, Series] = field(default_factory=dict)
    created_s: dict[str, float] = field(default_factory=dict)  # counter → its `_created` time
    histograms: dict[str, tuple[Series, Series]] = field(default_factory=dict)  # (sum, count)
    cache_info: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Requests:
    start_s: FloatArray
    end_s: FloatArray  # nan when the log has no end
    prompt_tokens: FloatArray
    completion_tokens: FloatArray
    cached_tokens: FloatArray  # nan when unknown

    def __len__(self) -> int:
        return int(self.start_s.size)


@dataclass(frozen=True)
class Telemetry:
    gpus: tuple[GpuDevice, ...]
    replicas: tuple[Replica, ...]
    requests: Requests
    start_s: float | None
    end_s: float | None


def _rows(store: Store, sql: str, shas: Sequence[str]) -> list[tuple[Any, ...]]:
    marks = ", ".join("?" for _ in shas)
    return store.con.execute(sql.format(files=marks), list(shas)).fetchall()


def _num(values: Iterable[Any]) -> FloatArray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _gpus(store: Store, shas: Sequence[str]) -> list[GpuDevice]:
    rows = _rows(
        store,
        """SELECT epoch_us(time) / 1e6, host, gpu_index, gpu_uuid, gpu_name, mig_profile,
                  mig_instance, utilization, gr_engine_active, sm_active, memory_used_bytes,
                  memory_total_bytes, power_w
           FROM gpu_samples WHERE file_sha256 IN ({files}) ORDER BY time""",
        shas,
    )
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows:
        ident = r[3] or (str(r[2]) if r[2] is not None else "?")
        key = f"{r[1] or ''}/{ident}" + (f"/mig{r[6]}" if r[6] is not None else "")
        groups.setdefault(key, []).append(r)
    out = []
    for key, rs in groups.items():
        # GPU utilization when sampled, else graphics-engine activity, else SM activity
        util = [next((v for v in (r[7], r[8], r[9]) if v is not None), None) for r in rs]
        out.append(
            GpuDevice(
                key=key,
                name=rs[0][4],
                mig_profile=rs[0][5],
                time_s=_num(r[0] for r in rs),
                utilization=np.clip(_num(util), 0.0, 1.0),
                memory_used_bytes=_num(r[10] for r in rs),
                memory_total_bytes=_num(r[11] for r in rs),
                power_w=_num(r[12] for r in rs),
            )
        )
    return out


def _replicas(store: Store, shas: Sequence[str]) -> list[Replica]:
    wanted = {m for names in (*GAUGES.values(), *COUNTERS.values()) for m in names}
    families = {m for names in HISTOGRAMS.values() for m in names}
    rows = _rows(
        store,
        """SELECT epoch_us(time) / 1e6, engine, metric, labels, value, source
           FROM engine_samples
           WHERE file_sha256 IN ({files}) AND engine IN ('vllm', 'sglang') ORDER BY time""",
        shas,
    )
    raw: dict[str, dict[str, list[tuple[float, float]]]] = {}
    replicas: dict[str, Replica] = {}
    for when, engine, metric, labels_text, value, source in rows:
        labels = json.loads(labels_text)
        key = f"{source}|{labels.get('instance', '')}|{labels.get('engine', '')}"
        rep = replicas.setdefault(key, Replica(key=key, engine=engine))
        rep.model_name = rep.model_name or labels.get("model_name")
        if metric == CACHE_INFO:
            rep.cache_info = {k: str(v) for k, v in labels.items()}
            continue
        if value is None:
            continue
        base = metric.removesuffix("_sum").removesuffix("_count")
        if metric in wanted or base in families:
            # several label sets (e.g. finished_reason) of one counter add up
            raw.setdefault(key, {}).setdefault(metric, []).append((when, float(value)))
        elif metric.endswith("_created") and metric.removesuffix("_created") + "_total" in wanted:
            rep.created_s[metric.removesuffix("_created") + "_total"] = float(value)
    for key, metrics in raw.items():
        rep = replicas[key]
        series = {m: _summed(points) for m, points in metrics.items()}
        for meaning, names in GAUGES.items():
            name = next((n for n in names if n in series), None)
            if name:
                rep.gauges[meaning] = series[name]
        for meaning, names in COUNTERS.items():
            name = next((n for n in names if n in series), None)
            if name:
                rep.counters[meaning] = series[name]
                if name in rep.created_s:
                    rep.created_s[meaning] = rep.created_s.pop(name)
        for meaning, fams in HISTOGRAMS.items():
            fam = next((f for f in fams if f + "_sum" in series and f + "_count" in series), None)
            if fam:
                rep.histograms[meaning] = (series[fam + "_sum"], series[fam + "_count"])
    return [r for r in replicas.values() if r.gauges or r.counters or r.histograms or r.cache_info]


def _summed(points: list[tuple[float, float]]) -> Series:
    """One value per time: label sets of the same metric at the same time are added."""
    times = np.array([p[0] for p in points])
    values = np.array([p[1] for p in points])
    uniq, inverse = np.unique(times, return_inverse=True)
    return Series(uniq, np.bincount(inverse, weights=values, minlength=uniq.size).astype(float))


def _requests(store: Store, shas: Sequence[str]) -> Requests:
    rows = _rows(
        store,
        """SELECT epoch_us(start_time) / 1e6, epoch_us(end_time) / 1e6, prompt_tokens,
                  completion_tokens, cached_tokens
           FROM requests WHERE file_sha256 IN ({files}) ORDER BY start_time""",
        shas,
    )
    return Requests(
        start_s=_num(r[0] for r in rows),
        end_s=_num(r[1] for r in rows),
        prompt_tokens=_num(r[2] for r in rows),
        completion_tokens=_num(r[3] for r in rows),
        cached_tokens=_num(r[4] for r in rows),
    )


def load_telemetry(store: Store, shas: Sequence[str]) -> Telemetry:
    """Every audited row of the files with these SHA-256s."""
    if not shas:
        return Telemetry((), (), _requests(store, ["-"]), None, None)
    gpus = _gpus(store, shas)
    replicas = _replicas(store, shas)
    requests = _requests(store, shas)
    times = [d.time_s for d in gpus]
    times += [s.time_s for r in replicas for s in (*r.gauges.values(), *r.counters.values())]
    times += [requests.start_s, requests.end_s[np.isfinite(requests.end_s)]]
    flat = np.concatenate([t for t in times if t.size]) if any(t.size for t in times) else None
    return Telemetry(
        gpus=tuple(gpus),
        replicas=tuple(replicas),
        requests=requests,
        start_s=None if flat is None else float(flat.min()),
        end_s=None if flat is None else float(flat.max()),
    )
