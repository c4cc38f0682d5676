"""Hugging Face `config.json` → `ModelSpec`, one small reader per architecture family.

Parameter counts follow the modelling code of each architecture (projections, biases, norms, sinks,
routers); multi-token-prediction heads are not counted because serving does not run them by default.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infercost.errors import InfercostError
from infercost.specs.model import Attention, FeedForward, LayerGroup, Mamba, ModelSpec

Config = dict[str, Any]


def _get(cfg: Config, key: str, default: Any = None) -> Any:
    value = cfg.get(key, default)
    return default if value is None else value


def _require(cfg: Config, key: str) -> Any:
    if cfg.get(key) is None:
        raise InfercostError(f"config.{key}", None, "this architecture needs it in config.json")
    return cfg[key]


def _gqa(
    hidden: int,
    heads: int,
    kv_heads: int,
    head_dim: int,
    *,
    qkv_bias: bool = False,
    o_bias: bool = False,
    qk_norm_params: int = 0,
    sinks: bool = False,
    window: int | None = None,
    sparse_topk: int | None = None,
) -> Attention:
    q, kv = heads * head_dim, kv_heads * head_dim
    params = hidden * (q + 2 * kv) + q * hidden
    params += (q + 2 * kv) if qkv_bias else 0
    params += hidden if o_bias else 0
    params += qk_norm_params + (heads if sinks else 0)
    return Attention(
        kind="gqa",
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        v_head_dim=head_dim,
        window=window,
        sparse_topk=sparse_topk,
        params=params,
    )


def _dense(params: int) -> FeedForward:
    return FeedForward(kind="dense", dense_params=params)


def _moe(
    hidden: int,
    experts: int,
    top_k: int,
    expert_params: int,
    shared_params: int = 0,
    router_bias: bool = False,
) -> FeedForward:
    return FeedForward(
        kind="moe",
        dense_params=shared_params,
        num_experts=experts,
        top_k=top_k,
        expert_params=expert_params,
        router_params=hidden * experts + (experts if router_bias else 0),
    )


def _group_layers(layers: list[LayerGroup]) -> tuple[LayerGroup, ...]:
    """Merge identical per-layer descriptions into counted groups (order kept by first appearance)."""
    groups: dict[str, LayerGroup] = {}
    for layer in layers:
        key = layer.model_copy(update={"count": 1}).model_dump_json()
        if key in groups:
            prev = groups[key]
            groups[key] = prev.model_copy(update={"count": prev.count + layer.count})
        else:
            groups[key] = layer
    return tuple(groups.values())


def _heads(cfg: Config) -> tuple[int, int, int, int]:
    hidden = int(_require(cfg, "hidden_size"))
    heads = int(_require(cfg, "num_attention_heads"))
    kv_heads = int(_get(cfg, "num_key_value_heads", heads))
    head_dim = int(_get(cfg, "head_dim", hidden // heads))
    return hidden, heads, kv_heads, head_dim


_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "bf16"}


def _native_weights(cfg: Config) -> str:
    """Format of the released weights: a quantized checkpoint's method, else its dtype (fp32 → bf16)."""
    method = str((cfg.get("quantization_config") or {}).get("quant_method", "")).lower()
    if method in ("fp8", "mxfp4"):
        return method
    return _DTYPES.get(str(cfg.get("torch_dtype") or cfg.get("dtype") or "bfloat16"), "bf16")


def _spec(
    model_id: str,
    cfg: Config,
    layers: list[LayerGroup],
    *,
    tie_default: bool,
    final_norm: int,
    lm_head_bias: bool = False,
    approximate: bool = False,
    notes: str | None = None,
) -> ModelSpec:
    hidden = int(_get(cfg, "hidden_size", _get(cfg, "n_embd", 0)))
    vocab = int(_require(cfg, "vocab_size"))
    tied = bool(_get(cfg, "tie_word_embeddings", tie_default))
    return ModelSpec(
        id=model_id,
        architecture=str(_get(cfg, "model_type", "unknown")),
        hidden_size=hidden,
        vocab_size=vocab,
        layers=_group_layers(layers),
        embedding_params=vocab * hidden,
        lm_head_params=0 if tied else vocab * hidden + (vocab if lm_head_bias else 0),
        final_norm_params=final_norm,
        max_context=_get(cfg, "max_position_embeddings", _get(cfg, "n_positions")),
        native_weights=_native_weights(cfg),
        approximate=approximate,
        source=cfg.get("_source"),
        notes=notes,
    )


# --- dense decoder families -------------------------------------------------------------------------


def _llama_like(model_id: str, cfg: Config) -> ModelSpec:
    """Llama 1-3, Mistral, Qwen2/2.5, Qwen3, Phi-3, Gemma 1-3 (dense, MHA/GQA/MQA, sliding windows)."""
    mtype = cfg.get("model_type", "")
    hidden, heads, kv_heads, head_dim = _heads(cfg)
    inter = int(_require(cfg, "intermediate_size"))
    n = int(_require(cfg, "num_hidden_layers"))
    gemma_norms = mtype in ("gemma2", "gemma3_text")
    qk_norm = 2 * head_dim if mtype in ("qwen3", "gemma3_text") else 0
    qkv_bias = mtype == "qwen2" or bool(_get(cfg, "attention_bias", False))
    window = cfg.get("sliding_window")
    if mtype in ("qwen2", "qwen3") and not _get(cfg, "use_sliding_window", False):
        window = None

    def layer_window(i: int) -> int | None:
        if mtype == "gemma2":  # even layers local, odd layers global
            return int(window) if window and i % 2 == 0 else None
        if mtype == "gemma3_text":  # every `pattern`-th layer global, the rest local
            pattern = int(_get(cfg, "sliding_window_pattern", 6))
            return int(window) if window and (i + 1) % pattern != 0 else None
        if mtype == "gemma":
            return None
        return int(window) if window else None

    layers = [
        LayerGroup(
            count=1,
            attention=_gqa(
                hidden,
                heads,
                kv_heads,
                head_dim,
                qkv_bias=qkv_bias,
                o_bias=bool(_get(cfg, "attention_bias", False)),
                qk_norm_params=qk_norm,
                window=layer_window(i),
            ),
            ffn=_dense(3 * hidden * inter + (2 * inter + hidden if _get(cfg, "mlp_bias") else 0)),
            norm_params=(4 if gemma_norms else 2) * hidden,
        )
        for i in range(n)
    ]
    return _spec(model_id, cfg, layers, tie_default=mtype.startswith("gemma"), final_norm=hidden)


def _gptj(model_id: str, cfg: Config) -> ModelSpec:
    hidden, heads, n = int(cfg["n_embd"]), int(cfg["n_head"]), int(cfg["n_layer"])
    inter = int(_get(cfg, "n_inner", 4 * hidden))
    layer = LayerGroup(
        count=n,
        attention=_gqa(hidden, heads, heads, hidden // heads),
        ffn=_dense(2 * hidden * inter + inter + hidden),
        norm_params=2 * hidden,
        parallel_block=True,
    )
    return _spec(
        model_id, cfg, [layer], tie_default=False, final_norm=2 * hidden, lm_head_bias=True
    )


def _falcon(model_id: str, cfg: Config) -> ModelSpec:
    hidden, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    if _get(cfg, "new_decoder_architecture", False):
        kv_heads = int(_get(cfg, "num_kv_heads", heads))
    else:
        kv_heads = 1 if _get(cfg, "multi_query", True) else heads
    inter = int(_get(cfg, "ffn_hidden_size", 4 * hidden))
    bias = bool(_get(cfg, "bias", False))
    norms = 2 if _get(cfg, "new_decoder_architecture", False) else 1
    layer = LayerGroup(
        count=int(cfg["num_hidden_layers"]),
        attention=_gqa(hidden, heads, kv_heads, hidden // heads, qkv_bias=bias, o_bias=bias),
        ffn=_dense(2 * hidden * inter + (inter + hidden if bias else 0)),
        norm_params=2 * hidden * norms,
        parallel_block=bool(_get(cfg, "parallel_attn", True)),
    )
    return _spec(model_id, cfg, [layer], tie_default=True, final_norm=2 * hidden)


def _palm(model_id: str, cfg: Config) -> ModelSpec:
    hidden, heads, kv_heads, head_dim = _heads(cfg)
    layer = LayerGroup(
        count=int(cfg["num_hidden_layers"]),
        attention=_gqa(hidden, heads, kv_heads, head_dim),
        ffn=_dense(3 * hidden * int(cfg["intermediate_size"])),
        parallel_block=True,
    )
    return _spec(model_id, cfg, [layer], tie_default=True, final_norm=0)


# --- mixture-of-experts families ---------------------------------------------------------------------


def _mixtral(model_id: str, cfg: Config) -> ModelSpec:
    hidden, heads, kv_heads, head_dim = _heads(cfg)
    window = cfg.get("sliding_window")
    layer = LayerGroup(
        count=int(cfg["num_hidden_layers"]),
        attention=_gqa(hidden, heads, kv_heads, head_dim, window=window),
        ffn=_moe(
            hidden,
            int(cfg["num_local_experts"]),
            int(cfg["num_experts_per_tok"]),
            3 * hidden * int(cfg["intermediate_size"]),
        ),
        norm_params=2 * hidden,
    )
    return _spec(model_id, cfg, [layer], tie_default=False, final_norm=hidden)


def _qwen3_moe(model_id: str, cfg: Config) -> ModelSpec:
    hidden, heads, kv_heads, head_dim = _heads(cfg)
    n = int(cfg["num_hidden_layers"])
    step = int(_get(cfg, "decoder_sparse_step", 1))
    dense_only = set(_get(cfg, "mlp_only_layers", []))
    attention = _gqa(hidden, heads, kv_heads, head_dim, qk_norm_params=2 * head_dim)
    moe = _moe(
        hidden,
        int(cfg["num_experts"]),
        int(cfg["num_experts_per_tok"]),
        3 * hidden * int(cfg["moe_intermediate_size"]),
    )
    dense = _dense(3 * hidden * int(cfg["intermediate_size"]))
    layers = [
        LayerGroup(
            count=1,
            attention=attention,
            ffn=moe if i not in dense_only and (i + 1) % step == 0 else dense,
            norm_params=2 * hidden,
        )
        for i in range(n)
    ]
    return _spec(model_id, cfg, layers, tie_default=False, final_norm=hidden)


def _llama4(model_id: str, cfg: Config) -> ModelSpec:
    """Llama 4 text decoder: chunked local attention on 3 of 4 layers, MoE every `step` layers."""
    hidden, heads, kv_heads, head_dim = _heads(cfg)
    n = int(cfg["num_hidden_layers"])
    step = int(_get(cfg, "interleave_moe_layer_step", 1))
    chunk = cfg.get("attention_chunk_size")
    nope_every = int(_get(cfg, "no_rope_layer_interval", 4))
    expert = 3 * hidden * int(cfg["intermediate_size"])
    moe = _moe(
        hidden, int(cfg["num_local_experts"]), int(cfg["num_experts_per_tok"]), expert, expert
    )
    dense = _dense(3 * hidden * int(cfg["intermediate_size_mlp"]))
    layers = [
        LayerGroup(
            count=1,
            attention=_gqa(
                hidden,
                heads,
                kv_heads,
                head_dim,
                window=int(chunk) if chunk and (i + 1) % nope_every != 0 else None,
            ),
            ffn=moe if (i + 1) % step == 0 else dense,
            norm_params=2 * hidden,
        )
        for i in range(n)
    ]
    return _spec(model_id, cfg, layers, tie_default=False, final_norm=hidden)


def _gpt_oss(model_id: str, cfg: Config) -> ModelSpec:
    hidden, heads, kv_heads, head_dim = _heads(cfg)
    inter, experts = int(cfg["intermediate_size"]), int(cfg["num_local_experts"])
    window = int(_get(cfg, "sliding_window", 128))
    types = cfg.get("layer_types") or [
        "sliding_attention" if i % 2 == 0 else "full_attention"
        for i in range(int(cfg["num_hidden_layers"]))
    ]
    moe = _moe(
        hidden,
        experts,
        int(_get(cfg, "num_experts_per_tok", _get(cfg, "experts_per_token", 4))),
        3 * hidden * inter + 2 * inter + hidden,
        router_bias=True,
    )
    layers = [
        LayerGroup(
            count=1,
            attention=_gqa(
                hidden,
                heads,
                kv_heads,
                head_dim,
                qkv_bias=True,
                o_bias=True,
                sinks=True,
                window=window if kind == "sliding_attention" else None,
            ),
            ffn=moe,
            norm_params=2 * hidden,
        )
        for kind in types
    ]
    return _spec(model_id, cfg, layers, tie_default=False, final_norm=hidden)


def _mla(cfg: Config, hidden: int, *, sparse_topk: int | None = None, extra: int = 0) -> Attention:
    heads = int(cfg["num_attention_heads"])
    nope, rope = int(cfg["qk_nope_head_dim"]), int(cfg["qk_rope_head_dim"])
    v_dim, kv_rank = int(cfg["v_head_dim"]), int(cfg["kv_lora_rank"])
    q_rank = cfg.get("q_lora_rank")
    q_params = (
        hidden * q_rank + q_rank + q_rank * heads * (nope + rope)
        if q_rank
        else hidden * heads * (nope + rope)
    )
    kv_params = hidden * (kv_rank + rope) + kv_rank + kv_rank * heads * (nope + v_dim)
    return Attention(
        kind="mla",
        num_heads=heads,
        num_kv_heads=1,
        head_dim=nope + rope,
        v_head_dim=v_dim,
        kv_lora_rank=kv_rank,
        qk_rope_head_dim=rope,
        sparse_topk=sparse_topk,
        params=q_params + kv_params + heads * v_dim * hidden + extra,
    )


def _first_k_dense(
    cfg: Config, attention: Attention, dense: FeedForward, moe: FeedForward, kinds: list[str] | None
) -> list[LayerGroup]:
    hidden, n = int(cfg["hidden_size"]), int(cfg["num_hidden_layers"])
    first_dense = int(_get(cfg, "first_k_dense_replace", 0))
    if kinds is None:
        kinds = ["dense" if i < first_dense else "sparse" for i in range(n)]
    return [
        LayerGroup(
            count=1,
            attention=attention,
            ffn=dense if kind == "dense" else moe,
            norm_params=2 * hidden,
        )
        for kind in kinds
    ]


def _deepseek_moe(cfg: Config, hidden: int) -> tuple[FeedForward, FeedForward]:
    expert = 3 * hidden * int(cfg["moe_intermediate_size"])
    moe = _moe(
        hidden,
        int(cfg["n_routed_experts"]),
        int(cfg["num_experts_per_tok"]),
        expert,
        int(_get(cfg, "n_shared_experts", 0)) * expert,
        router_bias=True,
    )
    return _dense(3 * hidden * int(cfg["intermediate_size"])), moe


def _deepseek_v3(model_id: str, cfg: Config) -> ModelSpec:
    """DeepSeek-V3/R1 and Kimi K2: MLA attention, first k layers dense, then routed + shared experts."""
    hidden = int(cfg["hidden_size"])
    dense, moe = _deepseek_moe(cfg, hidden)
    layers = _first_k_dense(cfg, _mla(cfg, hidden), dense, moe, None)
    return _spec(model_id, cfg, layers, tie_default=False, final_norm=hidden)


def _glm_dsa(model_id: str, cfg: Config) -> ModelSpec:
    """GLM-5.x: MLA with a DeepSeek-sparse-attention indexer (approximate: indexer cache ignored)."""
    hidden = int(cfg["hidden_size"])
    q_rank, idx_heads, idx_dim = (
        int(cfg["q_lora_rank"]),
        int(cfg["index_n_heads"]),
        int(cfg["index_head_dim"]),
    )
    indexer = q_rank * idx_heads * idx_dim + hidden * idx_dim + 2 * idx_dim + hidden * idx_heads
    attention = _mla(cfg, hidden, sparse_topk=cfg.get("index_topk"), extra=indexer)
    dense, moe = _deepseek_moe(cfg, hidden)
    layers = _first_k_dense(cfg, attention, dense, moe, cfg.get("mlp_layer_types"))
    return _spec(
        model_id,
        cfg,
        layers,
        tie_default=False,
        final_norm=hidden,
        approximate=True,
        notes="sparse-attention indexer modelled by its parameters and top-k only",
    )


def _glm4_moe(model_id: str, cfg: Config) -> ModelSpec:
    hidden, heads, kv_heads, head_dim = _heads(cfg)
    attention = _gqa(
        hidden,
        heads,
        kv_heads,
        head_dim,
        qkv_bias=bool(_get(cfg, "attention_bias", True)),
        qk_norm_params=2 * head_dim if _get(cfg, "use_qk_norm", False) else 0,
    )
    dense, moe = _deepseek_moe(cfg, hidden)
    layers = _first_k_dense(cfg, attention, dense, moe, None)
    return _spec(model_id, cfg, layers, tie_default=False, final_norm=hidden)


def _minimax(model_id: str, cfg: Config) -> ModelSpec:
    """MiniMax-M2 (full GQA + MoE) and M3 (dense first layers, shared expert, block-sparse attention)."""
    hidden, heads, kv_heads, head_dim = _heads(cfg)
    per_head = _get(cfg, "qk_norm_type", "per_layer") == "per_head"
    qk_norm = (
        (2 * head_dim if per_head else (heads + kv_heads) * head_dim)
        if _get(cfg, "use_qk_norm", False)
        else 0
    )
    sparse = cfg.get("sparse_attention_config") or {}
    topk = None
    if sparse and _get(cfg, "use_sparse_attention", True):
        blocks = int(sparse["sparse_topk_blocks"]) + int(_get(sparse, "sparse_local_block", 0))
        topk = blocks * int(sparse["sparse_block_size"])
    n = int(cfg["num_hidden_layers"])
    sparse_layers = sparse.get("sparse_attention_freq") or [0] * n
    expert = 3 * hidden * int(_get(cfg, "moe_intermediate_size", cfg["intermediate_size"]))
    shared = (
        int(_get(cfg, "n_shared_experts", 0))
        * 3
        * hidden
        * int(_get(cfg, "shared_intermediate_size", 0))
    )
    moe = _moe(
        hidden,
        int(cfg["num_local_experts"]),
        int(cfg["num_experts_per_tok"]),
        expert,
        shared,
        router_bias=bool(_get(cfg, "use_routing_bias", False)),
    )
    dense = _dense(3 * hidden * int(_get(cfg, "dense_intermediate_size", 0)))
    first_dense = int(_get(cfg, "first_k_dense_replace", 0))
    layers = [
        LayerGroup(
            count=1,
            attention=_gqa(
                hidden,
                heads,
                kv_heads,
                head_dim,
                qk_norm_params=qk_norm,
                sparse_topk=topk if sparse_layers[i] else None,
            ),
            ffn=dense if i < first_dense else moe,
            norm_params=2 * hidden,
        )
        for i in range(n)
    ]
    return _spec(
        model_id,
        cfg,
        layers,
        tie_default=False,
        final_norm=hidden,
        approximate=bool(sparse),
        notes="block-sparse attention modelled as top-k tokens; index heads ignored"
        if sparse
        else None,
    )


def _nemotron_h(model_id: str, cfg: Config) -> ModelSpec:
    """Hybrid Mamba-2 / attention / MLP stack described by `hybrid_override_pattern`."""
    hidden = int(cfg["hidden_size"])
    heads, head_dim = int(cfg["mamba_num_heads"]), int(cfg["mamba_head_dim"])
    state, groups, kernel = (
        int(cfg["ssm_state_size"]),
        int(cfg["n_groups"]),
        int(cfg["conv_kernel"]),
    )
    inner = heads * head_dim
    conv_channels = inner + 2 * groups * state
    in_proj = hidden * (2 * inner + 2 * groups * state + heads)
    conv = conv_channels * kernel + (conv_channels if _get(cfg, "use_conv_bias", True) else 0)
    mamba = Mamba(
        num_heads=heads,
        head_dim=head_dim,
        state_size=state,
        num_groups=groups,
        conv_kernel=kernel,
        params=in_proj + conv + 3 * heads + inner + inner * hidden,
    )
    attn_heads = int(cfg["num_attention_heads"])
    attention = _gqa(
        hidden,
        attn_heads,
        int(_get(cfg, "num_key_value_heads", attn_heads)),
        int(_get(cfg, "attention_head_dim", hidden // attn_heads)),
    )
    mlp = _dense(2 * hidden * int(cfg["intermediate_size"]))  # relu² MLP: up + down
    by_char = {
        "M": LayerGroup(count=1, mamba=mamba, norm_params=hidden),
        "*": LayerGroup(count=1, attention=attention, norm_params=hidden),
        "-": LayerGroup(count=1, ffn=mlp, norm_params=hidden),
    }
    pattern = str(cfg["hybrid_override_pattern"])
    unknown = sorted(set(pattern) - set(by_char))
    if unknown:
        raise InfercostError(
            "config.hybrid_override_pattern",
            "".join(unknown),
            "layer codes M, * and - are supported",
        )
    return _spec(model_id, cfg, [by_char[c] for c in pattern], tie_default=False, final_norm=hidden)


READERS: dict[str, Callable[[str, Config], ModelSpec]] = {
    "llama": _llama_like,
    "mistral": _llama_like,
    "qwen2": _llama_like,
    "qwen3": _llama_like,
    "phi3": _llama_like,
    "gemma": _llama_like,
    "gemma2": _llama_like,
    "gemma3_text": _llama_like,
    "gptj": _gptj,
    "falcon": _falcon,
    "palm": _palm,
    "mixtral": _mixtral,
    "qwen3_moe": _qwen3_moe,
    "llama4_text": _llama4,
    "gpt_oss": _gpt_oss,
    "deepseek_v3": _deepseek_v3,
    "kimi_k2": _deepseek_v3,
    "glm4_moe": _glm4_moe,
    "glm_moe_dsa": _glm_dsa,
    "minimax_m2": _minimax,
    "minimax_m3": _minimax,
    "nemotron_h": _nemotron_h,
}

# multimodal wrappers keep the language model under `text_config`
_WRAPPERS = {"gemma3": "gemma3_text", "llama4": "llama4_text"}


def model_from_config(config: Config, model_id: str) -> ModelSpec:
    """Build a `ModelSpec` from a parsed `config.json` mapping."""
    cfg = dict(config)
    mtype = str(cfg.get("model_type", ""))
    if mtype in _WRAPPERS and isinstance(cfg.get("text_config"), dict):
        text = dict(cfg["text_config"])
        text.setdefault("model_type", _WRAPPERS[mtype])
        text.setdefault("_source", cfg.get("_source"))
        text.setdefault("quantization_config", cfg.get("quantization_config"))
        cfg, mtype = text, str(text["model_type"])
    reader = READERS.get(mtype)
    if reader is None:
        arch = (cfg.get("architectures") or [mtype or "?"])[0]
        raise InfercostError(
            "model.model_type",
            mtype or arch,
            f"supported architectures: {', '.join(sorted(READERS))}",
        )
    try:
        return reader(model_id, cfg)
    except KeyError as missing:
        raise InfercostError(
            f"config.{missing.args[0]}", None, f"the {mtype} reader needs it in config.json"
        ) from None


def read_config_file(path: Path) -> Config:
    """Read `config.json` from a file or a model directory."""
    file = path / "config.json" if path.is_dir() else path
    if not file.is_file():
        raise InfercostError(
            "model", str(path), "expected a config.json file or a directory with one"
        )
    try:
        data = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InfercostError("model", str(file), f"not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise InfercostError("model", str(file), "config.json must hold a JSON object")
    return data
