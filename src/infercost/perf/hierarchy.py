"""Where a step's KV cache is read from: on-chip SRAM, HBM, or offload tiers (host DRAM, SSD).

The step's KV working set (every KV byte it reads, per chip) is placed greedily: SRAM first when the
opt-in `sram_kv` assumption holds (up to the SRAM size), then HBM (up to the memory plan's KV room,
unbounded unless a caller sets it), then each offload tier in order. SRAM and HBM are read at their
bandwidth times the same achievable fractions (`memory`, `kv_memory`); an offload tier at the
bandwidth its spec gives (already an achievable figure). Reads from different tiers do not overlap
(no prefetch is assumed), so the time is the sum. A working set larger than every tier together
cannot be held: its time is infinite.
"""

from __future__ import annotations

import numpy as np

from infercost._types import FloatArray
from infercost.perf.resources import Resources


def kv_seconds_per_byte(res: Resources, working_set_bytes: FloatArray) -> FloatArray:
    """Average seconds per KV byte for a step whose KV reads total `working_set_bytes` per chip."""
    eff = res.memory_eff * res.kv_memory_eff
    hbm_rate = res.memory_bw * eff
    left = np.asarray(working_set_bytes, dtype=float)
    seconds = np.zeros_like(left + hbm_rate)
    with np.errstate(invalid="ignore", divide="ignore"):
        tiers = [(res.sram_kv_bytes, res.sram_bw * eff), (res.hbm_kv_bytes, hbm_rate)]
        for capacity, rate in [*tiers, *res.offload_tiers]:
            here = np.minimum(left, capacity)
            seconds = seconds + np.where(here > 0, here / rate, 0.0)
            left = left - here
        seconds = np.where(left > 0, np.inf, seconds)
        per_byte: FloatArray = np.where(
            working_set_bytes > 0, seconds / working_set_bytes, 1.0 / hbm_rate
        )
    return per_byte
