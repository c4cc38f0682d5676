"""Engine launch commands: every searched choice shows up as the engines' own flag."""

from __future__ import annotations

from typing import Any

from infercost.plan.launch import NIXL, launch_config, served_model


def row(**changes: Any) -> dict[str, Any]:
    base = {
        "hardware": "h100-sxm",
        "weights": "bf16",
        "kv": "bf16",
        "chips_per_replica": 8,
        "tp": 4,
        "pp": 2,
        "ep": 1,
        "mode": "aggregated",
        "max_num_seqs": 256,
        "chunk": 8192,
    }
    return {**base, **changes}


def flag(argv: list[str], name: str) -> str | None:
    """The value after `name`, '' for a bare flag, None when absent."""
    if name not in argv:
        return None
    i = argv.index(name)
    nxt = argv[i + 1] if i + 1 < len(argv) else ""
    return "" if nxt.startswith("--") else nxt


def config(
    r: dict[str, Any], model: str = "llama-3.1-70b", prefill: int = 0, decode: int = 3
) -> Any:
    return launch_config(
        r,
        model_id=model,
        served=None,
        memory_utilization=0.92,
        prefill_replicas=prefill,
        decode_replicas=decode,
    )


def test_vllm_and_sglang_carry_the_layout_and_scheduler_limits() -> None:
    cfg = config(row())
    (vllm,), (sglang,) = cfg.vllm, cfg.sglang
    assert vllm.argv[:3] == ["vllm", "serve", "meta-llama/Meta-Llama-3.1-70B"]
    assert flag(vllm.argv, "--tensor-parallel-size") == "4"
    assert flag(vllm.argv, "--pipeline-parallel-size") == "2"
    assert flag(vllm.argv, "--max-num-seqs") == "256"
    assert flag(vllm.argv, "--max-num-batched-tokens") == "8192"
    assert flag(vllm.argv, "--gpu-memory-utilization") == "0.92"
    assert flag(vllm.argv, "--enable-chunked-prefill") == ""
    assert flag(vllm.argv, "--enable-prefix-caching") == ""
    for absent in ("--quantization", "--kv-cache-dtype", "--enable-expert-parallel"):
        assert flag(vllm.argv, absent) is None
    assert sglang.argv[:3] == ["python", "-m", "sglang.launch_server"]
    assert flag(sglang.argv, "--tp-size") == "4" and flag(sglang.argv, "--pp-size") == "2"
    assert flag(sglang.argv, "--max-running-requests") == "256"
    assert flag(sglang.argv, "--chunked-prefill-size") == "8192"
    assert flag(sglang.argv, "--mem-fraction-static") == "0.92"
    assert vllm.count == sglang.count == 3 and vllm.role == "replica"


def test_fp8_weights_and_kv_cache() -> None:
    cfg = config(row(weights="fp8", kv="fp8"))
    vllm, sglang = cfg.vllm[0].argv, cfg.sglang[0].argv
    assert flag(vllm, "--quantization") == "fp8" and flag(vllm, "--kv-cache-dtype") == "fp8"
    assert flag(sglang, "--quantization") == "fp8"
    assert flag(sglang, "--kv-cache-dtype") == "fp8_e4m3"
    assert any("fp8 weights" in n for n in cfg.notes)


def test_int4_needs_an_awq_checkpoint() -> None:
    cfg = config(row(weights="int4"))
    assert flag(cfg.vllm[0].argv, "--quantization") == "awq"
    assert any("AWQ" in n for n in cfg.notes)


def test_expert_parallel_for_moe() -> None:
    cfg = config(row(tp=8, pp=1, ep=8), model="mixtral-8x7b")
    assert flag(cfg.vllm[0].argv, "--enable-expert-parallel") == ""
    assert flag(cfg.sglang[0].argv, "--ep-size") == "8"
    assert flag(cfg.sglang[0].argv, "--pp-size") is None  # pp 1 is the default


def test_disaggregated_has_a_prefill_and_a_decode_command_with_their_counts() -> None:
    cfg = config(row(mode="disaggregated"), prefill=5, decode=2)
    assert [(c.role, c.count) for c in cfg.vllm] == [("prefill", 5), ("decode", 2)]
    assert [(c.role, c.count) for c in cfg.sglang] == [("prefill", 5), ("decode", 2)]
    for c in cfg.vllm:
        assert flag(c.argv, "--kv-transfer-config") == NIXL
    assert [flag(c.argv, "--disaggregation-mode") for c in cfg.sglang] == ["prefill", "decode"]
    assert any("7 replica(s)" in n for n in cfg.notes)


def test_shell_lines_quote_the_json_config() -> None:
    lines = config(row(mode="disaggregated"), prefill=1, decode=1).shell_lines()
    assert lines[0] == "# vllm prefill: run 1×"
    assert "'" + NIXL + "'" in lines[1]


def test_served_model_from_the_catalog_source_or_as_given() -> None:
    assert served_model("llama-3.1-8b", None) == "meta-llama/Meta-Llama-3.1-8B"
    assert served_model("llama-3.1-8b", "my-org/my-finetune") == "my-org/my-finetune"
