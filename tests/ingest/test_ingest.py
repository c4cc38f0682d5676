"""Ingest readers, the DuckDB store, scraping and the CLI, on the sample files in tests/ingest/data."""

from __future__ import annotations

import json
import math
import shutil
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from infercost.commands.ingest import parse_duration_s, register
from infercost.errors import InfercostError
from infercost.ingest import (
    Store,
    detect_kind,
    ingest,
    nvidia_smi,
    prometheus,
    request_logs,
    scrape,
)

DATA = Path(__file__).parent / "data"
VLLM = DATA / "vllm-0.32-cpu-metrics.txt"
MIB = 1048576


def read(name: str) -> str:
    return (DATA / name).read_text()


# --- readers -----------------------------------------------------------------------------------


def test_nvidia_smi_first_row_in_si_units() -> None:
    parsed = nvidia_smi.parse(DATA / "nvidia-smi.csv", read("nvidia-smi.csv"))
    assert len(parsed.gpu) == 60
    first = parsed.gpu[0]
    assert first.gpu_index == 0
    assert first.gpu_uuid == "GPU-3f1c9a2e-7b4d-4e1a-9c0b-5d2e8f6a1b01"
    assert first.utilization == pytest.approx(0.45)
    assert first.memory_utilization == pytest.approx(0.21)
    assert first.memory_used_bytes == 40230 * MIB
    assert first.memory_total_bytes == 81559 * MIB
    assert first.power_w == pytest.approx(312.45)
    assert first.time_s == datetime.fromisoformat("2025-03-04T12:00:00.100+00:00").timestamp()
    assert {r.gpu_index for r in parsed.gpu} == {0, 1}
    # the one [N/A] power reading is null, not zero
    missing = [r for r in parsed.gpu if r.power_w is None]
    assert len(missing) == 1 and missing[0].gpu_index == 1
    assert any("temperature.gpu" in n for n in parsed.notes)


def test_nvidia_smi_nounits_format() -> None:
    text = "timestamp, index, utilization.gpu, memory.used, power.draw\n2025/01/01 00:00:00.000, 3, 7, 2, 10.5\n"
    (row,) = nvidia_smi.parse(Path("x.csv"), text).gpu
    assert row.gpu_index == 3
    assert row.utilization == pytest.approx(0.07)
    assert row.memory_used_bytes == 2 * MIB
    assert row.power_w == 10.5


def test_dcgm_two_scrapes_and_mig() -> None:
    parsed = prometheus.parse(DATA / "dcgm.prom", read("dcgm.prom"), mtime_s=0.0)
    assert parsed.engine == "dcgm" and not parsed.time_from_mtime
    assert len(parsed.gpu) == 4  # 2 GPUs x 2 scrapes
    t0 = datetime.fromisoformat("2025-03-04T12:00:00+00:00").timestamp()
    assert sorted({r.time_s for r in parsed.gpu}) == [t0, t0 + 15]
    full = next(r for r in parsed.gpu if r.gpu_index == 0 and r.time_s == t0)
    assert full.utilization == pytest.approx(0.87)
    assert full.sm_active == pytest.approx(0.734512)
    assert full.tensor_active == pytest.approx(0.301234)
    assert full.dram_active == pytest.approx(0.5512)
    assert full.memory_used_bytes == 41655 * MIB
    assert full.memory_total_bytes == (41655 + 39422) * MIB
    assert full.power_w == pytest.approx(612.381)
    assert full.host == "node-a" and full.mig_instance is None
    mig = next(r for r in parsed.gpu if r.gpu_index == 1 and r.time_s == t0 + 15)
    assert (mig.mig_profile, mig.mig_instance) == ("3g.40gb", 1)
    assert mig.utilization is None  # DCGM_FI_DEV_GPU_UTIL is not reported for MIG instances
    assert mig.gr_engine_active == pytest.approx(0.402)
    assert mig.sm_active == pytest.approx(0.2988)
    # raw DCGM fields are kept too
    assert len(parsed.engine_samples) == 28


def test_vllm_sample() -> None:
    parsed = prometheus.parse(VLLM, VLLM.read_text(), mtime_s=1_700_000_000.0)
    assert parsed.engine == "vllm"
    assert parsed.time_from_mtime and all(
        r.time_s == 1_700_000_000.0 for r in parsed.engine_samples
    )

    def value(metric: str, **labels: str) -> float | None:
        hits = [
            r.value
            for r in parsed.engine_samples
            if r.metric == metric and labels.items() <= json.loads(r.labels).items()
        ]
        assert len(hits) == 1, (metric, hits)
        return hits[0]

    assert value("vllm:num_requests_running") == 0.0
    assert value("vllm:prompt_tokens_total") == 159.0
    assert value("vllm:generation_tokens_total") == 324.0
    assert value("vllm:prefix_cache_queries_total") == 159.0
    assert value("vllm:request_success_total", finished_reason="length") == 8.0
    assert value("vllm:time_to_first_token_seconds_count") == 8.0
    assert value("vllm:inter_token_latency_seconds_count") == 316.0
    assert value("vllm:e2e_request_latency_seconds_sum") == pytest.approx(24.89084815979004)
    ttft = sorted(
        (b.le, b.cumulative_count)
        for b in parsed.buckets
        if b.metric == "vllm:time_to_first_token_seconds"
    )
    assert ttft[0] == (0.001, 0.0)
    assert (0.1, 2.0) in ttft
    assert ttft[-1] == (math.inf, 8.0)  # the +Inf bucket equals the histogram's count
    assert not any(r.metric.endswith("_bucket") for r in parsed.engine_samples)
    kinds = {r.metric: r.type for r in parsed.engine_samples}
    assert kinds["vllm:num_requests_running"] == "gauge"
    assert kinds["vllm:time_to_first_token_seconds_count"] == "histogram"


def test_sglang_sample() -> None:
    parsed = prometheus.parse(DATA / "sglang.prom", read("sglang.prom"), mtime_s=5.0)
    assert parsed.engine == "sglang"
    values = {r.metric: r.value for r in parsed.engine_samples}
    assert values["sglang:num_running_reqs"] == 28.0
    assert values["sglang:token_usage"] == pytest.approx(0.28)
    assert values["sglang:time_to_first_token_seconds_count"] == 7.0
    ttft = [b for b in parsed.buckets if b.metric == "sglang:time_to_first_token_seconds"]
    assert len(ttft) == 21 and max(b.le for b in ttft) == math.inf
    assert json.loads(ttft[0].labels) == {"model_name": "meta-llama/Llama-3.1-8B-Instruct"}


def test_openai_jsonl() -> None:
    parsed = request_logs.parse(DATA / "requests.jsonl", read("requests.jsonl"), "openai-jsonl")
    assert len(parsed.requests) == 12
    first, second = parsed.requests[:2]
    assert first.start_time_s == 1741089600
    assert first.end_time_s == pytest.approx(1741089603.4)
    assert (first.model, first.prompt_tokens, first.completion_tokens) == (
        "llama-3.1-8b-instruct",
        1200,
        256,
    )
    assert first.cached_tokens == 512
    assert first.request_id == "chatcmpl-0000"
    assert second.end_time_s is None and second.cached_tokens is None


def test_litellm_spend_json() -> None:
    parsed = request_logs.parse(DATA / "litellm-spend.json", read("litellm-spend.json"), "litellm")
    assert len(parsed.requests) == 6
    first = parsed.requests[0]
    start = datetime.fromisoformat("2025-03-04T12:00:10.125+00:00").timestamp()
    assert first.start_time_s == pytest.approx(start)
    assert first.end_time_s == pytest.approx(start + 3.75)
    assert first.first_token_time_s == pytest.approx(start + 0.405)
    assert (first.prompt_tokens, first.completion_tokens, first.cached_tokens) == (1000, 200, 384)
    assert first.cost_usd == pytest.approx(0.00045)
    assert first.model == "gpt-4o-mini"


def test_litellm_csv(tmp_path: Path) -> None:
    path = tmp_path / "spend.csv"
    path.write_text(
        "request_id,startTime,endTime,model,prompt_tokens,completion_tokens,spend\n"
        "r1,2025-03-04 12:00:00.000+00,2025-03-04 12:00:02.500+00,gpt-4o,10,5,0.001\n"
    )
    assert detect_kind(path, path.read_text()) == "litellm"
    (row,) = request_logs.parse(path, path.read_text(), "litellm").requests
    assert row.end_time_s is not None and row.end_time_s - row.start_time_s == pytest.approx(2.5)
    assert (row.prompt_tokens, row.completion_tokens, row.cost_usd) == (10, 5, 0.001)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("nvidia-smi.csv", "nvidia-smi"),
        ("dcgm.prom", "prometheus"),
        ("sglang.prom", "prometheus"),
        ("vllm-0.32-cpu-metrics.txt", "prometheus"),
        ("requests.jsonl", "openai-jsonl"),
        ("litellm-spend.json", "litellm"),
    ],
)
def test_detect_kind(name: str, kind: str) -> None:
    assert detect_kind(DATA / name, read(name)) == kind


# --- malformed input: one line, with the line number ------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "line", "replacement"),
    [
        ("nvidia-smi.csv", "nvidia-smi", 5, "2025/03/04 12:00:01.107, 1, oops"),
        ("nvidia-smi.csv", "nvidia-smi", 6, None),  # a non-numeric utilization
        ("dcgm.prom", "prometheus", 4, 'DCGM_FI_DEV_GPU_UTIL{gpu="0" 87'),
        ("vllm-0.32-cpu-metrics.txt", "prometheus", 57, "vllm:num_requests_running{} zero"),
        ("requests.jsonl", "openai-jsonl", 3, '{"created": 1, "model": "m", "usage": '),
        ("requests.jsonl", "openai-jsonl", 2, '{"created": 1, "model": "m", "usage": {}}'),
        ("litellm-spend.json", "litellm", 0, None),  # missing startTime in the 2nd record
    ],
)
def test_malformed_line_names_file_and_line(
    tmp_path: Path, name: str, kind: str, line: int, replacement: str | None
) -> None:
    lines = read(name).splitlines()
    if name == "litellm-spend.json":
        rows = json.loads(read(name))
        del rows[1]["startTime"]
        text = json.dumps(rows, indent=2)
        line = text.splitlines().index("  {", 2) + 1  # where the 2nd record starts
    else:
        if replacement is None:
            replacement = lines[line - 1].replace(" %,", " lots %,", 1)
        lines[line - 1] = replacement
        text = "\n".join(lines) + "\n"
    bad = tmp_path / name
    bad.write_text(text)
    store = tmp_path / "store.duckdb"
    with pytest.raises(InfercostError) as err:
        ingest([bad], store, kind=kind)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{bad}:{line}:"), message
    with Store(store) as s:  # nothing from the bad file was kept
        assert s.count("ingested_files") == 0
        assert s.count("gpu_samples") + s.count("engine_samples") + s.count("requests") == 0


# --- the store ---------------------------------------------------------------------------------


def test_store_time_ranges_and_reingest(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    files = [
        DATA / n for n in ("nvidia-smi.csv", "dcgm.prom", "requests.jsonl", "litellm-spend.json")
    ]
    first = ingest(files, store)
    assert all(f.added for f in first.files)
    assert first.rows_added == 60 + (4 + 28) + 12 + 6
    with Store(store) as s:
        ranges = {
            Path(p).name: (kind, rows, start, end)
            for p, kind, rows, start, end in s.con.execute(
                "SELECT path, kind, rows, start_time, end_time FROM ingested_files"
            ).fetchall()
        }
        counts = {t: s.count(t) for t in ("gpu_samples", "engine_samples", "requests")}
        used = s.con.execute(
            "SELECT memory_used_bytes FROM gpu_samples WHERE source LIKE '%nvidia-smi.csv' "
            "ORDER BY time, gpu_index LIMIT 1"
        ).fetchone()
    assert used == (40230 * MIB,)
    assert ranges["nvidia-smi.csv"] == (
        "nvidia-smi",
        60,
        datetime(2025, 3, 4, 12, 0, 0, 100000),
        datetime(2025, 3, 4, 12, 0, 29, 107000),
    )
    assert ranges["dcgm.prom"][2:] == (datetime(2025, 3, 4, 12, 0), datetime(2025, 3, 4, 12, 0, 15))
    assert ranges["requests.jsonl"][2:] == (
        datetime(2025, 3, 4, 12, 0),
        datetime(2025, 3, 4, 12, 0, 55),
    )

    # the same bytes again — even under another name — add nothing
    copy = tmp_path / "renamed.csv"
    shutil.copy(DATA / "nvidia-smi.csv", copy)
    again = ingest([*files, copy], store)
    assert not any(f.added for f in again.files) and again.rows_added == 0
    assert "already ingested" in again.files[-1].notes[0]
    with Store(store) as s:
        assert {t: s.count(t) for t in counts} == counts
        assert s.count("ingested_files") == 4


def test_mtime_used_for_timeless_scrape(tmp_path: Path) -> None:
    report = ingest([VLLM], tmp_path / "s.duckdb")
    (f,) = report.files
    assert f.time_from_mtime and f.engine == "vllm"
    assert f.start_time == f.end_time
    assert f.rows["histogram_buckets"] > 0 and f.rows["engine_samples"] > 0


def test_bad_kind_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InfercostError, match="kind"):
        ingest([VLLM], tmp_path / "s.duckdb", kind="csv")
    with pytest.raises(InfercostError, match="existing"):
        ingest([tmp_path / "nope.csv"], tmp_path / "s.duckdb")


# --- scraping a live endpoint -----------------------------------------------------------------


@pytest.fixture
def metrics_url() -> Iterator[str]:
    body = VLLM.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def test_scrape_two_times(tmp_path: Path, metrics_url: str) -> None:
    saved = tmp_path / "scrape.prom"
    report = scrape(
        metrics_url, tmp_path / "s.duckdb", duration_s=0.2, interval_s=0.1, save_to=saved
    )
    text = saved.read_text()
    assert text.count(prometheus.SCRAPE_MARKER) == 2
    (f,) = report.files
    assert f.added and not f.time_from_mtime and f.engine == "vllm"
    assert f.start_time is not None and f.end_time is not None and f.end_time > f.start_time
    with Store(tmp_path / "s.duckdb") as s:
        running = s.con.execute(
            "SELECT count(DISTINCT time), count(*) FROM engine_samples "
            "WHERE metric = 'vllm:num_requests_running'"
        ).fetchone()
    assert running == (2, 2)


def test_scrape_unreachable(tmp_path: Path) -> None:
    with pytest.raises(InfercostError, match="reachable"):
        scrape("http://127.0.0.1:9/metrics", tmp_path / "s.duckdb", duration_s=1, interval_s=1)


# --- CLI -----------------------------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_cli_ingest_json_then_again(cli: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    store = tmp_path / "store.duckdb"
    args = [
        "ingest",
        str(DATA / "nvidia-smi.csv"),
        str(DATA / "sglang.prom"),
        "--store",
        str(store),
    ]
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rows_added"] == 60 + 11 + 30
    assert [f["kind"] for f in data["files"]] == ["nvidia-smi", "prometheus"]
    again = runner.invoke(cli, args)
    assert again.exit_code == 0 and "already ingested" in again.stdout


def test_cli_errors_are_one_line(cli: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"created": 1, "model": "m", "usage": {"prompt_tokens": 1, "completion_tokens": 2}}\nnot json\n'
    )
    result = CliRunner().invoke(cli, ["ingest", str(bad), "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2
    assert f"{bad}:2" in result.output and "Traceback" not in result.output


def test_cli_scrape(cli: typer.Typer, tmp_path: Path, metrics_url: str) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "scrape",
            metrics_url,
            "--for",
            "200ms",
            "--every",
            "100ms",
            "--store",
            str(tmp_path / "s.duckdb"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    (f,) = json.loads(result.stdout)["files"]
    assert f["engine"] == "vllm" and f["rows"]["engine_samples"] == 2 * 154
    assert list((tmp_path / "scrapes").glob("scrape-*.prom"))


def test_parse_duration() -> None:
    assert parse_duration_s("--for", "10m") == 600
    assert parse_duration_s("--every", "15s") == 15
    assert parse_duration_s("--every", "250ms") == 0.25
    assert parse_duration_s("--for", "2") == 2
    with pytest.raises(InfercostError, match="--for"):
        parse_duration_s("--for", "ten minutes")
