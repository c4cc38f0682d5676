"""Multi-tenant packing: MIG placements, MPS shares and time-sharing ILPs with optima known by hand,
the sourced MIG table, whole packings on real models, and one-line input errors."""

from __future__ import annotations

import itertools
from importlib import resources
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from infercost import catalog
from infercost.cli import app
from infercost.errors import InfercostError
from infercost.plan.packing import (
    MigProfile,
    Pool,
    mig_gpu,
    mig_profiles,
    pack,
    parse_pack,
    solve_mig,
    solve_shares,
    solve_timeshare,
    swap_seconds,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


# --- the sourced table ----------------------------------------------------------------------------------


def test_every_mig_entry_is_sourced_dated_and_geometrically_valid() -> None:
    text = (resources.files("infercost.catalog") / "data" / "mig_profiles.yaml").read_text()
    data = yaml.safe_load(text)
    for row in data["gpus"] + data["profiles"]:
        assert "docs.nvidia.com/datacenter/tesla/mig-user-guide" in row["source"]
        assert row["as_of"]
    for gpu in data["gpus"]:
        catalog.hardware(gpu["hardware"])  # a catalog id
        assert gpu["host_link_gbps"] > 0
    for p in data["profiles"]:
        assert p["name"].startswith(f"{p['compute_slices']}g.")
        assert p["name"].endswith(f".{p['memory_gb']:g}gb")
        for start in p["placements"]:
            assert start >= 0 and start + p["memory_slices"] <= 8
        # as many instances fit as the guide says, and no more, given the placements
        assert p["max_instances"] <= len(p["placements"])


@pytest.mark.parametrize(
    ("hardware", "names"),
    [
        ("a100-sxm-40gb", ["1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"]),
        ("a100-sxm-80gb", ["1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"]),
        ("h100-sxm", ["1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"]),
        ("h200", ["1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"]),
    ],
)
def test_mig_profiles_per_gpu(hardware: str, names: list[str]) -> None:
    assert [p.name for p in mig_profiles(hardware)] == names
    assert mig_gpu(hardware) is not None
    assert mig_profiles("mi300x") == ()


# --- MIG placements, by hand ----------------------------------------------------------------------------

# the A100-40GB geometry: name → (compute slices, memory slices, placements)
GEOMETRY = {
    "1g.5gb": (1, 1, (0, 1, 2, 3, 4, 5, 6)),
    "1g.10gb": (1, 2, (0, 2, 4, 6)),
    "2g.10gb": (2, 2, (0, 2, 4)),
    "3g.20gb": (3, 4, (0, 4)),
    "4g.20gb": (4, 4, (0,)),
    "7g.40gb": (7, 8, (0,)),
}
PROFILES = {
    "gpu": [
        MigProfile(
            hardware="gpu",
            name=name,
            compute_slices=c,
            memory_slices=m,
            memory_gb=5.0 * m,
            max_instances=len(pl),
            placements=pl,
            source="test",
            as_of="test",
        )
        for name, (c, m, pl) in GEOMETRY.items()
    ]
}
POOL = Pool(size={"gpu": 6}, usd_per_hour={"gpu": 2.0})


def mig(demand: dict[str, float], rates: dict[str, dict[str, float]]):  # type: ignore[no-untyped-def]
    """Tenant → profile → requests/s one slice sustains."""
    flat = {(t, "gpu", p): r for t, per in rates.items() for p, r in per.items()}
    return solve_mig(demand, flat, PROFILES, POOL, time_limit_s=10)


def test_three_models_on_slices_of_one_gpu_instead_of_three() -> None:
    out = mig(
        {"a": 1.0, "b": 1.0, "c": 1.0},
        {"a": {"3g.20gb": 1.0}, "b": {"2g.10gb": 1.0}, "c": {"1g.10gb": 1.0}},
    )
    assert out.used == {"gpu": 1}
    memory = sorted((p.start, p.start + GEOMETRY[p.label][1]) for p in out.placed)  # type: ignore[operator]
    for (_, end), (start, _) in itertools.pairwise(memory):
        assert end <= start  # no memory slot twice


def test_four_g_and_three_g_share_one_gpu() -> None:
    out = mig({"a": 1.0, "b": 1.0}, {"a": {"4g.20gb": 1.0}, "b": {"3g.20gb": 1.0}})
    assert out.used == {"gpu": 1}
    assert {(p.label, p.start) for p in out.placed} == {("4g.20gb", 0), ("3g.20gb", 4)}


def test_two_four_g_slices_need_two_gpus_although_their_memory_adds_to_eight() -> None:
    # 4g.20gb only starts at slot 0: a slice count (4 + 4 ≤ 8 memory, 4 + 4 > 7 compute) says no
    # too, but placements alone decide 3g + 3g + 1g (7 compute, 9 memory slots): two GPUs
    out = mig({"a": 1.0, "b": 1.0}, {"a": {"4g.20gb": 1.0}, "b": {"4g.20gb": 1.0}})
    assert out.used == {"gpu": 2}
    out = mig(
        {"a": 1.0, "b": 1.0, "c": 1.0},
        {"a": {"3g.20gb": 1.0}, "b": {"3g.20gb": 1.0}, "c": {"1g.5gb": 1.0}},
    )
    assert out.used == {"gpu": 2}


def test_seven_small_slices_fit_one_gpu_and_eight_need_two() -> None:
    seven = {f"t{i}": 1.0 for i in range(7)}
    assert mig(seven, {t: {"1g.5gb": 1.0} for t in seven}).used == {"gpu": 1}
    eight = {f"t{i}": 1.0 for i in range(8)}
    assert mig(eight, {t: {"1g.5gb": 1.0} for t in eight}).used == {"gpu": 2}


def test_a_tenant_takes_several_slices_to_cover_its_load() -> None:
    out = mig({"a": 2.5}, {"a": {"1g.5gb": 1.0, "7g.40gb": 2.0}})
    # three 1g slices (3 req/s) beat a 7g plus a 1g on a second GPU
    assert out.used == {"gpu": 1}
    assert sum(p.rate for p in out.placed) >= 2.5
    assert [p.label for p in out.placed] == ["1g.5gb"] * 3


def test_the_cheaper_gpu_type_wins() -> None:
    pool = Pool(size={"x": 2, "y": 2}, usd_per_hour={"x": 3.0, "y": 2.0})
    profiles = {"x": PROFILES["gpu"], "y": PROFILES["gpu"]}
    rates = {("a", "x", "7g.40gb"): 1.0, ("a", "y", "7g.40gb"): 1.0}
    out = solve_mig({"a": 1.0}, rates, profiles, pool, time_limit_s=10)
    assert out.used == {"y": 1}


# --- MPS and time-sharing, by hand ------------------------------------------------------------------------


def test_mps_shares_sum_to_one_gpu_at_most() -> None:
    # a needs 3 req/s from half-GPU processes of 1 req/s: three halves → two GPUs
    rates = {("a", "gpu", 0.5): 1.0}
    out = solve_shares({"a": 3.0}, rates, POOL, time_limit_s=10)
    assert out.used == {"gpu": 2}
    assert len(out.placed) == 3


def test_mps_prefers_the_shares_that_fill_one_gpu() -> None:
    rates = {("a", "gpu", 0.25): 1.0, ("a", "gpu", 0.5): 2.5, ("b", "gpu", 0.25): 1.0}
    # a needs 5 req/s: only two halves give it (half + quarter + quarter = 4.5), so b's quarter
    # goes to a second GPU
    out = solve_shares({"a": 5.0, "b": 1.0}, rates, POOL, time_limit_s=10)
    assert out.used == {"gpu": 2}
    # a needs 3.5: half + quarter; b's quarter completes the same GPU
    out = solve_shares({"a": 3.5, "b": 1.0}, rates, POOL, time_limit_s=10)
    assert out.used == {"gpu": 1}
    assert sum(p.share for p in out.placed) == pytest.approx(1.0)


def test_time_sharing_is_bin_packing_of_busy_shares() -> None:
    busy = {("a", "gpu"): 0.6, ("b", "gpu"): 0.5, ("c", "gpu"): 0.4}
    out = solve_timeshare(busy, POOL, time_limit_s=10)
    # 1.5 GPUs of busy time; a + b = 1.1 does not fit one GPU, a + c and b + c do: two GPUs
    assert out.used == {"gpu": 2}
    for j in (0, 1):
        assert sum(p.share for p in out.placed if p.index == j) <= 1.0 + 1e-9
    assert sorted(p.tenant for p in out.placed) == ["a", "b", "c"]


def test_swap_time_is_weights_over_the_host_link() -> None:
    assert swap_seconds(16e9, 32.0) == pytest.approx(0.5)


# --- whole packings ----------------------------------------------------------------------------------------


def tenants(*rows: tuple[str, str, float]) -> list[dict]:  # type: ignore[type-arg]
    return [
        {
            "name": name,
            "model": model,
            "isl": 512,
            "osl": 128,
            "requests_per_s": rate,
            "slo": {"ttft_ms": 2000, "tpot_ms": 100},
        }
        for name, model, rate in rows
    ]


def test_three_small_models_share_one_a100_instead_of_three() -> None:
    spec = parse_pack(
        {
            "hardware": "a100-sxm-80gb",
            "modes": ["mig", "mps"],
            "models": tenants(
                ("a", "qwen3-0.6b", 0.5), ("b", "qwen3-0.6b", 0.5), ("c", "qwen3-0.6b", 0.5)
            ),
        }
    )
    result = pack(spec)
    assert result.baseline_gpus == 3
    mig_result = next(m for m in result.modes if m.mode == "mig")
    assert mig_result.gpus == 1
    assert mig_result.gpus_saved == 2
    assert result.gpus_saved == 2
    for s in mig_result.slots:
        assert s.requests_per_s_capacity >= 0.5


def test_three_27b_models_need_two_h100s_with_mig() -> None:
    # 27 GB of fp8 weights need a 40 GB slice (4 of 8 memory slots): three need 12 slots > 8
    spec = parse_pack(
        {
            "hardware": "h100-sxm",
            "modes": ["mig"],
            "models": [
                {**t, "weights": "fp8"}
                for t in tenants(
                    ("a", "gemma-2-27b", 0.5), ("b", "gemma-2-27b", 0.5), ("c", "gemma-2-27b", 0.5)
                )
            ],
        }
    )
    result = pack(spec)
    (mig_result,) = result.modes
    assert result.baseline_gpus == 3
    assert mig_result.gpus == 2
    assert all(s.label in ("3g.40gb", "4g.40gb", "7g.80gb") for s in mig_result.slots)


def test_example_pack_file() -> None:
    result = pack(EXAMPLES / "pack-small-models.yaml")
    assert result.best is not None
    best = next(m for m in result.modes if m.mode == result.best)
    assert best.gpus <= result.baseline_gpus
    assert result.gpus_saved == result.baseline_gpus - best.gpus
    for m in result.modes:
        if not m.feasible:
            continue
        for name in {
            t.name
            for t in parse_pack(
                yaml.safe_load((EXAMPLES / "pack-small-models.yaml").read_text())
            ).models
        }:
            served = sum(s.requests_per_s_capacity for s in m.slots if s.tenant == name)
            served += sum(d.requests_per_s_capacity for d in m.dedicated if d.tenant == name)
            assert served > 0, (m.mode, name)


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"modes": ["mig", "vgpu"]}, "modes[1]", "input should be 'mig', 'mps' or 'timeshare'"),
        ({"mps": {"interference": 1.5}}, "mps.interference", "less than 1"),
        ({"prices": {"h100-sxm": 2.0}}, "prices", "a price for a GPU type not in `hardware`"),
        ({"models": []}, "models", "at least 1 item"),
        ({"gpus": ["a100"]}, "gpus", "unknown field; allowed: name, hardware"),
    ],
)
def test_bad_pack_files_are_one_line_errors(change: dict, field: str, text: str) -> None:  # type: ignore[type-arg]
    data = {"hardware": "a100-sxm-80gb", "models": tenants(("a", "qwen3-0.6b", 1.0)), **change}
    with pytest.raises(InfercostError) as err:
        parse_pack(data)
    assert err.value.field == field
    assert text in str(err.value)


def test_mig_on_a_gpu_without_profiles_is_refused() -> None:
    spec = parse_pack(
        {"hardware": "mi300x", "modes": ["mig"], "models": tenants(("a", "qwen3-0.6b", 1.0))}
    )
    with pytest.raises(InfercostError, match="none has MIG profiles"):
        pack(spec)


def test_cli_pack_json_files_and_error(tmp_path: Path) -> None:
    runner = CliRunner()
    spec = tmp_path / "p.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "hardware": "a100-sxm-80gb",
                "modes": ["mig"],
                "models": tenants(("a", "qwen3-0.6b", 1.0), ("b", "qwen3-0.6b", 1.0)),
            }
        )
    )
    out = tmp_path / "out"
    res = runner.invoke(app, ["pack", str(spec), "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = yaml.safe_load(res.stdout)
    assert data["baseline_gpus"] == 2 and data["modes"][0]["gpus"] == 1
    for name in ("pack.json", "pack_slots.csv", "pack.html", "pack.png"):
        assert (out / name).stat().st_size > 0
    spec.write_text(yaml.safe_dump({"hardware": "a100-sxm-80gb", "models": [{"name": "a"}]}))
    res = runner.invoke(app, ["pack", str(spec)])
    assert res.exit_code == 2
    assert "models[0]" in res.stderr and "Traceback" not in res.output


def test_a_tenant_no_gpu_serves_names_the_target_and_the_closest_layout() -> None:
    data = {"hardware": "a100-sxm-80gb", "models": tenants(("a", "llama-3.1-70b", 1.0))}
    data["models"][0]["slo"] = {"tpot_ms": 0.1}
    with pytest.raises(InfercostError) as err:
        pack(parse_pack(data))
    assert err.value.field == "models[0].slo.tpot_ms"
    assert "8× a100-sxm-80gb" in str(err.value)  # the most chips: the closest to the target


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("pack-*.yaml")))
def test_every_pack_example_runs(name: str) -> None:
    result = pack(EXAMPLES / name)
    assert result.best is not None and result.gpus_saved >= 0
