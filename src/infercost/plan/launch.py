"""The serving engine's launch configuration for a planned deployment: vLLM and SGLang commands.

One command per replica role (one for an aggregated replica; a prefill and a decode command when
disaggregated), each run `replicas` times behind a router (least-outstanding, as simulated).

Flag names: vLLM `vllm serve` engine arguments (docs.vllm.ai, `vllm serve --help`): parallel sizes,
`--enable-expert-parallel`, scheduler limits, `--gpu-memory-utilization`, `--quantization`,
`--kv-cache-dtype`, chunked prefill and prefix caching, and `--kv-transfer-config` with the
NixlConnector for disaggregated prefill (docs.vllm.ai/en/stable/features/nixl_connector_usage).
SGLang `python -m sglang.launch_server` server arguments (docs.sglang.io, server_arguments):
`--tp-size`, `--pp-size`, `--ep-size`, `--max-running-requests`, `--chunked-prefill-size`,
`--mem-fraction-static`, `--quantization`, `--kv-cache-dtype fp8_e4m3` and
`--disaggregation-mode prefill|decode` (radix prefix caching is on by default).
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from pydantic import BaseModel, ConfigDict

from infercost import catalog

# weights format → (vLLM --quantization, SGLang --quantization, what the checkpoint must be)
QUANTIZATION: dict[str, tuple[str | None, str | None, str]] = {
    "fp8": ("fp8", "fp8", "on-the-fly FP8 (W8A8) from the 16-bit checkpoint, or an FP8 checkpoint"),
    "int8": (
        None,
        "w8a8_int8",
        "a W8A8 INT8 checkpoint (e.g. compressed-tensors); vLLM detects it",
    ),
    "int4": ("awq", "awq", "an AWQ 4-bit (group 128) checkpoint"),
    "fp4": ("modelopt_fp4", "modelopt_fp4", "an NVFP4 checkpoint (NVIDIA ModelOpt)"),
    "nvfp4": ("modelopt_fp4", "modelopt_fp4", "an NVFP4 checkpoint (NVIDIA ModelOpt)"),
    "mxfp4": ("mxfp4", "mxfp4", "an MXFP4 checkpoint"),
}
NIXL = json.dumps({"kv_connector": "NixlConnector", "kv_role": "kv_both"}, separators=(",", ":"))


class EngineCommand(BaseModel):
    model_config = ConfigDict(frozen=True)

    engine: str  # vllm | sglang
    role: str  # replica | prefill | decode
    count: int  # replicas to run with it
    argv: list[str]

    @property
    def shell(self) -> str:
        return shlex.join(self.argv)


class LaunchConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    served_model: str
    vllm: list[EngineCommand]
    sglang: list[EngineCommand]
    notes: list[str]

    def shell_lines(self) -> list[str]:
        lines = []
        for cmd in [*self.vllm, *self.sglang]:
            lines.append(f"# {cmd.engine} {cmd.role}: run {cmd.count}×")
            lines.append(cmd.shell)
        return lines


def served_model(model_id: str, given: str | None) -> str:
    """The Hugging Face repo to serve: as given, else read from the catalog entry's source."""
    if given:
        return given
    source = catalog.model(model_id).source or ""
    found = re.search(r"model_configs/([\w.\-]+?)--([\w.\-]+?)_config\.json", source)
    return f"{found.group(1)}/{found.group(2)}" if found else model_id


def launch_config(
    row: dict[str, Any],
    *,
    model_id: str,
    served: str | None,
    memory_utilization: float,
    prefill_replicas: int,
    decode_replicas: int,
) -> LaunchConfig:
    """vLLM and SGLang commands for a candidate (a screened row with its final replica counts)."""
    repo = served_model(model_id, served)
    native = catalog.model(model_id).native_weights
    weights, kv = str(row["weights"]), str(row["kv"])
    tp, pp, ep = int(row["tp"]), int(row["pp"]), int(row["ep"])
    seqs, chunk = int(row["max_num_seqs"]), int(row["chunk"])
    notes = []
    quant = QUANTIZATION.get(weights) if weights != native else None
    if quant:
        notes.append(f"{weights} weights: {quant[2]}")
    if weights in ("bf16", "fp16") and weights != native:
        notes.append(f"{weights} weights from a {native} checkpoint: pass --dtype")

    vllm = ["vllm", "serve", repo, "--tensor-parallel-size", str(tp)]
    vllm += ["--pipeline-parallel-size", str(pp)]
    if ep > 1:
        vllm.append("--enable-expert-parallel")
    vllm += ["--max-num-seqs", str(seqs), "--max-num-batched-tokens", str(chunk)]
    vllm += ["--gpu-memory-utilization", f"{memory_utilization:g}"]
    vllm += ["--enable-chunked-prefill", "--enable-prefix-caching"]
    if quant and quant[0]:
        vllm += ["--quantization", quant[0]]
    if weights in ("bf16", "fp16") and weights != native:
        vllm += ["--dtype", "bfloat16" if weights == "bf16" else "float16"]
    if kv == "fp8":
        vllm += ["--kv-cache-dtype", "fp8"]

    sglang = ["python", "-m", "sglang.launch_server", "--model-path", repo, "--tp-size", str(tp)]
    if pp > 1:
        sglang += ["--pp-size", str(pp)]
    if ep > 1:
        sglang += ["--ep-size", str(ep)]
    sglang += ["--max-running-requests", str(seqs), "--chunked-prefill-size", str(chunk)]
    sglang += ["--mem-fraction-static", f"{memory_utilization:g}"]
    if quant and quant[1]:
        sglang += ["--quantization", quant[1]]
    if kv == "fp8":
        sglang += ["--kv-cache-dtype", "fp8_e4m3"]

    if row["mode"] == "disaggregated":
        roles = [("prefill", prefill_replicas), ("decode", decode_replicas)]
        notes.append(
            "disaggregated: vLLM instances exchange KV through the NixlConnector (pip install "
            "nixl); SGLang needs --disaggregation-transfer-backend and its router in PD mode"
        )
        v_cmds = [
            EngineCommand(
                engine="vllm", role=r, count=n, argv=[*vllm, "--kv-transfer-config", NIXL]
            )
            for r, n in roles
        ]
        s_cmds = [
            EngineCommand(
                engine="sglang", role=r, count=n, argv=[*sglang, "--disaggregation-mode", r]
            )
            for r, n in roles
        ]
    else:
        v_cmds = [EngineCommand(engine="vllm", role="replica", count=decode_replicas, argv=vllm)]
        s_cmds = [
            EngineCommand(engine="sglang", role="replica", count=decode_replicas, argv=sglang)
        ]
    total = prefill_replicas + decode_replicas
    notes.append(
        f"{total} replica(s) of {row['chips_per_replica']}× {row['hardware']} behind a "
        "least-outstanding-requests router, as simulated"
    )
    return LaunchConfig(served_model=repo, vllm=v_cmds, sglang=s_cmds, notes=notes)
