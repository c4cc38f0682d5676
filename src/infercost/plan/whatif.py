"""What if: the winner beside the same deployment with one thing changed — FP8 weights, an FP8 KV
cache, (dis)aggregated prefill, another GPU type — each with its $ and latency deltas.

Every alternative is the best screened point with that change (cheapest $/hour meeting the SLO,
replicas sized for the load). Both sides of a delta come from the same source: when the simulator
verified the alternative, its verified figures against the winner's verified figures (basis
"simulated"); otherwise the alternative's screened figures against the winner's screened figures
(basis "screened"). A change outside the searched space is screened here on the winner's hardware
(one small vectorized call), so the list does not depend on what the search block allowed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict

from infercost.errors import InfercostError
from infercost.plan.screen import ScreenTask, describe, rank, screen_task

MAX_OTHER_HARDWARE = 3


class WhatIf(BaseModel):
    model_config = ConfigDict(frozen=True)

    change: str  # "FP8 weights", "disaggregated prefill/decode", "on h200", …
    available: bool  # False: nothing with this change meets the SLO
    deployment: str  # the alternative in one phrase ("" when unavailable)
    replicas: int | None
    usd_per_hour: float | None
    usd_per_mtok_output: float | None
    ttft_ms_p99: float | None  # predicted by the screen
    tpot_ms_p99: float | None
    delta_usd_per_hour: float | None  # alternative − winner (screened)
    delta_pct: float | None
    delta_ttft_ms: float | None
    delta_tpot_ms: float | None
    basis: str  # "simulated" | "screened" (both sides of every delta)
    note: str


def _match(rows: list[dict[str, Any]], **want: Any) -> dict[str, Any] | None:
    return next((r for r in rows if all(r[k] == v for k, v in want.items())), None)


Figures = dict[str, Any]  # usd_per_hour, usd_per_mtok_output, ttft_ms_p99, tpot_ms_p99, replicas
FIGURES = ("usd_per_hour", "usd_per_mtok_output", "ttft_ms_p99", "tpot_ms_p99", "replicas")
KEY = ("hardware", "weights", "kv", "chips_per_replica", "tp", "pp", "ep", "mode")


def key_of(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in KEY)


def _entry(
    change: str,
    alt: dict[str, Any] | None,
    base: dict[str, Any],
    simulated: dict[tuple[Any, ...], Figures],
    failed: dict[tuple[Any, ...], str],
    note: str,
) -> WhatIf:
    if alt is None:
        return WhatIf(
            change=change,
            available=False,
            deployment="",
            replicas=None,
            usd_per_hour=None,
            usd_per_mtok_output=None,
            ttft_ms_p99=None,
            tpot_ms_p99=None,
            delta_usd_per_hour=None,
            delta_pct=None,
            delta_ttft_ms=None,
            delta_tpot_ms=None,
            basis="screened",
            note=note or "nothing with this change meets the SLO at this load",
        )
    both = key_of(alt) in simulated and key_of(base) in simulated
    a = simulated[key_of(alt)] if both else {k: alt[k] for k in FIGURES}
    b = simulated[key_of(base)] if both else {k: base[k] for k in FIGURES}
    if key_of(alt) in failed:
        note = (note + "; " if note else "") + failed[key_of(alt)]
    d_usd = a["usd_per_hour"] - b["usd_per_hour"]
    return WhatIf(
        change=change,
        available=True,
        deployment=describe(alt),
        replicas=int(a["replicas"]),
        usd_per_hour=a["usd_per_hour"],
        usd_per_mtok_output=a["usd_per_mtok_output"],
        ttft_ms_p99=a["ttft_ms_p99"],
        tpot_ms_p99=a["tpot_ms_p99"],
        delta_usd_per_hour=d_usd,
        delta_pct=100.0 * d_usd / b["usd_per_hour"],
        delta_ttft_ms=a["ttft_ms_p99"] - b["ttft_ms_p99"],
        delta_tpot_ms=a["tpot_ms_p99"] - b["tpot_ms_p99"],
        basis="simulated" if both else "screened",
        note=note,
    )


def _screened(
    task: ScreenTask, base: dict[str, Any], weights: str, kv: str, mode: str
) -> list[dict[str, Any]]:
    """Ranked rows of one extra precision/mode on the winner's hardware (outside the search)."""
    hw = [p for p in task.hardware if p.hardware.id == base["hardware"]]
    extra = replace(
        task,
        hardware=tuple(hw),
        weights=weights,
        kv=kv,
        modes=(mode,),  # type: ignore[arg-type]
    )
    try:
        return rank(screen_task(extra))
    except InfercostError:  # e.g. the format has no peak on this chip
        return []


def whatifs(
    ranked: list[dict[str, Any]],
    base: dict[str, Any],
    task: ScreenTask,
    native: str,
    simulated: dict[tuple[Any, ...], Figures],
    failed: dict[tuple[Any, ...], str],
) -> list[WhatIf]:
    """FP8 weights, FP8 KV, the other prefill mode, and up to three other GPU types.

    `simulated`: verified figures of the deployments the simulator passed (by `key_of`), the
    winner's among them; `failed`: why the simulator failed a deployment."""
    other_mode = "aggregated" if base["mode"] == "disaggregated" else "disaggregated"

    def best(weights: str, kv: str, mode: str) -> dict[str, Any] | None:
        pool = ranked + _screened(task, base, weights, kv, mode)
        pool = sorted(pool, key=lambda r: (r["usd_per_hour"], r["tpot_ms_p99"]))
        return _match(pool, hardware=base["hardware"], weights=weights, kv=kv, mode=mode)

    def entry(change: str, alt: dict[str, Any] | None, note: str = "") -> WhatIf:
        return _entry(change, alt, base, simulated, failed, note)

    out = []
    if base["weights"] != "fp8":
        out.append(
            entry(
                "FP8 weights",
                best("fp8", base["kv"], base["mode"]),
                "W8A8 where the chip has FP8 tensor cores, else weight-only; check quality",
            )
        )
    else:
        out.append(
            entry(
                f"{native} weights (no quantization)",
                best(native, base["kv"], base["mode"]),
                "what FP8 weights save",
            )
        )
    if base["kv"] != "fp8":
        out.append(entry("FP8 KV cache", best(base["weights"], "fp8", base["mode"])))
    else:
        out.append(
            entry(
                "bf16 KV cache",
                best(base["weights"], "bf16", base["mode"]),
                "what the FP8 KV cache saves",
            )
        )
    label = "disaggregated prefill/decode" if other_mode == "disaggregated" else "aggregated"
    out.append(entry(label, best(base["weights"], base["kv"], other_mode)))
    others: list[str] = []
    for r in ranked:
        if r["hardware"] != base["hardware"] and r["hardware"] not in others:
            others.append(r["hardware"])
            out.append(entry(f"on {r['hardware']}", r, "its best layout and precision"))
        if len(others) >= MAX_OTHER_HARDWARE:
            break
    return out
