"""Audit a real deployment from its telemetry: utilization, waste in $/month, ranked savings.

`audit(files, hardware=..., model=..., price_per_hour=...)` ingests the files into the local store
(`infercost.ingest`; a file already there is not added twice) — or scrapes a `/metrics` URL for a
while — and reads back exactly those files' rows. It reports:

- utilization over time and the idle, underused and busy shares (`utilization.py`, from GPU
  telemetry when there is any, else from the engine's running requests, else from request logs);
- achieved output tokens/s against what the performance model says this deployment attains at the
  observed prompt and output lengths (`capacity.py`; a calibration profile replaces the shipped
  efficiency);
- KV-cache usage and headroom, preemptions, prefix caching;
- the monthly spend, what idle time costs and what the unused capacity costs (`econ.tco`);
- ranked recommendations, each with its predicted saving (`recommend.py`).

Every figure the data cannot give is None and the reason is in `notes`; nothing is guessed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from infercost import catalog
from infercost.audit import utilization as U
from infercost.audit.capacity import ReplicaModel, replica_model
from infercost.audit.engine import (
    achieved_output,
    as_float,
    batch_cap,
    counter_sum,
    engine_kv_tokens,
    hist_mean,
    hist_total,
    load_of,
    quiet_nan,
    spans_of,
)
from infercost.audit.models import (
    AuditedFile,
    AuditReport,
    KvSummary,
    MoneySummary,
    ThroughputSummary,
    UtilizationSummary,
)
from infercost.audit.recommend import Recommendation, Situation, recommend
from infercost.audit.telemetry import Telemetry, load_telemetry
from infercost.calibration.profile import CalibrationRef
from infercost.econ.tco import HOURS_PER_YEAR, utilization_cost
from infercost.errors import InfercostError
from infercost.ingest import DEFAULT_STORE, FileIngest, Store, ingest, scrape
from infercost.ingest.store import to_datetime

HOURS_PER_MONTH = HOURS_PER_YEAR / 12.0  # 730
TARGET_LOAD = 0.8  # a replica kept at most this loaded at the peak (headroom for bursts)


def _clean(values: np.ndarray[Any, Any]) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _files(
    paths: Sequence[Path | str],
    store: Path | str,
    scrape_url: str | None,
    scrape_for_s: float,
    scrape_every_s: float,
) -> list[FileIngest]:
    if scrape_url is not None:
        if paths:
            raise InfercostError("files", list(map(str, paths)), "give files or --scrape, not both")
        return list(
            scrape(scrape_url, store, duration_s=scrape_for_s, interval_s=scrape_every_s).files
        )
    if paths:
        return list(ingest(paths, store).files)
    with Store(store) as s:  # no files: everything already in the store
        rows = s.con.execute("SELECT path, sha256, kind FROM ingested_files").fetchall()
    if not rows:
        raise InfercostError("files", str(store), "files to audit (the store is empty)")
    return [
        FileIngest(
            path=str(p),
            sha256=str(h),
            kind=str(k),
            engine=None,
            added=False,
            rows={},
            start_time=None,
            end_time=None,
            time_from_mtime=False,
            notes=(),
        )
        for p, h, k in rows
    ]


# --- the audit ------------------------------------------------------------------------------------


def audit(
    files: Sequence[Path | str] = (),
    *,
    store: Path | str = DEFAULT_STORE,
    scrape_url: str | None = None,
    scrape_for_s: float = 600.0,
    scrape_every_s: float = 15.0,
    hardware: str | None = None,
    model: str | None = None,
    price_per_hour: float | None = None,
    engine: str | None = "vllm",
    tp: int | None = None,
    pp: int | None = None,
    weights: str | None = None,
    kv: str | None = None,
    gpus: int | None = None,
    replicas: int | None = None,
    max_num_seqs: int | None = None,
    isl: float | None = None,
    osl: float | None = None,
    calibration: CalibrationRef | None = None,
    idle_below: float = U.IDLE_BELOW,
    underused_below: float = U.UNDERUSED_BELOW,
    target_load: float = TARGET_LOAD,
    tpot_slo_ms: float | None = None,
    candidates: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> AuditReport:
    """Audit the deployment behind `files` (or a scrape of `scrape_url`); see the module docstring.

    `hardware` and `model` (catalog ids or spec / config files) enable everything the performance
    model answers; `price_per_hour` is per chip (default: the catalog price of `hardware`). `gpus` and
    `replicas` override the counts read from the data; `isl` / `osl` the observed mean lengths.
    """
    say = progress or (lambda _: None)
    _check(price_per_hour, idle_below, underused_below, target_load, gpus, replicas, tpot_slo_ms)
    if (hardware is None) != (model is None):
        raise InfercostError(
            "hardware" if hardware is None else "model",
            None,
            "give both --hardware and --model for the throughput model (or neither)",
        )
    say("ingesting")
    ingested = _files(files, store, scrape_url, scrape_for_s, scrape_every_s)
    say("reading the store")
    with Store(store) as s:
        tel = load_telemetry(s, [f.sha256 for f in ingested])
    if not (tel.gpus or tel.replicas or len(tel.requests)):
        raise InfercostError(
            "files",
            ", ".join(f.path for f in ingested),
            "GPU telemetry, vLLM/SGLang metrics or request logs to audit",
        )
    notes: list[str] = []
    rep_model = (
        replica_model(
            model,
            hardware,
            tp=tp,
            pp=pp,
            weights=weights,
            kv=kv,
            engine=engine,
            max_num_seqs=max_num_seqs,
            calibration=calibration,
        )
        if model is not None and hardware is not None
        else None
    )
    if rep_model is None:
        notes.append("no --hardware/--model: attainable throughput and most savings need them")
    chips_per_replica = rep_model.chips if rep_model else (tp or 1) * (pp or 1)
    return _report(
        tel,
        ingested,
        rep_model,
        notes,
        chips_per_replica=chips_per_replica,
        hardware=hardware,
        price_per_hour=price_per_hour,
        gpus=gpus,
        replicas=replicas,
        isl=isl,
        osl=osl,
        idle_below=idle_below,
        underused_below=underused_below,
        target_load=target_load,
        tpot_slo_ms=tpot_slo_ms,
        candidates=list(candidates) if candidates else None,
        say=say,
    )


def _check(
    price: float | None,
    idle: float,
    under: float,
    load: float,
    gpus: int | None,
    replicas: int | None,
    slo: float | None,
) -> None:
    if price is not None and not (price >= 0 and math.isfinite(price)):
        raise InfercostError("price_per_hour", price, "USD per chip-hour, ≥ 0")
    if not 0 < idle < under <= 1:
        raise InfercostError(
            "idle_below / underused_below", (idle, under), "0 < idle_below < underused_below ≤ 1"
        )
    if not 0 < load <= 1:
        raise InfercostError("target_load", load, "a fraction in (0, 1]")
    for name, value in (("gpus", gpus), ("replicas", replicas)):
        if value is not None and value < 1:
            raise InfercostError(name, value, "a whole number ≥ 1")
    if slo is not None and not slo > 0:
        raise InfercostError("tpot_slo_ms", slo, "milliseconds > 0")


def _report(
    tel: Telemetry,
    ingested: list[FileIngest],
    rep: ReplicaModel | None,
    notes: list[str],
    *,
    chips_per_replica: int,
    hardware: str | None,
    price_per_hour: float | None,
    gpus: int | None,
    replicas: int | None,
    isl: float | None,
    osl: float | None,
    idle_below: float,
    underused_below: float,
    target_load: float,
    tpot_slo_ms: float | None,
    candidates: list[str] | None,
    say: Callable[[str], None],
) -> AuditReport:
    start, end = tel.start_s or 0.0, tel.end_s or 0.0
    gpu_devices = [d for d in tel.gpus if np.isfinite(d.utilization).any()]
    loads = [(r, ld) for r in tel.replicas if (ld := load_of(r)) is not None]
    sample_s = U.median_interval_s(
        [d.time_s for d in tel.gpus]
        + [ld[0] for _, ld in loads]
        + [s.time_s for r in tel.replicas for s in r.counters.values()]
    )
    width = U.bin_width_s(start, end, sample_s)
    edges = U.bin_edges(start, end, width)
    timeline: dict[str, list[float | None]] = {"time_s": _clean(edges[:-1])}

    # --- counts -----------------------------------------------------------------------------------
    device_count = U.concurrent_count(
        [(float(d.time_s.min()), float(d.time_s.max())) for d in tel.gpus if d.time_s.size]
    )
    physical = {d.key.rsplit("/mig", 1)[0]: d for d in tel.gpus}
    gpu_count = U.concurrent_count(
        [(float(d.time_s.min()), float(d.time_s.max())) for d in physical.values() if d.time_s.size]
    )
    replica_spans = [
        sp
        for r in tel.replicas
        if (sp := spans_of([*r.gauges.values(), *r.counters.values()])) is not None
    ]
    n_replicas = replicas or (
        U.concurrent_count(replica_spans)
        if replica_spans
        else max(1, gpu_count // chips_per_replica)
    )
    n_gpus = gpus or (gpu_count if gpu_count else n_replicas * chips_per_replica)
    if gpu_count and n_replicas * chips_per_replica > n_gpus:
        notes.append(
            f"{n_replicas} replicas × {chips_per_replica} chips exceed the {n_gpus} GPUs seen"
        )

    # --- lengths, concurrency, cap --------------------------------------------------------------
    lengths_source = None
    seen_isl, since = hist_mean(tel.replicas, "prompt_tokens")
    seen_osl, since2 = hist_mean(tel.replicas, "output_tokens")
    if seen_isl is not None and seen_osl is not None:
        lengths_source = "engine histograms" + (" (since server start)" if since or since2 else "")
    elif len(tel.requests):
        seen_isl = float(np.nanmean(tel.requests.prompt_tokens))
        seen_osl = float(np.nanmean(tel.requests.completion_tokens))
        lengths_source = "request logs"
    if isl is not None or osl is not None:
        lengths_source = "given"
        seen_isl, seen_osl = isl or seen_isl, osl or seen_osl
    if seen_isl is None or seen_osl is None:
        notes.append("mean prompt and output lengths unknown: pass --isl and --osl")

    all_running = [r.gauges["running"] for r in tel.replicas if "running" in r.gauges]
    all_waiting = [r.gauges["waiting"] for r in tel.replicas if "waiting" in r.gauges]
    all_kv = [r.gauges["kv_usage"] for r in tel.replicas if "kv_usage" in r.gauges]
    peak_running = max((float(s.value.max()) for s in all_running if len(s)), default=None)
    peak_waiting = max((float(s.value.max()) for s in all_waiting if len(s)), default=None)
    mean_running = None
    if all_running:
        w = np.concatenate([U.hold_s(s.time_s) for s in all_running])
        v = np.concatenate([s.value for s in all_running])
        busy = v > 0
        if w[busy].sum() > 0:
            mean_running = float(np.sum(w[busy] * v[busy]) / w[busy].sum())
    capped_at = batch_cap(tel.replicas, peak_running)

    holdable = (
        rep.holdable_batch(seen_isl, seen_osl)
        if rep and seen_isl is not None and seen_osl is not None
        else None
    )
    batch = capped_at if capped_at is not None else holdable
    if rep is not None and holdable == 0:
        notes.append(f"{rep.model.id} does not fit on {rep.hardware.id} with this layout")
        batch = None

    # --- utilization shares ------------------------------------------------------------------------
    source: Literal["gpu", "engine", "requests"] | None = None
    shares = None
    if gpu_devices:
        source = "gpu"
        shares = U.gpu_shares(
            [(d.time_s, d.utilization) for d in gpu_devices],
            idle_below=idle_below,
            underused_below=underused_below,
        )
    elif loads:
        source = "engine"
        shares = U.load_shares(
            [ld for _, ld in loads], capacity=batch, underused_below=underused_below
        )
    elif len(tel.requests) and np.isfinite(tel.requests.end_s).any():
        source = "requests"
        shares = U.request_shares(tel.requests, capacity=batch, underused_below=underused_below)
    if shares is None or shares.observed_s <= 0:
        notes.append("too few samples for utilization over time (one scrape?)")
        shares = None
        source = None
    if gpu_devices:
        per_device = np.array([U.bin_mean(edges, d.time_s, d.utilization) for d in gpu_devices])
        with quiet_nan():
            timeline["gpu_utilization"] = _clean(np.nanmean(per_device, axis=0))
    if loads:
        timeline["running"] = _clean(
            np.nansum([U.bin_mean(edges, s.time_s, s.value) for s in all_running], axis=0)
        )
        if all_waiting:
            timeline["waiting"] = _clean(
                np.nansum([U.bin_mean(edges, s.time_s, s.value) for s in all_waiting], axis=0)
            )
    if all_kv:
        with quiet_nan():
            timeline["kv_usage"] = _clean(
                np.nanmean([U.bin_mean(edges, s.time_s, s.value) for s in all_kv], axis=0)
            )

    # --- throughput ---------------------------------------------------------------------------------
    say("throughput")
    made = achieved_output(tel, edges, width)
    tokens, achieved, rate_bins = made.tokens, made.mean_tps, made.rate_bins
    if made.note:
        notes.append(made.note)
    p95 = peak = None
    if rate_bins is not None and np.isfinite(rate_bins).any():
        timeline["output_tps"] = _clean(rate_bins)
        p95 = float(np.nanpercentile(rate_bins, 95))
        peak = float(np.nanmax(rate_bins))
    if len(tel.requests) and np.isfinite(tel.requests.end_s).any():
        t_f, count = U.in_flight(tel.requests)
        idx = np.clip(np.searchsorted(t_f, edges[:-1], side="right") - 1, 0, None)
        timeline["in_flight"] = _clean(np.where(edges[:-1] >= t_f[0], count[idx], np.nan))

    capacity = (
        rep.attainable_tps(seen_isl, seen_osl, batch)
        if rep and batch and seen_isl is not None and seen_osl is not None
        else None
    )
    at_observed = (
        float(rep.steady(mean_running, seen_isl, seen_osl).output_tps)
        if rep and mean_running and seen_isl is not None and seen_osl is not None
        else None
    )
    cap_util = achieved / (capacity * n_replicas) if achieved is not None and capacity else None
    need = basis = None
    if p95 is not None and capacity:
        need = p95 / (capacity * target_load)
        basis = f"p95 output tokens/s ÷ ({capacity:.0f} per replica × {target_load:.0%})"
    elif gpu_devices and "gpu_utilization" in timeline:
        summed = np.nansum(
            [U.bin_mean(edges, d.time_s, d.utilization) for d in gpu_devices], axis=0
        )
        need = float(np.percentile(summed, 95)) / chips_per_replica / target_load
        basis = f"p95 of the summed GPU utilization ÷ {target_load:.0%} (no token counts)"
    observed_tpot = hist_mean(tel.replicas, "tpot_s")[0]
    observed_tpot_ms = observed_tpot * 1e3 if observed_tpot is not None else None

    # --- KV ---------------------------------------------------------------------------------------
    kv_values = np.concatenate([s.value for s in all_kv]) if all_kv else np.zeros(0)
    kv_w = np.concatenate([U.hold_s(s.time_s) for s in all_kv]) if all_kv else np.zeros(0)
    info = next((r.cache_info for r in tel.replicas if r.cache_info), {})
    prefix_enabled = (
        {"true": True, "false": False}.get(info.get("enable_prefix_caching", "").lower())
        if info
        else None
    )
    queries = counter_sum(tel.replicas, "prefix_queries")
    hits = counter_sum(tel.replicas, "prefix_hits")
    kv = KvSummary(
        usage_mean=float(np.sum(kv_w * kv_values) / kv_w.sum())
        if kv_w.sum() > 0
        else (float(kv_values.mean()) if kv_values.size else None),
        usage_p95=float(np.percentile(kv_values, 95)) if kv_values.size else None,
        usage_max=float(kv_values.max()) if kv_values.size else None,
        headroom=1.0 - float(np.percentile(kv_values, 95)) if kv_values.size else None,
        engine_capacity_tokens=engine_kv_tokens(info),
        engine_max_concurrency=as_float(info.get("kv_cache_max_concurrency")),
        model_max_sequences=rep.max_sequences(seen_isl, seen_osl)
        if rep and seen_isl is not None and seen_osl is not None
        else None,
        peak_running=peak_running,
        peak_waiting=peak_waiting,
        capped_at=capped_at,
        preemptions=counter_sum(tel.replicas, "preemptions"),
        prefix_caching_enabled=prefix_enabled,
        prefix_hit_rate=hits / queries if queries and hits is not None else None,
    )

    # --- money ------------------------------------------------------------------------------------
    price, price_source = price_per_hour, "--price-per-hour" if price_per_hour is not None else None
    if price is None and rep is not None:
        row = catalog.default_price(rep.hardware.id)
        if row is not None:
            price = row.usd_per_chip_hour
            price_source = f"{row.provider} {row.term}: {row.source} ({row.as_of or 'undated'})"
    if price is None:
        notes.append("no price: pass --price-per-hour (USD per chip-hour) for dollar figures")
    spend = price * n_gpus * HOURS_PER_MONTH if price is not None else None
    util_for_waste, waste_basis = None, None
    if cap_util is not None:
        util_for_waste, waste_basis = min(cap_util, 1.0), "achieved ÷ attainable output tokens/s"
        if cap_util > 1.0:
            notes.append(
                f"achieved throughput is {cap_util:.2f}× what the model attains"
                + (
                    ": calibrate it (`infercost calibrate`) before trusting the capacity figures"
                    if rep is not None and not rep.profile.version.startswith("calibration")
                    else ""
                )
            )
    elif shares is not None and shares.mean_utilization is not None:
        util_for_waste = shares.mean_utilization
        waste_basis = "mean GPU utilization" if source == "gpu" else "mean load ÷ batch capacity"
    elif shares is not None:
        util_for_waste, waste_basis = shares.busy + (shares.underused or 0.0), "busy time share"
    wasted_share = (
        utilization_cost(1.0, util_for_waste).wasted_share
        if util_for_waste is not None and util_for_waste > 0
        else (1.0 if util_for_waste == 0 else None)
    )
    months = (end - start) / 3600.0 / HOURS_PER_MONTH if end > start else None
    money = MoneySummary(
        usd_per_chip_hour=price,
        price_source=price_source,
        spend_usd_per_month=spend,
        idle_usd_per_month=spend * shares.idle if spend is not None and shares else None,
        wasted_usd_per_month=spend * wasted_share
        if spend is not None and wasted_share is not None
        else None,
        wasted_share=wasted_share,
        waste_basis=waste_basis,
        usd_per_mtok_output_observed=spend * months / tokens * 1e6
        if spend is not None and months and tokens
        else None,
    )

    # --- recommendations ----------------------------------------------------------------------------
    say("recommendations")
    slo = tpot_slo_ms
    if slo is None and rep is not None and batch and seen_isl is not None and seen_osl is not None:
        model_tpot = float(rep.steady(batch, seen_isl, seen_osl).tpot_s) * 1e3
        slo = max(model_tpot, observed_tpot_ms or 0.0)
    prefill = hist_total(tel.replicas, "prefill_s")
    decode = hist_total(tel.replicas, "decode_s")
    sit = Situation(
        replica=rep,
        replicas=n_replicas,
        replica_usd_per_month=price * chips_per_replica * HOURS_PER_MONTH
        if price is not None
        else None,
        price_per_chip_hour=price,
        price_given=price_per_hour is not None,
        isl=seen_isl,
        osl=seen_osl,
        peak_tps=p95
        if p95 is not None
        else (need * capacity * target_load if need is not None and capacity else None),
        need_replicas=need,
        capacity_tps=capacity,
        batch=batch,
        target_load=target_load,
        capped_at=capped_at,
        kv_usage_p95=kv.usage_p95,
        prefix_caching_enabled=prefix_enabled,
        prefill_share_measured=prefill / (prefill + decode)
        if prefill is not None and decode is not None and prefill + decode > 0
        else None,
        tpot_slo_ms=slo,
        candidates=candidates,
    )
    recs = recommend(sit)

    return AuditReport(
        start=to_datetime(start) if tel.start_s is not None else None,
        end=to_datetime(end) if tel.end_s is not None else None,
        duration_s=end - start,
        bin_s=width,
        files=[
            AuditedFile(path=f.path, sha256=f.sha256, kind=f.kind, added=f.added) for f in ingested
        ],
        model=rep.model.id if rep else None,
        hardware=rep.hardware.id if rep else hardware,
        utilization=UtilizationSummary(
            source=source,
            devices=device_count,
            gpus=n_gpus,
            replicas=n_replicas,
            chips_per_replica=chips_per_replica,
            observed_s=shares.observed_s if shares else 0.0,
            idle_share=_finite(shares.idle) if shares else None,
            underused_share=shares.underused if shares else None,
            busy_share=_finite(shares.busy) if shares else None,
            mean_utilization=shares.mean_utilization if shares else None,
            idle_below=idle_below,
            underused_below=underused_below,
        ),
        throughput=ThroughputSummary(
            output_tokens=tokens,
            achieved_output_tps=achieved,
            achieved_output_tps_p95=p95,
            achieved_output_tps_peak=peak,
            isl=seen_isl,
            osl=seen_osl,
            lengths_source=lengths_source,
            mean_running=mean_running,
            observed_tpot_ms=observed_tpot_ms,
            batch=batch,
            attainable_output_tps_per_replica=capacity,
            attainable_output_tps=capacity * n_replicas if capacity else None,
            model_output_tps_at_observed_load=at_observed,
            capacity_utilization=cap_util,
            needed_replicas=need,
            needed_replicas_basis=basis,
            efficiency_version=rep.profile.version if rep else None,
        ),
        kv=kv,
        money=money,
        recommendations=recs,
        skipped=dict(sit.skipped),
        notes=notes,
        timeline=timeline,
    )


__all__ = [
    "AuditReport",
    "KvSummary",
    "MoneySummary",
    "Recommendation",
    "ThroughputSummary",
    "UtilizationSummary",
    "audit",
]
