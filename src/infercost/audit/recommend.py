"""Ranked recommendations, each with its predicted saving in $ per month.

The common yardstick is the capacity the observed load needs. With `C` the output tokens/s one replica
attains at the observed lengths (`capacity.py`) and `D` the peak (95th-percentile) output tokens/s
observed, the load needs `N = D / (C · target_load)` replicas (fractional). A change that makes a
replica `r` times faster needs `N / r` replicas, saving `min(N, replicas) · (1 − 1/r)` replica-months. Savings of
different levers overlap and do not add. Each recommendation states what it assumed.

- consolidate: whole replicas — `replicas − max(1, ⌈N⌉)` replica-months (only with two or more).
- max_num_seqs: the engine ran at a batch cap (requests waited while the KV cache had room); `r` is
  the attainable throughput at the batch the KV cache holds over that at the cap.
- quantize: `econ.quantization.quantization_whatif`; `r` is the best fitting format's output tokens/s
  over the current format's, with its published quality loss (or "unknown").
- prefix caching: vLLM reports it disabled; at most the prefill share of the step (measured from
  vLLM's prefill and decode time histograms, else modelled) is saved — an upper bound (every prompt
  token a cache hit).
- GPU type: `econ.compare.compare` at the observed lengths and TPOT; the saving is `N` replica-months
  × (1 − the cheapest alternative's $/Mtok ÷ the current hardware's, both from the same model).
- MIG: replicas of one GPU moved to the MIG profile (catalog MIG profiles,
  `plan.capacity.fractional_hardware`) whose instances carry the peak on the smallest share of the
  GPUs — a slice takes the larger of its compute (of 7) and memory (of 8) shares; the freed share is
  valued at the GPU price.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from infercost import catalog
from infercost.audit.capacity import ReplicaModel
from infercost.econ.compare import compare
from infercost.econ.quantization import quantization_whatif
from infercost.errors import InfercostError
from infercost.plan.capacity import fractional_hardware
from infercost.plan.packing import mig_gpu, mig_profiles

Kind = Literal["consolidate", "max-num-seqs", "quantize", "prefix-caching", "gpu-type", "mig"]


class Recommendation(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    title: str
    savings_usd_per_month: float | None  # None when no price is known
    savings_share: float  # of the current monthly spend
    bound: Literal["estimate", "upper"] = "estimate"
    detail: str
    evidence: dict[str, Any]
    assumptions: list[str]


@dataclass
class Situation:
    """What the recommendations read (built by `audit()`)."""

    replica: ReplicaModel | None
    replicas: int
    replica_usd_per_month: float | None
    price_per_chip_hour: float | None
    price_given: bool  # from the user (else the catalog default)
    isl: float | None
    osl: float | None
    peak_tps: float | None  # 95th percentile of binned output tokens/s, all replicas
    need_replicas: float | None  # N, fractional
    capacity_tps: float | None  # C, one replica at the batch it runs at
    batch: int | None  # the batch C is computed at
    target_load: float
    capped_at: int | None  # observed batch cap (requests waited, KV had room)
    kv_usage_p95: float | None
    prefix_caching_enabled: bool | None
    prefill_share_measured: float | None
    tpot_slo_ms: float | None
    candidates: list[str] | None
    skipped: dict[str, str] = field(default_factory=dict)


def _money(sit: Situation, replica_months: float) -> tuple[float | None, float]:
    share = replica_months / sit.replicas if sit.replicas else 0.0
    usd = None if sit.replica_usd_per_month is None else replica_months * sit.replica_usd_per_month
    return usd, share


def _needs(sit: Situation, kind: str, *names: str) -> bool:
    missing = [n for n in names if getattr(sit, n) is None]
    if missing:
        sit.skipped[kind] = f"needs {', '.join(missing)}"
        return False
    return True


def consolidate(sit: Situation) -> Recommendation | None:
    if not _needs(sit, "consolidate", "need_replicas"):
        return None
    assert sit.need_replicas is not None
    keep = max(1, math.ceil(sit.need_replicas))
    if sit.replicas < 2 or keep >= sit.replicas:
        sit.skipped["consolidate"] = (
            f"the peak needs {sit.need_replicas:.2f} replicas; {sit.replicas} run"
        )
        return None
    usd, share = _money(sit, sit.replicas - keep)
    return Recommendation(
        kind="consolidate",
        title=f"consolidate {sit.replicas} replicas into {keep}",
        savings_usd_per_month=usd,
        savings_share=share,
        detail=(
            f"the 95th-percentile load needs {sit.need_replicas:.2f} replicas at "
            f"{sit.target_load:.0%} load; {sit.replicas - keep} can be turned off"
        ),
        evidence={
            "replicas": sit.replicas,
            "needed_replicas": sit.need_replicas,
            "peak_output_tps": sit.peak_tps,
            "replica_capacity_tps": sit.capacity_tps,
        },
        assumptions=[f"each replica kept at most {sit.target_load:.0%} loaded at the peak"],
    )


def _faster(
    sit: Situation,
    kind: Kind,
    ratio: float,
    title: str,
    detail: str,
    evidence: Mapping[str, Any],
    assumptions: list[str],
    bound: Literal["estimate", "upper"] = "estimate",
) -> Recommendation | None:
    assert sit.need_replicas is not None
    if not ratio > 1.0:
        sit.skipped[kind] = f"no faster option (×{ratio:.2f})"
        return None
    # never more than the replicas running: a load the model says needs more is not saved on
    usd, share = _money(sit, min(sit.need_replicas, sit.replicas) * (1.0 - 1.0 / ratio))
    return Recommendation(
        kind=kind,
        title=title,
        savings_usd_per_month=usd,
        savings_share=share,
        bound=bound,
        detail=detail,
        evidence={**evidence, "throughput_ratio": ratio, "needed_replicas": sit.need_replicas},
        assumptions=[
            *assumptions,
            "saving in fractional replicas: realized by consolidating or sharing the capacity",
        ],
    )


def raise_max_num_seqs(sit: Situation) -> Recommendation | None:
    kind = "max-num-seqs"
    if sit.capped_at is None:
        sit.skipped[kind] = "no sign of a batch cap (no waiting requests beside free KV cache)"
        return None
    if not _needs(sit, kind, "replica", "isl", "osl", "need_replicas"):
        return None
    assert sit.replica is not None and sit.isl is not None and sit.osl is not None
    rep = sit.replica
    holdable = rep.max_sequences(sit.isl, sit.osl)
    target = min(holdable, max(rep.batch_limit, sit.capped_at))
    if target <= sit.capped_at:
        sit.skipped[kind] = f"the KV cache holds {holdable} sequences; the cap is {sit.capped_at}"
        return None
    now = rep.attainable_tps(sit.isl, sit.osl, sit.capped_at)
    then = rep.attainable_tps(sit.isl, sit.osl, target)
    return _faster(
        sit,
        "max-num-seqs",
        then / now if now > 0 else 0.0,
        f"raise max_num_seqs from {sit.capped_at} to {target}",
        (
            f"requests waited while at most {sit.capped_at} ran and the KV cache was "
            f"{(sit.kv_usage_p95 or 0):.0%} full (p95); at {target} sequences a replica does "
            f"{then:.0f} instead of {now:.0f} output tokens/s"
        ),
        {"cap": sit.capped_at, "kv_holds": holdable, "tps_now": now, "tps_after": then},
        ["the KV cache holds sequences of the observed mean lengths (memory plan)"],
    )


def quantize(sit: Situation) -> Recommendation | None:
    if not _needs(sit, "quantize", "replica", "isl", "osl", "need_replicas"):
        return None
    assert sit.replica is not None and sit.isl is not None and sit.osl is not None
    rep = sit.replica
    try:
        what = quantization_whatif(
            rep.model,
            rep.hardware,
            tp=rep.parallelism.tp,
            kv=rep.precision.kv.id,
            batch=rep.batch_limit,
            isl=max(round(sit.isl), 1),
            osl=max(round(sit.osl), 1),
            price_per_hour=sit.price_per_chip_hour or 0.0,
            engine=rep.engine,
        )
    except InfercostError as err:
        sit.skipped["quantize"] = str(err)
        return None
    current = next((r for r in what.rows if r.format == rep.precision.weights.id), None)
    if current is None:
        sit.skipped["quantize"] = f"the current format {rep.precision.weights.id} is not compared"
        return None

    # the batch a replica runs at: what it holds, or the cap seen in the data
    def batch_of(r: ReplicaModel) -> int:
        held = r.holdable_batch(isl, osl)
        return min(held, sit.capped_at) if sit.capped_at else held

    isl, osl = sit.isl, sit.osl
    batch_now = batch_of(rep)
    now = rep.attainable_tps(isl, osl, batch_now)
    options = []
    for row in what.rows:
        if not row.fits or row.bits_per_element >= current.bits_per_element:
            continue
        other = rep.with_weights(row.format)
        options.append((other.attainable_tps(isl, osl, batch_of(other)), row, other))
    if not options or now <= 0:
        sit.skipped["quantize"] = "no smaller weight format the hardware runs natively"
        return None
    tps, best, other = max(options, key=lambda o: o[0])
    loss = best.quality.loss_pct
    quality = (
        f"published quality loss {loss:.1f} % ({best.quality.benchmark})"
        if loss is not None
        else "quality loss unknown for this model: measure it before switching"
    )
    batch_then = batch_of(other)
    return _faster(
        sit,
        "quantize",
        tps / now,
        f"quantize weights {current.format} → {best.format}",
        (
            f"{best.format} weights: a replica attains {tps:.0f} instead of {now:.0f} output "
            f"tokens/s (batch {batch_then} vs {batch_now}); {quality}"
        ),
        {
            "format": best.format,
            "output_tps_now": now,
            "output_tps_after": tps,
            "quality_loss_pct": loss,
            "quality_source": best.quality.source,
        },
        ["each format at the batch its KV cache and the engine limit allow (continuous batching)"],
    )


def prefix_caching(sit: Situation) -> Recommendation | None:
    kind: Kind = "prefix-caching"
    if sit.prefix_caching_enabled is not False:
        sit.skipped[kind] = (
            "prefix caching is on"
            if sit.prefix_caching_enabled
            else "no engine metrics say whether prefix caching is on"
        )
        return None
    if not _needs(sit, kind, "need_replicas"):
        return None
    assert sit.need_replicas is not None
    share, basis = sit.prefill_share_measured, "measured (vLLM prefill and decode time histograms)"
    if share is None:
        if sit.replica is None or sit.isl is None or sit.osl is None or sit.batch is None:
            sit.skipped[kind] = (
                "needs the prefill share: vLLM time histograms or --model/--hardware"
            )
            return None
        share = sit.replica.prefill_share(sit.batch, sit.isl, sit.osl)
        basis = "modelled (steady-state step with and without the prompts)"
    if share <= 0:
        sit.skipped[kind] = "prefill takes no measurable share of the time"
        return None
    return _faster(
        sit,
        kind,
        1.0 / (1.0 - min(share, 0.99)),
        "enable prefix caching",
        (
            f"vLLM runs with prefix caching off; prompts take {share:.0%} of the time "
            f"({basis}); shared prefixes (system prompts, conversation history) would skip it"
        ),
        {"prefill_share": share, "prefill_share_basis": basis},
        [
            "upper bound: every prompt token a cache hit; the real share of shared prefixes is not in the data"
        ],
        bound="upper",
    )


def gpu_type(sit: Situation) -> Recommendation | None:
    if not _needs(sit, "gpu-type", "replica", "isl", "osl", "need_replicas", "price_per_chip_hour"):
        return None
    assert sit.replica is not None and sit.isl is not None and sit.osl is not None
    rep = sit.replica
    refs = sit.candidates or [
        h.id
        for h in catalog.all_hardware()
        if h.kind == "gpu" and catalog.default_price(h.id) is not None
    ]
    refs = [rep.hardware.id, *[r for r in refs if r != rep.hardware.id]]
    hw_ref = rep.hardware.id if rep.hardware.id in catalog.hardware_ids() else None
    if hw_ref is None:
        sit.skipped["gpu-type"] = f"{rep.hardware.id} is not in the catalog to compare"
        return None
    given = sit.price_per_chip_hour if sit.price_given else None
    try:
        result = compare(
            rep.model,
            refs,
            isl=max(round(sit.isl), 1),
            osl=max(round(sit.osl), 1),
            tpot_slo_ms=sit.tpot_slo_ms,
            price_per_hour=None if given is None else {rep.hardware.id: given},
            weights=rep.precision.weights.id,
            kv=rep.precision.kv.id,
            engine=rep.engine,
        )
    except InfercostError as err:
        sit.skipped["gpu-type"] = str(err)
        return None
    current = result.entries[0]
    ok = [e for e in result.entries[1:] if e.slo_met]
    if not ok:
        sit.skipped["gpu-type"] = "no other GPU meets the TPOT target"
        return None
    best = min(ok, key=lambda e: e.usd_per_mtok_output)
    ratio = current.usd_per_mtok_output / best.usd_per_mtok_output
    slo = f"TPOT ≤ {sit.tpot_slo_ms:.0f} ms" if sit.tpot_slo_ms else "no TPOT target"
    return _faster(
        sit,
        "gpu-type",
        ratio,
        f"move to {best.hardware}",
        (
            f"{best.chips}× {best.hardware} at batch {best.batch} costs "
            f"${best.usd_per_mtok_output:.3f} per 1M output tokens against "
            f"${current.usd_per_mtok_output:.3f} on {current.hardware} ({slo}, best layout each)"
        ),
        {
            "hardware": best.hardware,
            "chips": best.chips,
            "usd_per_mtok_output_now": current.usd_per_mtok_output,
            "usd_per_mtok_output_after": best.usd_per_mtok_output,
            "price_now": current.price.model_dump(mode="json"),
            "price_after": best.price.model_dump(mode="json"),
        },
        [
            "both sides at their cheapest layout and batch meeting the TPOT target (econ.compare)",
            "alternatives at the catalog's default price"
            + ("; the current hardware at the price given" if sit.price_given else ""),
        ],
    )


def mig(sit: Situation) -> Recommendation | None:
    kind = "mig"
    if sit.replica is None or not mig_profiles(sit.replica.hardware.id):
        sit.skipped[kind] = "the hardware has no MIG profiles in the catalog"
        return None
    if not _needs(sit, kind, "isl", "osl", "peak_tps", "need_replicas", "replica_usd_per_month"):
        return None
    assert sit.isl is not None and sit.osl is not None and sit.peak_tps is not None
    rep = sit.replica
    if rep.chips != 1:
        sit.skipped[kind] = "replicas span several GPUs"
        return None
    gpu = mig_gpu(rep.hardware.id)
    assert gpu is not None
    # (GPU share used, profile, instances, tps); a slice holds the larger of its compute and
    # memory shares of the GPU: two 3g.40gb take all 8 memory slices, so the 7th compute slice idles
    best: tuple[float, str, int, float] | None = None
    for p in mig_profiles(rep.hardware.id):
        if p.compute_slices >= gpu.compute_slices:
            continue
        sliced = rep.on(
            fractional_hardware(
                rep.hardware,
                label=f"MIG {p.name}",
                compute=p.compute_slices / gpu.compute_slices,
                bandwidth=p.memory_slices / gpu.memory_slices,
                memory_gb=p.memory_gb,
            )
        )
        if not sliced.fits():
            continue
        tps = sliced.attainable_tps(sit.isl, sit.osl)
        if tps <= 0:
            continue
        instances = max(1, math.ceil(sit.peak_tps / (tps * sit.target_load)))
        if instances > p.max_instances * sit.replicas:
            continue
        used = instances * max(
            p.compute_slices / gpu.compute_slices, p.memory_slices / gpu.memory_slices
        )
        if best is None or used < best[0] - 1e-12:
            best = (used, p.name, instances, tps)
    if best is None:
        sit.skipped[kind] = "no MIG slice holds the model and carries the peak"
        return None
    used, name, instances, tps = best
    gpus_now = sit.replicas * rep.chips
    freed = gpus_now - used
    if freed <= 0:
        sit.skipped[kind] = "the peak needs every slice"
        return None
    usd, share = _money(sit, freed)
    return Recommendation(
        kind="mig",
        title=f"serve from {instances}× MIG {name} instead of {gpus_now} whole GPU(s)",
        savings_usd_per_month=usd,
        savings_share=share,
        detail=(
            f"one {name} slice does {tps:.0f} output tokens/s at the observed lengths; "
            f"{instances} carry the peak of {sit.peak_tps:.0f} at {sit.target_load:.0%} load, "
            f"taking {used:.2f} of {gpus_now} GPU(s) (the larger of compute and memory slices)"
        ),
        evidence={
            "profile": name,
            "instances": instances,
            "slice_output_tps": tps,
            "gpu_share_used": used,
            "gpus_now": gpus_now,
        },
        assumptions=[
            "a slice is the GPU's peak × compute slices/7, bandwidth × memory slices/8 and the "
            "profile's memory (plan.capacity.fractional_hardware)",
            "a slice costs the larger of its compute (of 7) and memory (of 8) shares of the GPU; "
            "freed slices are worth that share of the GPU price (other workloads use them)",
        ],
    )


RULES = (consolidate, raise_max_num_seqs, quantize, prefix_caching, gpu_type, mig)


def recommend(sit: Situation) -> list[Recommendation]:
    """Every recommendation that applies, the largest saving first."""
    out = [r for rule in RULES if (r := rule(sit)) is not None]
    return sorted(out, key=lambda r: -(r.savings_share or 0.0))
