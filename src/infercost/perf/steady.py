"""Batch-level run models: a fixed batch run to completion, and a continuous-batching steady state.

Fixed batch: `B` prompts are prefilled together (in chunks of the token budget), then `B` sequences decode
`osl − 1` steps together while their context grows from `isl` to `isl + osl` (step time is linear in
context, so the mean context gives the exact total).

Continuous batching (vLLM, TensorRT-LLM in-flight batching, SGLang): `B` sequences are in flight; each
step decodes one token for each of them and carries the prompts that replace the `B / osl` sequences
finishing per step. Prompts come whole (up to the token budget), so when fewer than one arrives per step
a share `B·isl/osl ÷ isl` of steps carries one prompt and the others only decode; the steady-state step is
that mixture, and output throughput is `B / step`.

All functions broadcast over array arguments (batch, lengths, layouts, hardware).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infercost._types import ArrayLike, FloatArray
from infercost.perf.resources import Layout, Resources
from infercost.perf.step import StepTime, decode_micro_batch, step_time
from infercost.specs.model import ModelSpec


@dataclass(frozen=True)
class BatchRun:
    """Times in seconds, rates in tokens/s, for a whole replica."""

    ttft_s: FloatArray
    tpot_s: FloatArray
    e2e_s: FloatArray
    output_tps: FloatArray  # output tokens / wall time (prefill included)
    decode_tps: FloatArray  # decode tokens / decode time (prefill excluded)
    prompt_tps: FloatArray  # prompt tokens / prefill time
    decode_step: StepTime


def batched_prefill_time(
    model: ModelSpec,
    res: Resources,
    layout: Layout,
    *,
    prompts: ArrayLike,
    isl: ArrayLike,
    budget: ArrayLike,
) -> FloatArray:
    """Time to prefill `prompts` prompts of `isl` tokens with at most `budget` tokens per step.

    Steps are taken as equal shares of the total; attention work is that of whole prompts.
    """
    n = np.asarray(prompts, dtype=float)
    length = np.asarray(isl, dtype=float)
    total = n * length
    steps = np.maximum(np.ceil(total / np.asarray(budget, dtype=float)), 1.0)
    per_step = total / steps
    seqs = np.maximum(per_step / np.maximum(length, 1.0), 1e-12)
    one = step_time(
        model, res, layout, prefill_tokens=per_step, prefill_seqs=seqs, prefill_context=0.0
    )
    out: FloatArray = one.total * steps
    return out


def fixed_batch(
    model: ModelSpec,
    res: Resources,
    layout: Layout,
    *,
    batch: ArrayLike,
    isl: ArrayLike,
    osl: ArrayLike,
    budget: ArrayLike = 8192,
) -> BatchRun:
    """`batch` requests start together and run to completion as one batch."""
    b = np.asarray(batch, dtype=float)
    prompt = np.asarray(isl, dtype=float)
    out_len = np.asarray(osl, dtype=float)
    prefill = np.where(
        prompt > 0,
        batched_prefill_time(model, res, layout, prompts=b, isl=prompt, budget=budget),
        0.0,
    )
    micro = decode_micro_batch(b, layout.pp)
    decode = step_time(model, res, layout, decode_seqs=micro, decode_context=prompt + out_len / 2.0)
    steps = np.maximum(out_len - 1.0, 0.0)
    decode_s = steps * decode.total
    # the first output token comes from the prefill; without a prompt every token is a decode step
    ttft = np.where(prompt > 0, prefill, decode.total) + res.request_overhead_s
    e2e = ttft + decode_s
    with np.errstate(divide="ignore", invalid="ignore"):
        return BatchRun(
            ttft_s=ttft,
            tpot_s=decode.total + 0.0 * b,
            e2e_s=e2e,
            output_tps=b * out_len / e2e,
            decode_tps=b / decode.total,
            prompt_tps=np.where(prefill > 0, b * prompt / prefill, np.nan),
            decode_step=decode,
        )


def continuous(
    model: ModelSpec,
    res: Resources,
    layout: Layout,
    *,
    concurrency: ArrayLike,
    isl: ArrayLike,
    osl: ArrayLike,
    budget: ArrayLike = 8192,
) -> BatchRun:
    """Steady state of continuous batching with `concurrency` sequences in flight."""
    b = np.asarray(concurrency, dtype=float)
    prompt = np.asarray(isl, dtype=float)
    out_len = np.maximum(np.asarray(osl, dtype=float), 1.0)
    micro = decode_micro_batch(b, layout.pp)
    room = np.maximum(np.asarray(budget, dtype=float) - micro, 1.0)
    context = prompt + out_len / 2.0
    # Prompts are admitted whole: with fewer than one arrival per step, a share of steps carries one
    # prompt and the rest only decode. Averaging the prompt over every step instead would hide its
    # cost inside memory-bound decode steps. (A prompt longer than the budget is chunked over several
    # steps; their sum costs about one step carrying it all.)
    arrivals = micro / out_len  # prompts admitted per step, on average
    carried = np.maximum(arrivals, 1.0) * prompt  # prefill tokens of a step that carries prompts
    share = np.minimum(arrivals, 1.0)  # of steps that carry prompts
    carrying = step_time(
        model,
        res,
        layout,
        decode_seqs=micro,
        decode_context=context,
        prefill_tokens=carried,
        prefill_seqs=np.maximum(carried / np.maximum(prompt, 1.0), 1e-12),
        prefill_context=0.0,
    )
    decoding = step_time(model, res, layout, decode_seqs=micro, decode_context=context)
    mixed = blend(carrying, decoding, share)
    step = mixed.total
    # a new prompt waits for its share of the per-step token budget left after the decode tokens
    ttft = step * np.maximum(np.ceil(prompt / room), 1.0) + res.request_overhead_s
    with np.errstate(divide="ignore", invalid="ignore"):
        return BatchRun(
            ttft_s=ttft,
            tpot_s=step,
            e2e_s=ttft + (out_len - 1.0) * step,
            output_tps=b / step,
            decode_tps=b / step,
            prompt_tps=b * prompt / out_len / step,
            decode_step=mixed,
        )


def blend(a: StepTime, b: StepTime, share: ArrayLike) -> StepTime:
    """The average step when a `share` of steps are `a` and the rest `b`."""
    w = np.asarray(share, dtype=float)
    return StepTime(
        *(w * getattr(a, f) + (1.0 - w) * getattr(b, f) for f in StepTime.__dataclass_fields__)
    )
