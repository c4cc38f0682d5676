"""Array type aliases shared by the vectorized functions."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ArrayLike = float | int | npt.NDArray[Any]
BoolArray = npt.NDArray[np.bool_]
