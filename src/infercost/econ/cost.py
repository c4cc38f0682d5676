"""Dollars from chip-hours: cost per token is the chips' price times the seconds each token holds them."""

from __future__ import annotations

import numpy as np

from infercost._types import ArrayLike, FloatArray

SECONDS_PER_HOUR = 3600.0


def usd_per_mtok(
    usd_per_chip_hour: ArrayLike, chips: ArrayLike, seconds: ArrayLike, tokens: ArrayLike
) -> FloatArray:
    """$ per million tokens when `chips` chips spend `seconds` producing `tokens` tokens."""
    price = np.asarray(usd_per_chip_hour, dtype=float) * np.asarray(chips, dtype=float)
    out: FloatArray = price / SECONDS_PER_HOUR * np.asarray(seconds) / np.asarray(tokens) * 1e6
    return out
