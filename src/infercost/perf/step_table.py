"""Step times tabulated once per deployment, for callers that need one step at a time.

`step_time` is vectorized: a million points cost a fraction of a second, but one scalar call costs
hundreds of microseconds of numpy overhead. A request-level simulator takes millions of single steps,
so it reads them from this table instead: `step_time` evaluated on a grid over

    decode sequences × mean decode context × prefill tokens × tokens per prefill sequence × prefill past

in one vectorized pass, then interpolated multilinearly in pure Python. Grid points are dense where
the step time bends (small batches, every integer batch up to 16) and geometric beyond, so the
interpolation error stays within a few per cent (checked against `step_time` in the tests). The
table holds the time and the per-chip FLOPs and bytes of each point, for MFU and MBU.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from typing import NamedTuple

import numpy as np

from infercost._types import FloatArray
from infercost.perf.resources import Layout, Resources
from infercost.perf.step import step_time
from infercost.specs.model import ModelSpec


def _geometric(start: float, stop: float, ratio: float) -> list[float]:
    out = [start]
    while out[-1] < stop:
        out.append(min(stop, out[-1] * ratio))
    return out


def _axis(dense_to: int, stop: float, ratio: float, *, zero: bool = True) -> tuple[float, ...]:
    """0 (optional), every integer 1..dense_to, then geometric steps up to `stop` (inclusive)."""
    first = [0.0] if zero else []
    dense = [float(i) for i in range(1, min(dense_to, int(stop)) + 1)]
    tail = _geometric(dense[-1], stop, ratio)[1:] if dense and dense[-1] < stop else []
    return tuple(first + dense + tail)


class StepCost(NamedTuple):
    """One step: seconds, and per-chip FLOPs and bytes moved (weights + KV)."""

    seconds: float
    flops_per_chip: float
    bytes_per_chip: float


class StepTable:
    """Interpolated `step_time` for one model × resources × layout (scalar `Resources` and `Layout`).

    Out-of-range arguments are clamped to the grid's edges; callers size the grid with the
    deployment's limits (most sequences, largest step, longest context).
    """

    def __init__(
        self,
        model: ModelSpec,
        res: Resources,
        layout: Layout,
        *,
        max_seqs: int,
        max_step_tokens: int,
        max_context: int,
    ) -> None:
        # with pp stages a step's sequences and prompts are spread over pp micro-batches, and one
        # step (every sequence one token further) is the time of one micro-batch through all
        # layers: the pipeline cycle, as in perf.steady
        self._stages = float(np.asarray(layout.pp).max())
        ctx_stop = float(max(max_context, 16))
        self.axes: tuple[tuple[float, ...], ...] = (
            _axis(16, float(max(max_seqs, 1)), 1.2),  # decode sequences
            (0.0, *_geometric(16.0, ctx_stop, 1.6)),  # mean decode context
            (0.0, *_geometric(1.0, float(max(max_step_tokens, 1)), 1.5)),  # prefill tokens
            tuple(_geometric(1.0, ctx_stop, 3.0)),  # tokens per prefill sequence
            (0.0, *_geometric(64.0, ctx_stop, 3.0)),  # prefill past (cached context)
        )
        shape = tuple(len(a) for a in self.axes)
        self._strides = tuple(int(np.prod(shape[i + 1 :])) for i in range(len(shape)))
        seconds, flops, moved = (array("d") for _ in range(3))
        rest = np.meshgrid(*(np.asarray(a) for a in self.axes[1:]), indexing="ij")
        for b in self.axes[0]:  # one vectorized call per batch value keeps memory small
            ctx, tokens, per_seq, past = rest
            step = step_time(
                model,
                res,
                layout,
                decode_seqs=b,
                decode_context=ctx,
                prefill_tokens=tokens,
                prefill_seqs=tokens / per_seq,
                prefill_context=past,
            )
            seconds.frombytes(np.ascontiguousarray(step.total + 0 * ctx, dtype=float).tobytes())
            flops.frombytes(
                np.ascontiguousarray(step.flops_per_chip + 0 * ctx, dtype=float).tobytes()
            )
            moved.frombytes(
                np.ascontiguousarray(
                    step.weight_bytes_per_chip + step.kv_bytes_per_chip + 0 * ctx, dtype=float
                ).tobytes()
            )
        self._tables = (seconds, flops, moved)

    def _corners(self, point: tuple[float, ...]) -> list[tuple[int, float]]:
        """Flat indices and weights of the grid cell around `point` (exact hits collapse an axis).

        A point shorter than the grid sits at the first value of the remaining axes (no prefill)."""
        base = 0
        splits: list[tuple[int, float]] = []
        for axis, stride, x in zip(self.axes, self._strides, point, strict=False):
            i = bisect_right(axis, x) - 1
            if i < 0:
                i = 0
            elif i >= len(axis) - 1:
                i = len(axis) - 1
            elif axis[i] != x:
                lo = axis[i]
                splits.append((stride, (x - lo) / (axis[i + 1] - lo)))
            base += i * stride
        corners = [(base, 1.0)]
        for stride, t in splits:
            corners = [
                pair for k, w in corners for pair in ((k, w * (1.0 - t)), (k + stride, w * t))
            ]
        return corners

    @staticmethod
    def _point(
        decode_seqs: float,
        decode_context: float,
        prefill_tokens: float,
        prefill_seqs: float,
        prefill_context: float,
    ) -> tuple[float, ...]:
        if prefill_tokens <= 0:
            return (decode_seqs, decode_context)  # the prefill axes sit at their first value
        per_seq = prefill_tokens / prefill_seqs if prefill_seqs > 0 else prefill_tokens
        return (decode_seqs, decode_context, prefill_tokens, max(per_seq, 1.0), prefill_context)

    def cost(
        self,
        decode_seqs: float,
        decode_context: float,
        prefill_tokens: float = 0.0,
        prefill_seqs: float = 0.0,
        prefill_context: float = 0.0,
    ) -> StepCost:
        """One step with `decode_seqs` sequences at mean context `decode_context`, and
        `prefill_tokens` prefill tokens from `prefill_seqs` sequences with mean cached past
        `prefill_context`."""
        if self._stages > 1:
            decode_seqs = math.ceil(decode_seqs / self._stages)
            prefill_tokens, prefill_seqs = (
                x / self._stages for x in (prefill_tokens, prefill_seqs)
            )
        if prefill_tokens <= 0:
            return self._decode_only(decode_seqs, decode_context)
        corners = self._corners(
            self._point(decode_seqs, decode_context, prefill_tokens, prefill_seqs, prefill_context)
        )
        seconds_t, flops_t, moved_t = self._tables
        seconds = flops = moved = 0.0
        for k, w in corners:
            seconds += seconds_t[k] * w
            flops += flops_t[k] * w
            moved += moved_t[k] * w
        return StepCost(seconds=seconds, flops_per_chip=flops, bytes_per_chip=moved)

    def _decode_only(self, decode_seqs: float, decode_context: float) -> StepCost:
        """Bilinear in (sequences, context): the common step, written out for speed."""
        (i, t), (j, u) = (
            self._cell(a, x)
            for a, x in zip(self.axes[:2], (decode_seqs, decode_context), strict=False)
        )
        rows, cols = self._strides[0], self._strides[1]
        k00 = i * rows + j * cols
        k01, k10 = k00 + (cols if u else 0), k00 + (rows if t else 0)
        k11 = k10 + (cols if u else 0)
        w00, w01, w10, w11 = (1 - t) * (1 - u), (1 - t) * u, t * (1 - u), t * u
        values = [
            w00 * tab[k00] + w01 * tab[k01] + w10 * tab[k10] + w11 * tab[k11]
            for tab in self._tables
        ]
        return StepCost(seconds=values[0], flops_per_chip=values[1], bytes_per_chip=values[2])

    @staticmethod
    def _cell(axis: tuple[float, ...], x: float) -> tuple[int, float]:
        """Lower grid index and the fraction of the way to the next (0 on or beyond the edges)."""
        i = bisect_right(axis, x) - 1
        if i < 0:
            return 0, 0.0
        if i >= len(axis) - 1:
            return len(axis) - 1, 0.0
        lo = axis[i]
        return i, (x - lo) / (axis[i + 1] - lo)

    @property
    def points(self) -> int:
        return len(self._tables[0])


def exact(model: ModelSpec, res: Resources, layout: Layout, points: FloatArray) -> FloatArray:
    """`step_time` at rows of (decode seqs, decode context, prefill tokens, prefill seqs, past):
    the reference the table is checked against."""
    b, ctx, tokens, seqs, past = (points[:, i] for i in range(5))
    out: FloatArray = step_time(
        model,
        res,
        layout,
        decode_seqs=b,
        decode_context=ctx,
        prefill_tokens=tokens,
        prefill_seqs=np.maximum(seqs, 1e-12),
        prefill_context=past,
    ).total
    return out
