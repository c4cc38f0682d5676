"""Audit: idle share of synthetic 24-hour traces with a known answer, capacity and savings by hand,
the HTML/PNG report, the CLI, and one-line errors on malformed input."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from infercost.audit import audit
from infercost.audit import utilization as U
from infercost.audit.capacity import replica_model
from infercost.audit.telemetry import Requests
from infercost.cli import app
from infercost.errors import InfercostError

START = datetime(2025, 3, 1, tzinfo=UTC)
DAY_S = 86400


# --- synthetic traces ----------------------------------------------------------------------------


def nvidia_smi_day(path: Path, *, seed: int = 0, gpus: int = 2) -> float:
    """24 h of nvidia-smi samples at irregular 50–70 s intervals with a 20-minute logging gap.

    Busy 09:00–18:00 (40–95 %) plus random 10 % of other samples; idle samples read 0–2 %.
    Returns the true idle share: idle seconds ÷ observed seconds, each sample holding until the
    next (the gap counts one median interval, as documented)."""
    rng = np.random.default_rng(seed)
    lines = [
        "timestamp, index, name, uuid, utilization.gpu [%], utilization.memory [%], "
        "memory.used [MiB], memory.total [MiB], power.draw [W]"
    ]
    idle_s = total_s = 0.0
    for g in range(gpus):
        t = 0.0
        times, utils = [], []
        while t < DAY_S:
            hour = t / 3600
            busy = 9 <= hour < 18 or rng.random() < 0.1
            utils.append(int(rng.integers(40, 96)) if busy else int(rng.integers(0, 3)))
            times.append(t)
            t += float(rng.uniform(50, 70))
            if 13 * 3600 <= t < 13 * 3600 + 60:
                t += 1200  # nvidia-smi was not logging for 20 minutes
        hold = U.hold_s(np.array(times))
        idle_s += float(hold[np.array(utils) < 5].sum())
        total_s += float(hold.sum())
        for when, u in zip(times, utils, strict=True):
            stamp = (START + timedelta(seconds=when)).strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
            lines.append(
                f"{stamp}, {g}, NVIDIA H100 80GB HBM3, GPU-{g}, {u} %, 10 %, 70000 MiB, "
                "81559 MiB, 300 W"
            )
    path.write_text("\n".join(lines) + "\n")
    return idle_s / total_s


def vllm_day(path: Path, *, cap: int = 64, prefix_caching: bool = False) -> dict[str, float]:
    """24 h of vLLM /metrics scrapes every 5 minutes (the `# scrape at` format).

    09:00–18:00 the server runs at its batch cap (`cap` running, 5 waiting, KV 50 % full), other
    hours it is idle except every 7th scrape (8 running). Prompts average 1000 tokens, outputs 200.
    Returns the true idle share, tokens produced and the busy output rate."""
    out: list[str] = []
    gen = prompt = count = tpot_sum = prefill_sum = decode_sum = 0.0
    idle = 0
    scrapes = DAY_S // 300
    rate_busy = 1500.0  # output tokens/s at the cap
    for i in range(scrapes):
        t = i * 300
        hour = t / 3600
        if 9 <= hour < 18:
            running, waiting, kv, rate = cap, 5, 0.5, rate_busy
        elif i % 7 == 0:
            running, waiting, kv, rate = 8, 0, 0.06, 400.0
        else:
            running, waiting, kv, rate = 0, 0, 0.0, 0.0
        idle += running == 0 and waiting == 0
        if i:  # counters grow over the interval before this scrape
            tokens = rate * 300
            gen += tokens
            done = tokens / 200
            count += done
            prompt += done * 1000
            tpot_sum += done * 0.04
            prefill_sum += done * 0.3
            decode_sum += done * 8.0
        when = (START + timedelta(seconds=t)).isoformat()
        labels = 'engine="0",model_name="llama"'
        out += [
            f"# scrape at {when}",
            "# TYPE vllm:num_requests_running gauge",
            f"vllm:num_requests_running{{{labels}}} {running}",
            "# TYPE vllm:num_requests_waiting gauge",
            f"vllm:num_requests_waiting{{{labels}}} {waiting}",
            "# TYPE vllm:kv_cache_usage_perc gauge",
            f"vllm:kv_cache_usage_perc{{{labels}}} {kv}",
            "# TYPE vllm:generation_tokens counter",
            f"vllm:generation_tokens_total{{{labels}}} {gen}",
            "# TYPE vllm:prompt_tokens counter",
            f"vllm:prompt_tokens_total{{{labels}}} {prompt}",
            "# TYPE vllm:num_preemptions counter",
            f"vllm:num_preemptions_total{{{labels}}} 0",
            "# TYPE vllm:request_prompt_tokens histogram",
            f"vllm:request_prompt_tokens_sum{{{labels}}} {prompt}",
            f"vllm:request_prompt_tokens_count{{{labels}}} {count}",
            "# TYPE vllm:request_generation_tokens histogram",
            f"vllm:request_generation_tokens_sum{{{labels}}} {gen}",
            f"vllm:request_generation_tokens_count{{{labels}}} {count}",
            "# TYPE vllm:request_time_per_output_token_seconds histogram",
            f"vllm:request_time_per_output_token_seconds_sum{{{labels}}} {tpot_sum}",
            f"vllm:request_time_per_output_token_seconds_count{{{labels}}} {count}",
            "# TYPE vllm:request_prefill_time_seconds histogram",
            f"vllm:request_prefill_time_seconds_sum{{{labels}}} {prefill_sum}",
            f"vllm:request_prefill_time_seconds_count{{{labels}}} {count}",
            "# TYPE vllm:request_decode_time_seconds histogram",
            f"vllm:request_decode_time_seconds_sum{{{labels}}} {decode_sum}",
            f"vllm:request_decode_time_seconds_count{{{labels}}} {count}",
            "# TYPE vllm:cache_config_info gauge",
            f'vllm:cache_config_info{{block_size="16",enable_prefix_caching="{prefix_caching}",'
            f'engine="0",num_gpu_blocks="30000",kv_cache_max_concurrency="120"}} 1.0',
        ]
    path.write_text("\n".join(out) + "\n")
    return {"idle": idle / scrapes, "tokens": gen, "busy_rate": rate_busy}


def requests_day(path: Path, *, seed: int = 1) -> float:
    """A day of OpenAI-style request logs: requests of 2–20 s, dense in office hours, sparse at
    night. Returns the true idle share of [first start, last end]."""
    rng = np.random.default_rng(seed)
    rows, spans = [], []
    t = 0.0
    while t < DAY_S:
        hour = t / 3600
        gap = rng.exponential(3.0 if 9 <= hour < 18 else 600.0)
        t += gap
        dur = float(rng.uniform(2, 20))
        spans.append((t, t + dur))
        rows.append(
            {
                "id": f"r{len(rows)}",
                "created": (START + timedelta(seconds=t)).timestamp(),
                "model": "llama",
                "usage": {"prompt_tokens": 900, "completion_tokens": 150},
                "latency_s": dur,
            }
        )
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    # union of busy spans, by hand
    busy = 0.0
    cur_s, cur_e = spans[0]
    for s, e in spans[1:]:
        if s > cur_e:
            busy += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    busy += cur_e - cur_s
    window = max(e for _, e in spans) - spans[0][0]
    return 1.0 - busy / window


@pytest.fixture(scope="module")
def gpu_day(tmp_path_factory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("gpu") / "smi.csv"
    return path, nvidia_smi_day(path)


@pytest.fixture(scope="module")
def engine_day(tmp_path_factory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("vllm") / "vllm.prom"
    return path, vllm_day(path)


@pytest.fixture(scope="module")
def engine_audit(engine_day, tmp_path_factory):  # type: ignore[no-untyped-def]
    path, _ = engine_day
    store = tmp_path_factory.mktemp("store") / "s.duckdb"
    return audit(
        [path],
        store=store,
        hardware="h100-sxm",
        model="llama-3.1-8b",
        price_per_hour=2.0,
        candidates=["h100-sxm", "h200", "a100-sxm-80gb"],
    )


# --- the acceptance figure: idle share within 1 percentage point ------------------------------------


def test_gpu_day_idle_share_within_one_point(gpu_day, tmp_path):  # type: ignore[no-untyped-def]
    path, truth = gpu_day
    report = audit([path], store=tmp_path / "s.duckdb")
    u = report.utilization
    assert u.source == "gpu" and u.gpus == 2
    assert abs(u.idle_share - truth) < 0.01  # type: ignore[operator]
    assert 0.3 < truth < 0.8  # the trace really has both busy and idle time
    assert u.idle_share + u.underused_share + u.busy_share == pytest.approx(1.0)  # type: ignore[operator]
    assert report.duration_s == pytest.approx(DAY_S, rel=0.01)


def test_engine_day_idle_share_within_one_point(engine_day, engine_audit):  # type: ignore[no-untyped-def]
    _, truth = engine_day
    u = engine_audit.utilization
    assert u.source == "engine"
    assert abs(u.idle_share - truth["idle"]) < 0.01  # type: ignore[operator]


def test_request_log_day_idle_share_within_one_point(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "requests.jsonl"
    truth = requests_day(path)
    report = audit([path], store=tmp_path / "s.duckdb")
    assert report.utilization.source == "requests"
    assert abs(report.utilization.idle_share - truth) < 0.01  # type: ignore[operator]


# --- throughput, capacity, money -------------------------------------------------------------------


def test_engine_throughput_and_lengths_come_from_the_counters(engine_day, engine_audit):  # type: ignore[no-untyped-def]
    _, truth = engine_day
    t = engine_audit.throughput
    assert t.output_tokens == pytest.approx(truth["tokens"])
    assert t.achieved_output_tps == pytest.approx(truth["tokens"] / (DAY_S - 300), rel=1e-6)
    assert t.achieved_output_tps_p95 == pytest.approx(truth["busy_rate"])
    assert (t.isl, t.osl) == (pytest.approx(1000), pytest.approx(200))
    assert t.observed_tpot_ms == pytest.approx(40.0)
    assert engine_audit.kv.capped_at == 64 and t.batch == 64


def test_capacity_is_the_models_steady_state_at_the_cap(engine_audit):  # type: ignore[no-untyped-def]
    rep = replica_model("llama-3.1-8b", "h100-sxm")
    expected = float(rep.steady(64, 1000, 200).output_tps)
    t = engine_audit.throughput
    assert t.attainable_output_tps_per_replica == pytest.approx(expected)
    assert t.capacity_utilization == pytest.approx(t.achieved_output_tps / expected)
    assert t.needed_replicas == pytest.approx(1500 / (expected * 0.8))


def test_money_by_hand(engine_day, engine_audit):  # type: ignore[no-untyped-def]
    _, truth = engine_day
    m, u = engine_audit.money, engine_audit.utilization
    spend = 2.0 * 1 * 730
    assert m.spend_usd_per_month == pytest.approx(spend)
    assert m.idle_usd_per_month == pytest.approx(spend * u.idle_share)
    cap_util = engine_audit.throughput.capacity_utilization
    assert m.wasted_usd_per_month == pytest.approx(spend * (1 - min(cap_util, 1.0)))
    # the spend over the window (first to last scrape) ÷ the tokens made in it
    window_months = engine_audit.duration_s / 3600 / 730
    assert m.usd_per_mtok_output_observed == pytest.approx(
        spend * window_months / truth["tokens"] * 1e6
    )


def test_engine_recommendations_are_ranked_and_quantified(engine_audit):  # type: ignore[no-untyped-def]
    recs = {r.kind: r for r in engine_audit.recommendations}
    shares = [r.savings_share for r in engine_audit.recommendations]
    assert shares == sorted(shares, reverse=True)
    # requests waited at 64 running with the KV cache half empty: raise max_num_seqs
    seqs = recs["max-num-seqs"]
    rep = replica_model("llama-3.1-8b", "h100-sxm")
    target = min(rep.max_sequences(1000, 200), rep.batch_limit)
    ratio = rep.attainable_tps(1000, 200, target) / rep.attainable_tps(1000, 200, 64)
    need = engine_audit.throughput.needed_replicas
    assert seqs.evidence["throughput_ratio"] == pytest.approx(ratio)
    assert seqs.savings_usd_per_month == pytest.approx(need * (1 - 1 / ratio) * 2.0 * 730)
    # prefix caching is off: an upper bound from the measured prefill share 0.3 / (0.3 + 8)
    prefix = recs["prefix-caching"]
    assert prefix.bound == "upper"
    assert prefix.evidence["prefill_share"] == pytest.approx(0.3 / 8.3)
    assert prefix.savings_share == pytest.approx(need * 0.3 / 8.3)
    # fp8 weights at the same cap of 64 sequences
    quant = recs["quantize"]
    fp8 = rep.with_weights("fp8")
    ratio8 = fp8.attainable_tps(1000, 200, 64) / rep.attainable_tps(1000, 200, 64)
    assert quant.evidence["format"] == "fp8"
    assert quant.evidence["throughput_ratio"] == pytest.approx(ratio8)
    assert quant.evidence["quality_source"]  # a published number, with its source
    # one replica: nothing to consolidate
    assert "consolidate" in engine_audit.skipped
    for r in engine_audit.recommendations:
        assert r.savings_usd_per_month is not None and r.savings_usd_per_month >= 0
        assert r.assumptions


def test_consolidation_in_whole_replicas(gpu_day, tmp_path):  # type: ignore[no-untyped-def]
    """Two GPUs whose summed p95 utilization needs fewer than one replica at 80 % → keep one."""
    path, _ = gpu_day
    report = audit(
        [path],
        store=tmp_path / "s.duckdb",
        hardware="h100-sxm",
        model="llama-3.1-8b",
        price_per_hour=3.0,
        gpus=8,
        replicas=8,
    )
    need = report.throughput.needed_replicas
    keep = max(1, math.ceil(need))
    rec = next(r for r in report.recommendations if r.kind == "consolidate")
    assert rec.savings_usd_per_month == pytest.approx((8 - keep) * 3.0 * 730)
    assert rec.savings_share == pytest.approx((8 - keep) / 8)


def test_prefix_caching_on_is_not_recommended(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "v.prom"
    vllm_day(path, prefix_caching=True)
    report = audit([path], store=tmp_path / "s.duckdb", hardware="h100-sxm", model="llama-3.1-8b")
    assert report.kv.prefix_caching_enabled is True
    assert "prefix-caching" in report.skipped
    assert all(r.kind != "prefix-caching" for r in report.recommendations)


def test_without_model_or_price_numbers_stay_unknown(engine_day, tmp_path):  # type: ignore[no-untyped-def]
    path, _ = engine_day
    report = audit([path], store=tmp_path / "s.duckdb")
    assert report.throughput.attainable_output_tps is None
    assert report.money.spend_usd_per_month is None
    assert any("--price-per-hour" in n for n in report.notes)
    assert report.utilization.idle_share is not None


def test_real_vllm_sample_single_scrape(tmp_path):  # type: ignore[no-untyped-def]
    """One scrape of a real vLLM 0.32 CPU server: no time series, but lengths and KV facts."""
    sample = Path(__file__).parents[1] / "ingest" / "data" / "vllm-0.32-cpu-metrics.txt"
    report = audit([sample], store=tmp_path / "s.duckdb")
    assert report.utilization.idle_share is None
    assert any("one scrape" in n or "too few samples" in n for n in report.notes)
    assert report.kv.prefix_caching_enabled is True
    assert report.kv.engine_capacity_tokens == 177280
    assert report.throughput.isl == pytest.approx(159 / 8)
    assert report.throughput.osl == pytest.approx(324 / 8)


def test_mig_for_a_small_load(tmp_path):  # type: ignore[no-untyped-def]
    """An 8B model on a whole H100 serving 150 output tokens/s: a MIG slice carries it."""
    path = tmp_path / "light.prom"
    lines = []
    gen = 0.0
    for i in range(100):
        when = (START + timedelta(seconds=60 * i)).isoformat()
        gen += 150 * 60 if i else 0.0
        lines += [
            f"# scrape at {when}",
            'vllm:num_requests_running{engine="0"} 2',
            'vllm:num_requests_waiting{engine="0"} 0',
            f'vllm:generation_tokens_total{{engine="0"}} {gen}',
        ]
    path.write_text("\n".join(lines) + "\n")
    report = audit(
        [path],
        store=tmp_path / "s.duckdb",
        hardware="h100-sxm",
        model="llama-3.1-8b",
        isl=500,
        osl=150,
        price_per_hour=3.0,
        weights="fp8",
    )
    mig = next(r for r in report.recommendations if r.kind == "mig")
    used = mig.evidence["gpu_share_used"]
    # fp8 weights (9.1 GB with the embeddings) + 2.1 GB reserve exceed 1g.10gb's 9.2 usable GB;
    # 1g.20gb holds them: 1 of 7 compute slices but 2 of 8 memory slices, so 1/4 of the GPU
    assert mig.evidence["profile"] == "1g.20gb" and mig.evidence["instances"] == 1
    assert used == pytest.approx(1 / 4)
    assert mig.savings_usd_per_month == pytest.approx((1 - used) * 3.0 * 730)
    assert mig.evidence["slice_output_tps"] * mig.evidence["instances"] * 0.8 >= 150


# --- pieces by hand ---------------------------------------------------------------------------------


def test_hold_times_by_hand() -> None:
    hold = U.hold_s(np.array([0.0, 10.0, 20.0, 30.0, 100.0, 110.0]))
    # median gap 10; the 70-second gap holds one median interval; the last sample holds one too
    assert hold.tolist() == [10.0, 10.0, 10.0, 10.0, 10.0, 10.0]


def test_request_in_flight_by_hand() -> None:
    reqs = Requests(
        start_s=np.array([0.0, 5.0, 20.0]),
        end_s=np.array([10.0, 8.0, 30.0]),
        prompt_tokens=np.zeros(3),
        completion_tokens=np.zeros(3),
        cached_tokens=np.full(3, np.nan),
    )
    shares = U.request_shares(reqs, capacity=None)
    # busy 0–10 and 20–30 of the window 0–30: idle 10 s of 30
    assert shares.idle == pytest.approx(10 / 30)
    loaded = U.request_shares(reqs, capacity=4, underused_below=0.5)
    # 2 in flight (5–8) is not below 0.5 × 4; 1 in flight (0–5, 8–10, 20–30) is
    assert loaded.underused == pytest.approx(17 / 30)


def test_counter_restart_counts_the_new_value() -> None:
    from infercost.audit.telemetry import Series

    _, _, rise = U.counter_deltas(Series(np.array([0.0, 1, 2, 3]), np.array([10.0, 30, 5, 15])))
    assert rise.tolist() == [20.0, 5.0, 10.0]


# --- report and CLI ---------------------------------------------------------------------------------


def test_cli_writes_offline_html_png_json_csv(engine_day, tmp_path):  # type: ignore[no-untyped-def]
    path, _ = engine_day
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        [
            "audit",
            str(path),
            "--store",
            str(tmp_path / "s.duckdb"),
            "-H",
            "h100-sxm",
            "--model",
            "llama-3.1-8b",
            "--price-per-hour",
            "2",
            "--candidates",
            "h200",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "idle share" in result.output and "raise max_num_seqs" in result.output
    page = (out / "report.html").read_text()
    assert "plotly" in page.lower() and "<script src=" not in page
    assert (out / "audit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((out / "audit.json").read_text())
    assert data["utilization"]["source"] == "engine"
    header = (out / "timeline.csv").read_text().splitlines()[0]
    assert header.startswith("time,") and "output_tps" in header


def test_cli_json_is_the_report(engine_day, tmp_path):  # type: ignore[no-untyped-def]
    path, truth = engine_day
    result = CliRunner().invoke(
        app, ["audit", str(path), "--store", str(tmp_path / "s.duckdb"), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert abs(data["utilization"]["idle_share"] - truth["idle"]) < 0.01


@pytest.mark.parametrize(
    ("content", "extra", "expect"),
    [
        (  # a malformed nvidia-smi row: file and line named
            "timestamp, index, utilization.gpu [%]\n2025/03/01 00:00:00.000, 0, 5 %\n"
            "2025/03/01 00:01:00.000, 0, lots %\n",
            [],
            "smi.csv:3",
        ),
        ("timestamp, index, utilization.gpu [%]\n", [], "to audit"),  # header only: nothing
        ("hello world\n", [], "kind"),  # not a known format
        (  # a price that is not one
            "timestamp, index, utilization.gpu [%]\n2025/03/01 00:00:00.000, 0, 5 %\n",
            ["--price-per-hour", "-1"],
            "price_per_hour",
        ),
        (  # hardware without a model
            "timestamp, index, utilization.gpu [%]\n2025/03/01 00:00:00.000, 0, 5 %\n",
            ["-H", "h100-sxm"],
            "model",
        ),
    ],
)
def test_malformed_input_is_one_line(tmp_path, content, extra, expect):  # type: ignore[no-untyped-def]
    path = tmp_path / "smi.csv"
    path.write_text(content)
    result = CliRunner().invoke(
        app, ["audit", str(path), "--store", str(tmp_path / "s.duckdb"), *extra]
    )
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "error:" in result.output
    assert expect in result.output


def test_malformed_prometheus_line_is_named(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.prom"
    path.write_text(
        'vllm:num_requests_running{engine="0"} 1\nvllm:num_requests_running{engine= 2\n'
    )
    with pytest.raises(InfercostError, match=r"bad\.prom:2"):
        audit([path], store=tmp_path / "s.duckdb")


def test_missing_file_and_unreachable_scrape_are_one_line(tmp_path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    missing = runner.invoke(
        app, ["audit", str(tmp_path / "nope.csv"), "--store", str(tmp_path / "s")]
    )
    assert missing.exit_code == 2 and missing.output.count("\n") == 1
    dead = runner.invoke(
        app,
        ["audit", "--scrape", "http://127.0.0.1:9/metrics", "--for", "1s", "--every", "1s",
         "--store", str(tmp_path / "s.duckdb")],
    )  # fmt: skip
    assert dead.exit_code == 2 and dead.output.count("\n") == 1
    assert "reachable" in dead.output


def test_audit_only_reads_the_files_given(gpu_day, engine_day, tmp_path):  # type: ignore[no-untyped-def]
    store = tmp_path / "s.duckdb"
    gpu_path, _ = gpu_day
    engine_path, truth = engine_day
    audit([gpu_path], store=store)
    second = audit([engine_path], store=store)  # the GPU file is in the store but not audited
    assert second.utilization.source == "engine"
    assert abs(second.utilization.idle_share - truth["idle"]) < 0.01  # type: ignore[operator]
    everything = audit([], store=store)  # no files: the whole store
    assert everything.utilization.source == "gpu"
    assert len(everything.files) == 2
