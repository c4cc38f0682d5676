"""The search space: layouts the engines can run, priced hardware, plan-file validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from infercost import catalog
from infercost.errors import InfercostError
from infercost.plan.space import (
    SearchSpec,
    build_space,
    chip_counts,
    load_plan,
    usable_hardware,
    valid_layouts,
    weight_supported,
)

EXAMPLE = Path(__file__).parents[2] / "examples" / "plan-chat-70b.yaml"

CHAT = {
    "model": "llama-3.1-70b",
    "slo": {"ttft_ms": 1000, "tpot_ms": 50},
    "workload": {
        "duration_s": 30,
        "arrival": {"kind": "poisson", "rate_rps": 10},
        "classes": [{"prompt": 500, "output": 100}],
    },
}


def with_(**changes: object) -> dict[str, object]:
    return {**CHAT, **changes}


def test_dense_layouts_are_every_tp_pp_split_of_each_chip_count() -> None:
    # Llama-3.1-70B: 64 heads, 8 KV heads, 80 layers — every split of 1, 2, 4, 8 chips is valid
    model = catalog.model("llama-3.1-70b")
    got = {(p.tp, p.pp, p.ep) for p in valid_layouts(model, [1, 2, 4, 8])}
    want = {(t, n // t, 1) for n in (1, 2, 4, 8) for t in (1, 2, 4, 8) if n % t == 0}
    assert got == want


def test_moe_layouts_add_expert_parallel_where_the_experts_divide() -> None:
    # Mixtral 8x7B: 8 experts, so ep = tp only up to tp 8; tp 16 keeps ep = 1
    model = catalog.model("mixtral-8x7b")
    layouts = {(p.tp, p.pp, p.ep) for p in valid_layouts(model, [16])}
    assert (16, 1, 1) in layouts and (16, 1, 16) not in layouts
    assert (8, 2, 8) in layouts and (8, 2, 1) in layouts


def test_layouts_the_heads_refuse_are_left_out() -> None:
    # Qwen3-30B-A3B has 32 heads and 4 KV heads: tp 8 must divide or be a multiple of 4 — fine;
    # with a 3-chip budget there is no tp 3 (3 does not divide 32) and only pp 3 with tp 1
    model = catalog.model("qwen3-30b-a3b")
    assert {(p.tp, p.pp) for p in valid_layouts(model, [3])} == {(1, 3)}


def test_chip_counts_are_powers_of_two_up_to_the_limit_or_the_given_list() -> None:
    assert chip_counts(SearchSpec(max_chips_per_replica=8)) == [1, 2, 4, 8]
    assert chip_counts(SearchSpec(max_chips_per_replica=6)) == [1, 2, 4]
    assert chip_counts(SearchSpec(chips_per_replica=(8, 2, 2))) == [2, 8]


def test_weight_formats_the_engines_do_not_serve_are_skipped() -> None:
    assert not weight_supported(catalog.hardware("b200"), "int8")  # no INT8 W8A8 on Blackwell
    assert not weight_supported(catalog.hardware("h100-sxm"), "nvfp4")  # no FP4 tensor cores
    assert weight_supported(catalog.hardware("b200"), "nvfp4")
    assert weight_supported(catalog.hardware("a100-sxm-80gb"), "fp8")  # weight-only W8A16


def test_default_hardware_is_every_priced_chip_and_the_rest_is_named() -> None:
    space = build_space(load_plan(CHAT))
    ids = {p.hardware.id for p in space.hardware}
    priced = {h.id for h in catalog.all_hardware() if catalog.default_price(h.id)}
    assert ids == priced
    assert any(s.startswith("rtx-4090:") for s in space.skipped)
    for p in space.hardware:
        assert p.usd_per_chip_hour == catalog.default_price(p.hardware.id).usd_per_chip_hour  # type: ignore[union-attr]


def test_user_prices_override_and_unpriced_explicit_hardware_is_an_error() -> None:
    search = {"hardware": ["h100-sxm", "rtx-4090"], "prices": {"rtx-4090": 0.4}}
    space = build_space(load_plan(with_(search=search)))
    assert [(p.hardware.id, p.usd_per_chip_hour) for p in space.hardware] == [
        ("h100-sxm", catalog.default_price("h100-sxm").usd_per_chip_hour),  # type: ignore[union-attr]
        ("rtx-4090", 0.4),
    ]
    with pytest.raises(InfercostError, match="no price for it"):
        build_space(load_plan(with_(search={"hardware": ["rtx-4090"]})))


def test_native_weights_resolve_to_the_checkpoint_format() -> None:
    space = build_space(load_plan(with_(search={"weights": ["native", "fp8"], "kv": ["fp8"]})))
    assert space.precisions == (("bf16", "fp8"), ("fp8", "fp8"))
    assert space.size == (
        len(space.hardware) * len(space.layouts) * 2 * len(space.max_num_seqs) * 2 * 2
    )


def test_usable_hardware_drops_chips_without_the_format() -> None:
    search = {"hardware": ["h100-sxm", "b200"], "weights": ["nvfp4"]}
    space = build_space(load_plan(with_(search=search)))
    assert [p.hardware.id for p in usable_hardware(space, "nvfp4", "bf16")] == ["b200"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"slo": None}, "slo"),
        ({"search": {"weights": ["q4_k_m"]}}, "weights"),
        ({"search": {"kv": ["int4"]}}, "kv"),
        ({"search": {"modes": ["both"]}}, "modes"),
        ({"search": {"engine": "vllmm"}}, "engine"),
        ({"search": {"max_num_seqs": []}}, "max_num_seqs"),
        (
            {
                "workload": {
                    "duration_s": 10,
                    "arrival": {"kind": "closed", "concurrency": 4},
                    "classes": [{"prompt": 5, "output": 5}],
                }
            },
            "closed",
        ),
    ],
)
def test_plan_file_mistakes_are_one_line_errors(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InfercostError) as err:
        load_plan(with_(**changes))
    assert field in str(err.value) and "\n" not in str(err.value)


def test_a_class_slo_is_enough_and_the_shipped_example_loads() -> None:
    workload = dict(CHAT["workload"])  # type: ignore[arg-type]
    workload["classes"] = [{"prompt": 500, "output": 100, "slo": {"tpot_ms": 40}}]
    request = load_plan(with_(slo=None, workload=workload))
    assert request.class_slos()["default"].tpot_ms == 40
    example = load_plan(EXAMPLE)
    assert example.model == "llama-3.1-70b"
    assert example.slo is not None and (example.slo.ttft_ms, example.slo.tpot_ms) == (1000, 50)
    assert example.workload.arrival.kind == "poisson"


@pytest.mark.parametrize("path", sorted(EXAMPLE.parent.glob("plan-*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_plan_example_screens_to_a_feasible_deployment(path: Path) -> None:
    from infercost.plan.screen import load_profile, merge, rank, screen_task, screen_tasks

    request = load_plan(path)
    space = build_space(request)
    load = load_profile(request)
    tasks = screen_tasks(space, load, request.search.headroom, request.search.max_replicas)
    ranked = rank(merge([screen_task(t) for t in tasks]))
    assert ranked and ranked[0]["replicas"] >= 1
    assert ranked[0]["ttft_ms_p99"] <= load.ttft_s * 1e3 and ranked[0]["tpot_ms_p99"] <= (
        load.tpot_s * 1e3
    )
