"""`compare`: hardware side by side. Hand-computed cases (2× bandwidth halves the weight reads of a
small-batch decode step and leaves compute-bound prefill alone; tokens/J from TDP; drain time; ratios),
elasticities against the step breakdown, the hypothetical-chip YAML, one-line errors and the CLI."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from infercost import catalog
from infercost.commands.compare import register
from infercost.econ.compare import (
    Comparison,
    compare,
    max_context,
    scaled,
    sensitivity,
    workload_point,
)
from infercost.econ.frontier import frontier
from infercost.errors import InfercostError
from infercost.perf.efficiency import shipped_profile
from infercost.perf.memory import memory_plan
from infercost.perf.resources import Layout, resources_for
from infercost.perf.step import step_time
from infercost.specs.hardware import KVTier
from infercost.specs.parallelism import Parallelism

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "hardware-hypothetical.yaml")
HYPO_PRICE = {"h100-sxm-2x-bw": 2.99}


@cache
def three() -> Comparison:
    return compare("llama-3.1-70b", ["h100-sxm", "h200", "b200"])


@cache
def small_batch() -> Comparison:
    """llama-3.1-8b, one chip, batch 1: memory-bound decode, compute-bound 1024-token prefill."""
    return compare(
        "llama-3.1-8b",
        ["h100-sxm", EXAMPLE],
        chips=1,
        batch=1,
        price_per_hour=HYPO_PRICE,
        with_sensitivity=True,
    )


# --- item 2: hypothetical hardware ----------------------------------------------------------------


def test_hypothetical_yaml_is_a_validated_hardware() -> None:
    hw = catalog.hardware(EXAMPLE)
    base = catalog.hardware("h100-sxm")
    assert hw.id == "h100-sxm-2x-bw"
    assert hw.source == "hypothetical"
    assert hw.memory_bw_gbps == 2 * base.memory_bw_gbps  # type: ignore[operator]
    assert hw.peak_tflops == base.peak_tflops
    assert (hw.memory_gb, hw.tdp_w, hw.scale_up, hw.family) == (
        base.memory_gb,
        base.tdp_w,
        base.scale_up,
        base.family,
    )


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"memory_bw_gbps": -5}, "memory_bw_gbps"),
        ({"bogus_field": 1}, "bogus_field"),
        ({"peak_tflops": {"fp9": 3}}, "peak_tflops"),
        ({"kind": "fpga"}, "kind"),
    ],
)
def test_bad_hypothetical_yaml_is_one_line_error(
    tmp_path: Path, change: dict[str, object], where: str
) -> None:
    data = yaml.safe_load(Path(EXAMPLE).read_text())
    path = tmp_path / "chip.yaml"
    path.write_text(yaml.safe_dump({**data, **change}))
    with pytest.raises(InfercostError) as err:
        compare("llama-3.1-8b", [str(path)], price_per_hour={"h100-sxm-2x-bw": 1.0})
    assert where in str(err.value)
    assert "\n" not in str(err.value)


def test_unreadable_yaml_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "chip.yaml"
    path.write_text("id: x\n  name: [unclosed\n")
    with pytest.raises(InfercostError, match="not a readable YAML spec") as err:
        compare("llama-3.1-8b", [str(path)])
    assert "\n" not in str(err.value)


def test_hypothetical_needs_a_price() -> None:
    with pytest.raises(InfercostError, match="h100-sxm-2x-bw=USD_PER_CHIP_HOUR"):
        compare("llama-3.1-8b", [EXAMPLE], chips=1)


# --- item 1: hand-computed acceptance cases -------------------------------------------------------


def test_double_bandwidth_halves_weight_reads_not_prefill_compute() -> None:
    h100, hypo = small_batch().entries
    assert hypo.hypothetical and not h100.hypothetical
    assert (h100.chips, h100.batch, hypo.chips, hypo.batch) == (1, 1, 1, 1)
    # decode at batch 1 is memory-bound: weights (and KV) reads take half the time
    assert h100.decode.weights_ms > 0.8 * h100.decode.total_ms - h100.decode.overhead_ms
    assert hypo.decode.weights_ms == pytest.approx(h100.decode.weights_ms / 2, rel=1e-12)
    assert hypo.decode.kv_ms == pytest.approx(h100.decode.kv_ms / 2, rel=1e-12)
    assert hypo.decode.compute_ms == pytest.approx(h100.decode.compute_ms, abs=1e-12)
    assert hypo.decode.overhead_ms == pytest.approx(h100.decode.overhead_ms)
    # prefill of 1024 tokens is compute-bound: unchanged; only its memory-bound LM head halves
    assert h100.prefill.compute_ms > 0.9 * (h100.prefill.total_ms - h100.prefill.overhead_ms)
    assert hypo.prefill.compute_ms == pytest.approx(h100.prefill.compute_ms, rel=1e-12)
    assert hypo.prefill.weights_ms == pytest.approx(h100.prefill.weights_ms / 2, rel=1e-12)
    # the latency floor is bytes ÷ peak bandwidth: exactly halved
    assert hypo.latency_floor_ms == pytest.approx(h100.latency_floor_ms / 2, rel=1e-12)
    assert hypo.bound == h100.bound == "hbm-bandwidth"


def test_ratios_are_quotients_of_the_numbers() -> None:
    result = three()
    base = result.entries[0]
    assert result.baseline == "h100-sxm"
    for e, r in zip(result.entries, result.ratios, strict=True):
        assert r.hardware == e.hardware
        assert r.perf_per_usd == pytest.approx(base.usd_per_mtok_output / e.usd_per_mtok_output)
        assert r.tokens_per_s_per_chip == pytest.approx(
            e.output_tps_per_chip / base.output_tps_per_chip
        )
        assert r.tokens_per_s_per_user == pytest.approx(
            e.tokens_per_s_per_user / base.tokens_per_s_per_user
        )
        assert e.tokens_per_joule is not None and base.tokens_per_joule is not None
        assert r.perf_per_watt == pytest.approx(e.tokens_per_joule / base.tokens_per_joule)
    assert result.ratios[0].perf_per_usd == 1.0


def test_tokens_per_joule_and_drain_time_by_hand() -> None:
    for e in three().entries:
        tdp = {"h100-sxm": 700.0, "h200": 700.0, "b200": 1000.0}[e.hardware]
        tps = e.batch / (e.tpot_ms / 1e3)  # decode tokens/s of the replica
        assert e.output_tps == pytest.approx(tps)
        assert e.tokens_per_joule == pytest.approx(tps / (e.chips * tdp))
        assert e.tdp_w == tdp
    drain = {e.hardware: e.drain_time_ms for e in three().entries}
    assert drain["h100-sxm"] == pytest.approx(80e9 / 3350e9 * 1e3)
    assert drain["h200"] == pytest.approx(141e9 / 4800e9 * 1e3)
    assert drain["b200"] == pytest.approx(180e9 / 7700e9 * 1e3)
    assert "TDP-based" in three().energy_basis


def test_chosen_point_is_the_cheapest_candidate_and_matches_frontier() -> None:
    for e in three().entries:
        ran = [c for c in e.candidates if not c.skipped]
        assert e.usd_per_mtok_output == min(c.usd_per_mtok_output or 1e9 for c in ran)
        front = frontier("llama-3.1-70b", e.hardware, chips=e.chips)
        assert e.usd_per_mtok_output == pytest.approx(front.best.usd_per_mtok_output)
        assert e.latency_floor_ms == pytest.approx(front.latency_floor_ms)
        assert e.cost_floor_usd_per_mtok == pytest.approx(front.cost_floor_usd_per_mtok)
        assert e.critical_batch == front.critical_batch
        assert e.cost_floor_usd_per_mtok <= e.usd_per_mtok_output
    h100 = three().entries[0]
    # 70B in bf16 does not fit on 1 or 2 H100s: those counts are skipped with the reason
    assert [c.chips for c in h100.candidates if c.skipped] == [1, 2]
    assert "does not fit" in h100.candidates[0].skipped
    # the cheapest batch fills memory: capacity bounds it
    assert h100.batch == h100.max_concurrent_sequences and h100.bound == "capacity"


def test_tpot_slo_is_met_by_the_cheapest_point_meeting_it() -> None:
    loose = three().entries[0]
    slo = loose.tpot_ms * 0.6
    tight = compare("llama-3.1-70b", ["h100-sxm"], tpot_slo_ms=slo).entries[0]
    assert tight.slo_met and tight.tpot_ms <= slo
    assert tight.usd_per_mtok_output >= loose.usd_per_mtok_output
    best = min(
        p.usd_per_mtok_output
        for n in (4, 8)
        for p in frontier("llama-3.1-70b", "h100-sxm", chips=n).points
        if p.tpot_ms <= slo
    )
    assert tight.usd_per_mtok_output == pytest.approx(best)
    impossible = compare("llama-3.1-70b", ["h100-sxm"], tpot_slo_ms=0.01).entries[0]
    assert not impossible.slo_met and impossible.batch == 1  # the fastest point instead


def test_max_context_at_target_batch_from_the_memory_plan() -> None:
    spec = catalog.model("llama-3.1-8b")
    hw = catalog.hardware("h100-sxm")
    res = resources_for(hw, catalog.precision("bf16"), shipped_profile().resolve(hw.family, None))
    p = Parallelism()
    for batch in (1, 8):
        ctx = max_context(res, spec, p, batch)
        plan = memory_plan(spec, res, Layout.of(p), context=ctx, max_batched_tokens=8192)
        # full attention: KV is linear in context, so the limit is free bytes ÷ (batch × per token)
        by_hand = float(plan.kv_free_bytes) / (batch * float(plan.kv_bytes_per_token))
        assert ctx == int(by_hand)
    entry = compare("llama-3.1-8b", ["h100-sxm"], chips=1, target_batch=8).entries[0]
    assert entry.target_batch == 8 and entry.max_context_tokens == max_context(res, spec, p, 8)


# --- item 5: sensitivity ----------------------------------------------------------------------------


def test_scaled_copies_change_one_resource() -> None:
    hw = catalog.hardware("h100-sxm")
    assert scaled(hw, "memory_bandwidth").memory_bw_gbps == pytest.approx(3350 * 1.1)
    assert scaled(hw, "memory_capacity").memory_gb == pytest.approx(88.0)
    assert scaled(hw, "flops").peak_tflops["bf16"] == pytest.approx(989.4 * 1.1)
    assert scaled(hw, "flops").peak_tflops["fp4"] is None
    net = scaled(hw, "interconnect")
    assert (net.scale_up.bw_gbps, net.scale_out_gbps) == pytest.approx((495.0, 55.0))
    assert hw.memory_bw_gbps == 3350  # the original is untouched
    sram = scaled(hw, "sram")
    assert (sram.sram_mb, sram.sram_bw_gbps) == (pytest.approx(50 * 1.1), None)  # unknown stays
    with pytest.raises(InfercostError, match="allowed"):
        scaled(hw, "hbm")


def test_small_batch_tpot_elasticity_is_the_memory_share() -> None:
    result = small_batch()
    assert result.sensitivity is not None
    for entry, sens in zip(result.entries, result.sensitivity, strict=True):
        el = {e.resource: e for e in sens.elasticities}
        d = entry.decode
        # +10 % bandwidth shrinks only the memory-bound part, by 1 − 1/1.1 (−0.909 for a step that
        # is all weight reads); the fixed per-step overhead keeps it from reaching −1. Exact while
        # no op changes its bound: true on the H100; on the 2×-bandwidth chip a tiny attention op
        # turns compute-bound at 2.2×, hence the tolerance.
        share = (d.weights_ms + d.kv_ms) / d.total_ms
        by_hand = -share * (1 - 1 / 1.1) / 0.1
        exact = entry.hardware == "h100-sxm"
        assert el["memory_bandwidth"].tpot == pytest.approx(
            by_hand, rel=1e-9 if exact else 0.0, abs=0.0 if exact else 0.01
        )
        assert -1.0 < el["memory_bandwidth"].tpot < -0.5
        assert el["memory_bandwidth"].latency_floor == pytest.approx(-(1 - 1 / 1.1) / 0.1)
        assert el["flops"].tpot == pytest.approx(0.0, abs=0.02)
        assert el["memory_capacity"].tpot == 0.0
        assert el["interconnect"].tpot == 0.0  # one chip: no communication
        # at a fixed batch of 1 the cost tracks TPOT
        assert el["memory_bandwidth"].usd_per_mtok_output == pytest.approx(
            el["memory_bandwidth"].tpot
        )
        assert sens.most_valuable == "memory_bandwidth"


def test_sensitivity_function_and_capacity_lowers_cost_when_memory_bound() -> None:
    rows = sensitivity("llama-3.1-70b", ["h100-sxm"])
    el = {e.resource: e for e in rows[0].elasticities}
    assert el["memory_capacity"].usd_per_mtok_output < 0  # a bigger batch fits
    assert el["memory_capacity"].batch > three().entries[0].batch
    assert el["memory_capacity"].tpot == 0.0


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hardware": ["h999"]}, "hardware: 'h999'"),
        ({"hardware": ["h100-sxm", "h100"]}, "given twice"),
        ({"hardware": ["nope.yaml"]}, "spec file not found"),
        ({"hardware": []}, "at least one"),
        ({"hardware": ["h100-sxm"], "price_per_hour": {"h200": 3.0}}, "names no hardware"),
        ({"hardware": ["h100-sxm"], "price_per_hour": {"h100-sxm": -1.0}}, "must be > 0"),
        ({"hardware": ["h100-sxm"], "tpot_slo_ms": 0.0}, "tpot_slo_ms"),
        ({"hardware": ["h100-sxm"], "chips": 1, "batch": 10**7}, "batches"),
    ],
)
def test_one_line_errors(kwargs: dict[str, object], match: str) -> None:
    hardware = kwargs.pop("hardware")
    with pytest.raises(InfercostError, match=match) as err:
        compare("llama-3.1-8b", hardware, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(err.value)


# --- CLI --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runner_app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")  # a second command keeps typer in multi-command mode
    def noop() -> None:
        pass

    return app


def test_cli_json(runner_app: typer.Typer) -> None:
    result = CliRunner().invoke(
        runner_app,
        [
            "compare",
            "llama-3.1-8b",
            "--hardware",
            f"h100-sxm,{EXAMPLE}",
            "--chips",
            "1",
            "--batch",
            "1",
            "--price-per-hour",
            "h100-sxm-2x-bw=2.99",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [e["hardware"] for e in data["entries"]] == ["h100-sxm", "h100-sxm-2x-bw"]
    assert data["entries"][1]["price"]["source"] == "user input"
    assert data["ratios"][1]["perf_per_usd"] == pytest.approx(
        data["entries"][0]["usd_per_mtok_output"] / data["entries"][1]["usd_per_mtok_output"]
    )
    assert data["sensitivity"] is None


def test_cli_table_sensitivity_and_files(runner_app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        runner_app,
        [
            "compare",
            "llama-3.1-8b",
            "--hardware",
            "h100-sxm,h200",
            "--chips",
            "1",
            "--sensitivity",
            "--out",
            str(tmp_path),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "perf/$ vs h100-sxm" in result.stdout
    assert "memory_bandwidth" in result.stdout
    assert "TDP-based" in result.stdout
    data = json.loads((tmp_path / "compare.json").read_text())
    assert len(data["sensitivity"]) == 2
    html = (tmp_path / "compare.html").read_text()
    assert "plotly" in html.lower() and '<script src="https://cdn' not in html
    assert len(html) > 1_000_000  # plotly.js is inlined
    assert (tmp_path / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "args",
    [
        ["--hardware", "h999"],
        ["--hardware", "h100-sxm", "--price-per-hour", "h100-sxm"],
        ["--hardware", EXAMPLE],
        ["--hardware", "h100-sxm", "--kv-offload", "host:512"],
        ["--hardware", "h100-sxm", "--kv-offload", "host:-1:50"],
        ["--hardware", "h100-sxm", "--sram-kv"],
    ],
)
def test_cli_errors_exit_2_with_one_line(runner_app: typer.Typer, args: list[str]) -> None:
    result = CliRunner().invoke(runner_app, ["compare", "llama-3.1-8b", *args])
    assert result.exit_code == 2
    assert "error:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


# --- item 3: memory hierarchy -----------------------------------------------------------------------


def test_sram_resident_kv_speeds_small_batch_decode_by_the_kv_share(tmp_path: Path) -> None:
    """Opt-in: the hypothetical chip's SRAM holds batch-1 KV, so that KV time shrinks by the
    bandwidth ratio; without the flag nothing changes; weights and prefill are untouched."""
    data = yaml.safe_load(Path(EXAMPLE).read_text())
    data.update(sram_mb=1000, sram_bw_gbps=33500)  # an assumption: SRAM at 10× the 3,350 GB/s HBM
    path = tmp_path / "sram.yaml"
    path.write_text(yaml.safe_dump(data))
    args = {"chips": 1, "batch": 1, "isl": 2048, "osl": 256, "price_per_hour": HYPO_PRICE}
    off = compare("llama-3.1-8b", [str(path)], **args).entries[0]  # type: ignore[arg-type]
    on = compare("llama-3.1-8b", [str(path)], sram_kv=True, **args)  # type: ignore[arg-type]
    fast = on.entries[0]
    # the attention op takes max(its FLOPs, its KV bytes): the saving is at most the KV time
    # shrinking by the bandwidth ratio (exactly that when it stays memory-bound: tests/perf)
    saving = off.decode.total_ms - fast.decode.total_ms
    assert 0 < saving <= off.decode.kv_ms * (1 - data["memory_bw_gbps"] / 33500) + 1e-9
    assert fast.decode.weights_ms == pytest.approx(off.decode.weights_ms)
    assert fast.prefill.total_ms == pytest.approx(off.prefill.total_ms, rel=1e-3)
    assert any("SRAM" in a for a in on.assumptions) and fast.sram_kv and not off.sram_kv
    # a chip without SRAM figures keeps reading KV from HBM, and the output says so
    mixed = compare("llama-3.1-8b", [str(path), "h100-sxm"], sram_kv=True, **args)  # type: ignore[arg-type]
    assert [e.sram_kv for e in mixed.entries] == [True, False]
    assert any(a.startswith("h100-sxm: SRAM") for a in mixed.assumptions)


def test_offload_tiers_hold_the_overflow_and_charge_its_reads() -> None:
    tiers = [KVTier(name="host-dram", capacity_gb=512, bw_gbps=50)]
    entry = compare(
        "llama-3.1-8b", ["h100-sxm"], chips=1, target_batch=32, kv_offload=tiers
    ).entries[0]
    off = entry.offload
    assert off is not None and off.tiers == ["hbm", "host-dram"]
    assert off.max_context_tokens == 131072  # the model's window is reached with host DRAM
    hbm_gb, host_gb = off.kv_gb_per_chip_by_tier["hbm"], off.kv_gb_per_chip_by_tier["host-dram"]
    assert (hbm_gb + host_gb) * 1e9 == pytest.approx(32 * 131072 * 131072, rel=1e-3)
    # the extra time is the host share read at 50 GB/s instead of at HBM speed (some ms of slack
    # for the efficiency fractions on the HBM side)
    extra_ms = off.tpot_ms - off.tpot_ms_all_in_hbm
    assert extra_ms == pytest.approx(host_gb / 50 * 1e3, rel=0.1)
    assert entry.max_context_tokens < off.max_context_tokens


def test_tpu_8i_example_spec_states_its_assumptions_and_the_cae_cuts_communication() -> None:
    """docs/hardware-what-if.md: the example validates, and its collectives engine (in-network
    reduction, lower latency) lowers the communication part of a tensor-parallel decode step."""
    path = Path(EXAMPLE).with_name("hardware-tpu-8i-assumed.yaml")
    assert path.read_text().count("ASSUMPTION") >= 5
    hw = catalog.hardware(str(path))
    no_cae = hw.model_copy(
        update={
            "id": "no-cae",
            "scale_up": hw.scale_up.model_copy(
                update={"in_network_reduction": False, "latency_us": None}
            ),
        }
    )
    prices = {"tpu-8i-assumed": 4.0}
    args = {"chips": 8, "batch": 8, "weights": "fp8", "kv": "fp8", "price_per_hour": prices}
    with_cae = compare("llama-3.1-70b", [str(path)], **args).entries[0]  # type: ignore[arg-type]
    spec = catalog.model("llama-3.1-70b")
    res = _point_comm(spec, hw), _point_comm(spec, no_cae)
    assert res[0] < res[1]
    assert with_cae.decode.comm_ms == pytest.approx(res[0] * 1e3)


def _point_comm(spec: object, hw: object) -> float:
    """Communication seconds of the decode step `compare` times (mean context isl + osl / 2)."""
    res = resources_for(
        hw,  # type: ignore[arg-type]
        catalog.precision("fp8", "fp8"),
        shipped_profile().resolve("tpu", None),
    )
    layout = Layout.of(Parallelism(tp=8))
    return float(step_time(spec, res, layout, decode_seqs=8, decode_context=1024 + 128).comm)  # type: ignore[arg-type]


def test_workload_file_gives_mean_lengths_and_the_tightest_tpot(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "slo": {"tpot_ms": 60},
                "workload": {
                    "arrival": {"kind": "poisson", "rate_rps": 5},
                    "requests": 400,
                    "classes": [
                        {"name": "a", "weight": 1, "prompt": 1000, "output": 100},
                        {
                            "name": "b",
                            "weight": 1,
                            "prompt": 3000,
                            "output": 300,
                            "slo": {"tpot_ms": 40},
                        },
                    ],
                },
            }
        )
    )
    point = workload_point(path)
    share_b = 0.5  # equal weights; the sample mean sits within a few % of it
    assert point.isl == pytest.approx(1000 + 2000 * share_b, rel=0.1)
    assert point.osl == pytest.approx(100 + 200 * share_b, rel=0.1)
    assert point.tpot_slo_ms == 40 and point.sampled_requests == 400
