"""Model parsing (HF config.json → ModelSpec): parameter counts against published figures, hand-computed
KV-cache bytes and FLOPs, MoE expert coverage, and the errors a user sees for a bad config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from infercost import catalog
from infercost.errors import InfercostError
from infercost.specs.hf_config import READERS
from infercost.specs.model import FeedForward, ModelSpec

B = 1e9
BF16 = 2.0  # bytes per KV element

# How a publisher counts "active" parameters. The spec's `active_params` includes the input embedding
# and the LM head; publishers differ:
#   "all"       - embedding and LM head included (Meta, Mistral, DeepSeek, Qwen, Moonshot figures agree
#                 with this within 2 %, and not with the alternatives for Qwen3-30B-A3B or Kimi K2).
#   "no_input"  - input embedding left out (OpenAI states this for gpt-oss: a lookup is not compute).
#   "layers"    - embedding and LM head both left out (GLM and MiniMax figures match only this: e.g.
#                 GLM-5 40B vs 39.9B layers-only, 41.8B all-in).
Basis = Literal["all", "no_input", "layers"]

# (model id, published total, published active or None for dense, active basis)
PUBLISHED: list[tuple[str, float, float | None, Basis]] = [
    # LLaMA paper (arXiv:2302.13971) Table 2: 6.7B and 13.0B for the dim-4096/32-layer and dim-5120/40-layer
    # architectures, which Llama 2 7B/13B reuse (Llama 2 paper §2.2; GQA only for 34B/70B).
    ("llama-2-7b", 6.7 * B, None, "all"),
    ("llama-2-13b", 13.0 * B, None, "all"),
    ("llama-2-70b", 70 * B, None, "all"),  # Llama 2 paper (arXiv:2307.09288): 70B
    # Code Llama 7B starts from Llama 2 7B (+16 infilling tokens): LLaMA Table 2 6.7B; 34B from the name.
    ("codellama-7b", 6.7 * B, None, "all"),
    ("codellama-34b", 34 * B, None, "all"),
    # Llama 3 herd paper (arXiv:2407.21783) Table 3: 8B / 70B / 405B; 70.6B = Hugging Face model-page size
    # of Llama-3.1-70B (not re-fetched here).
    ("llama-3-8b", 8 * B, None, "all"),
    ("llama-3.1-8b", 8 * B, None, "all"),
    ("llama-3-70b", 70 * B, None, "all"),
    ("llama-3.1-70b", 70.6 * B, None, "all"),
    ("llama-3.3-70b", 70.6 * B, None, "all"),
    ("llama-3.1-405b", 405 * B, None, "all"),
    # Meta Llama 4 announcement: Scout 17B active / 16 experts / 109B total; Maverick 17B / 128 / 400B
    # (the 109B includes the vision encoder, which the text-decoder spec does not count).
    ("llama-4-scout-17b-16e", 109 * B, 17 * B, "all"),
    ("llama-4-maverick-17b-128e", 400 * B, 17 * B, "all"),
    ("mistral-7b", 7.3 * B, None, "all"),  # Mistral AI announcement: "a 7.3B parameter model"
    (
        "mixtral-8x7b",
        46.7 * B,
        12.9 * B,
        "all",
    ),  # Mistral "Mixtral of experts": 46.7B total, 12.9B/token
    (
        "mixtral-8x22b",
        141 * B,
        39 * B,
        "all",
    ),  # Mistral Mixtral 8x22B announcement: 39B active of 141B
    (
        "deepseek-v3",
        671 * B,
        37 * B,
        "all",
    ),  # DeepSeek-V3 technical report: 671B total, 37B activated
    ("deepseek-r1", 671 * B, 37 * B, "all"),  # DeepSeek-R1: same architecture as V3
    # Kimi K2 tech report (arXiv:2507.20534) architecture table: 1.04T total, 32.6B activated (the card
    # rounds these to 1T / 32B).
    ("kimi-k2", 1040 * B, 32.6 * B, "all"),
    # Qwen model cards ("Number of Parameters").
    ("qwen2.5-7b", 7.61 * B, None, "all"),
    ("qwen2.5-coder-7b", 7.61 * B, None, "all"),
    ("qwen2.5-72b", 72.7 * B, None, "all"),
    ("qwen3-0.6b", 0.6 * B, None, "all"),
    ("qwen3-8b", 8.2 * B, None, "all"),
    ("qwen3-32b", 32.8 * B, None, "all"),
    ("qwen3-30b-a3b", 30.5 * B, 3.3 * B, "all"),
    ("qwen3-235b-a22b", 235 * B, 22 * B, "all"),
    # gpt-oss model card (arXiv:2508.10925): 116.8B / 5.1B and 20.9B / 3.6B, active excluding the
    # input embedding.
    ("gpt-oss-120b", 116.8 * B, 5.1 * B, "no_input"),
    ("gpt-oss-20b", 20.9 * B, 3.6 * B, "no_input"),
    # Gemma papers, embedding + non-embedding parameter tables (text decoder only):
    # Gemma (arXiv:2403.08295) Table 2: 2B = 524,550,144 + 1,981,884,416.
    ("gemma-2b", 2_506_434_560, None, "all"),
    # Gemma 2 (arXiv:2408.00118) Table 2: 9B = 917,962,752 + 8,324,201,984; 27B = 1,180,237,824 + 26,047,480,320.
    ("gemma-2-9b", 9_242_164_736, None, "all"),
    ("gemma-2-27b", 27_227_718_144, None, "all"),
    # Gemma 3 (arXiv:2503.19786) Table 1: 4B = 675M + 3,209M; 27B = 1,416M + 25,600M (SigLIP 417M excluded).
    ("gemma-3-4b", 3_884e6, None, "all"),
    ("gemma-3-27b", 27_016e6, None, "all"),
    ("phi-3-mini", 3.8 * B, None, "all"),  # Phi-3 report (arXiv:2404.14219): 3.8 billion parameters
    ("gpt-j-6b", 6_053_381_344, None, "all"),  # EleutherAI/gpt-j-6b model card: n_parameters
    (
        "falcon-180b",
        180 * B,
        None,
        "all",
    ),  # tiiuae/falcon-180B card: "a 180B parameters causal decoder"
    ("palm-540b", 540.35 * B, None, "all"),  # PaLM paper (arXiv:2204.02311) Table 1: 540.35B
    ("nemotron-h-56b", 56 * B, None, "all"),  # nvidia/Nemotron-H-56B-Base-8K card: 56B parameters
    # GLM-4.5 / GLM-5 technical reports' architecture table: 355B / 32B (GLM-4.5, same architecture as
    # the GLM-4.7 config) and 744B / 40B (GLM-5, same dimensions as the GLM-5.3 config).
    ("glm-4.7", 355 * B, 32 * B, "layers"),
    ("glm-5.3", 744 * B, 40 * B, "layers"),
    # MiniMax-M2 announcement 230B total / 10B active (M2.7 keeps the architecture); MiniMax-M3 HF card
    # ~428B / ~23B.
    ("minimax-m2.7", 230 * B, 10 * B, "layers"),
    ("minimax-m3", 428 * B, 23 * B, "layers"),
]


def _active(spec: ModelSpec, basis: Basis) -> float:
    if basis == "all":
        return spec.active_params
    if basis == "no_input":
        return spec.active_params - spec.embedding_params
    return spec.active_params - spec.embedding_params - spec.lm_head_params


def test_published_table_covers_the_whole_catalog() -> None:
    assert sorted(m for m, *_ in PUBLISHED) == catalog.model_ids()


@pytest.mark.parametrize(("model_id", "total", "active", "basis"), PUBLISHED)
def test_parameter_counts_match_published_figures(
    model_id: str, total: float, active: float | None, basis: Basis
) -> None:
    spec = catalog.model(model_id)
    assert spec.total_params == pytest.approx(total, rel=0.02)
    if active is None:  # dense: every parameter is touched by every token
        assert not spec.is_moe
        assert spec.active_params == spec.total_params
    else:
        assert spec.is_moe
        assert _active(spec, basis) == pytest.approx(active, rel=0.02)
        assert spec.active_params < spec.total_params


def test_mla_models_do_not_count_the_multi_token_prediction_layer() -> None:
    # DeepSeek-V3 ships 61 decoder layers + 1 MTP layer (num_nextn_predict_layers = 1); serving skips it.
    assert catalog.model("deepseek-v3").num_layers == 61


# --- KV cache -----------------------------------------------------------------------------------------


def test_llama_3_1_8b_kv_bytes_per_token_bf16() -> None:
    # 32 layers x (K + V) x 8 KV heads x 128 head dim x 2 bytes = 128 KiB
    spec = catalog.model("llama-3.1-8b")
    assert spec.kv_bytes_per_token(BF16) == 32 * 2 * 8 * 128 * 2 == 131072
    assert spec.kv_bytes_per_token_beyond_windows(BF16) == 131072
    assert spec.kv_bytes_per_sequence(1000, BF16) == pytest.approx(1000 * 131072)


def test_deepseek_v3_mla_latent_kv_bytes() -> None:
    # MLA caches the 512-wide latent plus the 64-wide decoupled rope key, shared by all heads.
    spec = catalog.model("deepseek-v3")
    assert spec.kv_bytes_per_token(BF16) == 61 * (512 + 64) * 2 == 70272


def test_gpt_oss_120b_sliding_and_full_layers() -> None:
    spec = catalog.model("gpt-oss-120b")
    per_layer = 2 * 8 * 64 * 2  # K+V, 8 KV heads, head dim 64, bf16
    assert spec.kv_bytes_per_token(BF16) == 36 * per_layer == 73728
    # beyond the 128-token window only the 18 full-attention layers keep growing
    assert spec.kv_bytes_per_token_beyond_windows(BF16) == 18 * per_layer == 36864
    ctx = np.array([10_000.0, 20_000.0])
    seq = spec.kv_bytes_per_sequence(ctx, BF16)
    assert seq == pytest.approx(18 * per_layer * 128 + 18 * per_layer * ctx)


def test_gemma_3_sliding_windows_cap_per_sequence_kv() -> None:
    spec = catalog.model("gemma-3-27b")
    per_layer = 2 * 16 * 128 * 2  # K+V, 16 KV heads, head dim 128, bf16 = 8192 bytes
    # 62 layers: every 6th global (10), the other 52 local with a 1024-token window
    expected = 52 * 1024 * per_layer + 10 * 100_000 * per_layer
    seq = float(spec.kv_bytes_per_sequence(100_000, BF16))
    assert seq == pytest.approx(expected)
    assert seq < 0.2 * 100_000 * spec.kv_bytes_per_token(BF16)
    assert spec.kv_bytes_per_token_beyond_windows(BF16) == 10 * per_layer


def test_nemotron_h_mamba_state_is_constant_in_context() -> None:
    spec = catalog.model("nemotron-h-56b")
    # Mamba-2 state per layer: heads x head_dim x state + conv window (inner + 2 x groups x state) x (k - 1)
    state = 256 * 64 * 256 + (256 * 64 + 2 * 8 * 256) * (4 - 1)
    at_zero = float(spec.kv_bytes_per_sequence(0, BF16))
    assert at_zero == 54 * state * BF16
    # growth comes only from the 10 attention layers (8 KV heads x 128)
    attention_per_token = 10 * 2 * 8 * 128 * 2
    assert spec.kv_bytes_per_token(BF16) == attention_per_token
    ctx = np.array([1_000.0, 8_000.0, 64_000.0])
    assert spec.kv_bytes_per_sequence(ctx, BF16) == pytest.approx(
        at_zero + attention_per_token * ctx
    )


def test_mistral_7b_all_sliding_kv_stops_growing_at_the_window() -> None:
    spec = catalog.model("mistral-7b")
    full = 32 * 4096 * (2 * 8 * 128 * 2)
    seq = spec.kv_bytes_per_sequence(np.array([2048.0, 4096.0, 8192.0, 131_072.0]), BF16)
    assert seq[0] == pytest.approx(full / 2)
    assert np.all(seq[1:] == full)
    assert spec.kv_bytes_per_token_beyond_windows(BF16) == 0


# --- FLOPs --------------------------------------------------------------------------------------------


def test_attention_flops_grow_linearly_with_full_attention() -> None:
    spec = catalog.model("llama-3.1-8b")
    ctx = np.array([1_000.0, 2_000.0, 4_000.0, 128_000.0])
    flops = spec.attention_flops_per_token(ctx)
    # QK^T and PV: 2 x 32 query heads x (128 + 128) x context, over 32 layers
    assert flops == pytest.approx(32 * 2 * 32 * (128 + 128) * ctx)
    assert flops[1] == pytest.approx(2 * flops[0])


def test_attention_flops_saturate_at_the_window() -> None:
    mistral = catalog.model("mistral-7b")
    flops = mistral.attention_flops_per_token(np.array([1024.0, 4096.0, 8192.0, 100_000.0]))
    assert flops[0] == pytest.approx(flops[1] / 4)
    assert flops[1] == flops[2] == flops[3]
    # Gemma 3: beyond every window the slope is that of the 10 global layers only
    gemma = catalog.model("gemma-3-27b")
    f = gemma.attention_flops_per_token(np.array([10_000.0, 20_000.0]))
    assert f[1] - f[0] == pytest.approx(10 * 2 * 32 * (128 + 128) * 10_000)


def test_linear_flops_hand_computed_for_llama_3_1_8b() -> None:
    h, inter, vocab = 4096, 14336, 128256
    per_layer = h * (32 * 128 + 2 * 8 * 128) + 32 * 128 * h + 3 * h * inter
    expected = 2 * (32 * per_layer + vocab * h)  # the input embedding is a lookup, not a matmul
    assert catalog.model("llama-3.1-8b").linear_flops_per_token() == pytest.approx(
        expected, rel=1e-3
    )


@pytest.mark.parametrize(
    "model_id", ["llama-3.1-70b", "llama-3.1-405b", "qwen2.5-72b", "gemma-2-27b", "falcon-180b"]
)
def test_linear_flops_are_twice_the_matmul_weights(model_id: str) -> None:
    spec = catalog.model(model_id)
    assert not spec.is_moe and all(g.mamba is None for g in spec.layers)
    lookup_only = 0 if spec.tied_embeddings else spec.embedding_params
    assert spec.linear_flops_per_token() == pytest.approx(
        2 * (spec.active_params - lookup_only), rel=0.01
    )
    if spec.tied_embeddings or spec.embedding_params < 0.01 * spec.active_params:
        assert spec.linear_flops_per_token() == pytest.approx(2 * spec.active_params, rel=0.01)


def test_moe_linear_flops_follow_active_not_total() -> None:
    spec = catalog.model("mixtral-8x7b")
    flops = spec.linear_flops_per_token()
    assert flops == pytest.approx(2 * (spec.active_params - spec.embedding_params), rel=0.01)
    assert flops < 0.35 * 2 * spec.total_params


# --- MoE expert coverage ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model_id", ["mixtral-8x7b", "deepseek-v3", "qwen3-235b-a22b", "gpt-oss-120b", "kimi-k2"]
)
def test_experts_touched_by_catalog_moe(model_id: str) -> None:
    ffn = next(g.ffn for g in catalog.model(model_id).layers if g.ffn.kind == "moe")
    touched = ffn.experts_touched(np.array([0.0, 1.0, 1e6]))
    assert touched[0] == 0
    assert touched[1] == pytest.approx(ffn.top_k)
    assert touched[2] == pytest.approx(ffn.num_experts)


@st.composite
def _moe_and_tokens(draw: st.DrawFn) -> tuple[FeedForward, float, float]:
    experts = draw(st.integers(min_value=1, max_value=512))
    top_k = draw(st.integers(min_value=1, max_value=experts))
    a = draw(st.floats(min_value=0, max_value=1e5, allow_nan=False))
    b = draw(st.floats(min_value=0, max_value=1e5, allow_nan=False))
    ffn = FeedForward(kind="moe", num_experts=experts, top_k=top_k, expert_params=1)
    return ffn, min(a, b), max(a, b)


@given(_moe_and_tokens())
def test_experts_touched_invariants(case: tuple[FeedForward, float, float]) -> None:
    ffn, fewer, more = case
    lo, hi = ffn.experts_touched(np.array([fewer, more]))
    assert lo <= hi + 1e-9 * ffn.num_experts  # monotone non-decreasing in tokens
    assert lo >= 0 and hi <= ffn.num_experts * (1 + 1e-12)
    assert float(ffn.experts_touched(1)) == pytest.approx(ffn.top_k)
    if fewer >= 1:
        assert lo >= ffn.top_k * (1 - 1e-9)  # a token always touches its top-k


# --- reading configs from disk and errors -------------------------------------------------------------


def _tiny_llama() -> dict[str, object]:
    return {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": 256,
        "intermediate_size": 1024,
        "num_hidden_layers": 4,
        "num_attention_heads": 8,
        "num_key_value_heads": 2,
        "vocab_size": 1000,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": False,
    }


def _tiny_llama_params() -> int:
    h, inter, layers, vocab, kv = 256, 1024, 4, 1000, 2 * 32
    per_layer = h * (h + 2 * kv) + h * h + 3 * h * inter + 2 * h
    return layers * per_layer + 2 * vocab * h + h


def test_model_from_directory(tmp_path: Path) -> None:
    model_dir = tmp_path / "my-tiny-llama"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps(_tiny_llama()))
    spec = catalog.model(str(model_dir))
    assert spec.id == "my-tiny-llama"
    assert spec.num_layers == 4
    assert spec.total_params == _tiny_llama_params()
    assert spec.kv_bytes_per_token(BF16) == 4 * 2 * 2 * 32 * 2
    assert spec.max_context == 2048


def test_model_from_file_path(tmp_path: Path) -> None:
    file = tmp_path / "some-model" / "config.json"
    file.parent.mkdir()
    file.write_text(json.dumps(_tiny_llama()))
    spec = catalog.model(str(file))
    assert spec.id == "some-model"
    assert spec.total_params == _tiny_llama_params()


def test_unknown_model_type_lists_supported_architectures(tmp_path: Path) -> None:
    file = tmp_path / "config.json"
    file.write_text(json.dumps({**_tiny_llama(), "model_type": "rwkv7"}))
    with pytest.raises(InfercostError) as err:
        catalog.model(str(file))
    message = str(err.value)
    assert err.value.field == "model.model_type"
    assert "model_type" in message and "rwkv7" in message
    for arch in ("llama", "deepseek_v3", "nemotron_h", "gpt_oss"):
        assert arch in message
    assert len(READERS) > 10 and all(arch in message for arch in READERS)


def test_missing_required_key_names_the_config_field(tmp_path: Path) -> None:
    cfg = _tiny_llama()
    del cfg["intermediate_size"]
    file = tmp_path / "config.json"
    file.write_text(json.dumps(cfg))
    with pytest.raises(InfercostError, match=r"config\.intermediate_size") as err:
        catalog.model(str(file))
    assert err.value.field == "config.intermediate_size"


def test_missing_moe_key_names_the_config_field(tmp_path: Path) -> None:
    cfg = {**_tiny_llama(), "model_type": "mixtral", "num_experts_per_tok": 2}
    file = tmp_path / "config.json"
    file.write_text(json.dumps(cfg))
    with pytest.raises(InfercostError, match=r"config\.num_local_experts"):
        catalog.model(str(file))


def test_invalid_json_and_missing_file_are_user_errors(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(InfercostError, match="not valid JSON"):
        catalog.model(str(bad))
    empty = tmp_path / "no-config-here"
    empty.mkdir()
    with pytest.raises(InfercostError, match=r"expected a config\.json"):
        catalog.model(str(empty))
    with pytest.raises(InfercostError, match="not in the catalog"):
        catalog.model(str(tmp_path / "missing.json"))
