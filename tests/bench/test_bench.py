"""The load generator against a fake OpenAI-compatible streaming server with known delays."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from pydantic import ValidationError
from typer.testing import CliRunner

from infercost.bench import BenchConfig, LevelSummary, SaturationRule, import_result, run_bench
from infercost.bench.client import RequestRecord
from infercost.bench.prompts import approx_tokens, conversation, synthetic_text
from infercost.bench.runner import arrival_offsets, saturation_reason, summarize_level
from infercost.commands.bench import register
from infercost.errors import InfercostError

DATA = Path(__file__).parent / "data"


class FakeServer:
    """Streams `max_tokens` one-word chunks: the first `ttft_s` after a capacity slot frees up,
    then one every `itl_s`. Every `fail_every`-th request gets an instant HTTP 500."""

    def __init__(
        self,
        *,
        ttft_s: float = 0.05,
        itl_s: float = 0.01,
        capacity: int = 64,
        fail_every: int = 0,
        usage: bool = True,
        usage_factor: int = 1,
        usage_prompt_tokens: int | None = None,
    ) -> None:
        self.ttft_s, self.itl_s, self.capacity = ttft_s, itl_s, capacity
        self.fail_every, self.usage, self.usage_factor = fail_every, usage, usage_factor
        self.usage_prompt_tokens = usage_prompt_tokens
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._count = itertools.count()
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._slots = asyncio.Semaphore(self.capacity)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        lines = head.split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
        body = json.loads(await reader.readexactly(int(headers["content-length"])))
        self.paths.append(lines[0].split()[1])
        self.bodies.append(body)
        index = next(self._count)
        if self.fail_every and index % self.fail_every == self.fail_every - 1:
            writer.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n")
            writer.write(b"Connection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        chat = "messages" in body
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n")
        writer.write(b"Connection: close\r\n\r\n")
        await writer.drain()

        async def send(chunk: dict[str, Any] | str) -> None:
            data = chunk if isinstance(chunk, str) else json.dumps(chunk)
            writer.write(f"data: {data}\n\n".encode())
            await writer.drain()

        async with self._slots:
            if chat:  # the role-only chunk carries no content and is not a token
                await send(
                    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
                )
            await asyncio.sleep(self.ttft_s)
            n = int(body["max_tokens"])
            for i in range(n):
                if i:
                    await asyncio.sleep(self.itl_s)
                word = f" w{i}"
                choice = (
                    {"index": 0, "delta": {"content": word}} if chat else {"index": 0, "text": word}
                )
                await send({"choices": [choice], "usage": None})
        if self.usage and body.get("stream_options", {}).get("include_usage"):
            prompt = self.usage_prompt_tokens or 7
            await send(
                {
                    "choices": [],
                    "usage": {
                        "prompt_tokens": prompt,
                        "completion_tokens": n * self.usage_factor,
                        "total_tokens": prompt + n * self.usage_factor,
                    },
                }
            )
        await send("[DONE]")
        writer.close()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as s:
        yield s


def config(url: str, **kw: Any) -> BenchConfig:
    base: dict[str, Any] = {
        "url": url,
        "model": "fake",
        "levels": (1,),
        "requests_per_level": 5,
        "prompt_tokens": 32,
        "output_tokens": 8,
        "timeout_s": 10,
    }
    return BenchConfig.model_validate(base | kw)


# --- measuring a live server --------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_measures_the_known_delays(server: FakeServer, endpoint: str) -> None:
    result = run_bench(config(server.url, endpoint=endpoint))
    (level,) = result.levels
    assert (level.completed, level.failed) == (5, 0)
    assert level.output_tokens_mean == 8  # usage honoured, equals the chunks sent
    assert level.ttft_ms_p50 is not None and 48 <= level.ttft_ms_p50 <= 80
    assert level.itl_ms_p50 is not None and 8 <= level.itl_ms_p50 <= 16
    assert level.tpot_ms_p50 is not None and 8 <= level.tpot_ms_p50 <= 16
    # E2E = TTFT + 7 gaps of 10 ms
    assert level.e2e_ms_p50 is not None and 115 <= level.e2e_ms_p50 <= 170
    assert level.output_tps is not None and level.output_tps > 0
    expected = "/v1/chat/completions" if endpoint == "chat" else "/v1/completions"
    assert set(server.paths) == {expected}
    key = "messages" if endpoint == "chat" else "prompt"
    assert all(
        key in b and b["stream"] and b["stream_options"]["include_usage"] for b in server.bodies
    )


def test_usage_tokens_are_honoured_over_counted_chunks() -> None:
    with FakeServer(usage_factor=2, usage_prompt_tokens=321) as s:
        (level,) = run_bench(config(s.url, requests_per_level=3)).levels
    assert level.output_tokens_mean == 16
    assert level.prompt_tokens_mean == 321
    # TPOT divides the same E2E − TTFT (7 gaps of 10 ms) by 15 tokens, not 7
    assert level.tpot_ms_p50 is not None and 3.5 <= level.tpot_ms_p50 <= 7.5


def test_without_usage_the_chunks_and_the_prompt_estimate_count() -> None:
    with FakeServer(usage=False) as s:
        (level,) = run_bench(config(s.url, requests_per_level=3)).levels
    assert level.output_tokens_mean == 8
    assert level.prompt_tokens_mean == 32


def test_failures_are_counted_apart_and_kept_out_of_latencies() -> None:
    with FakeServer(fail_every=3) as s:
        result = run_bench(config(s.url, requests_per_level=9, max_error_rate=1.0))
    (level,) = result.levels
    assert (level.requests, level.completed, level.failed) == (9, 6, 3)
    assert level.failure_reasons == {"HTTP 500": 3}
    assert level.error_rate == pytest.approx(1 / 3)
    # the instant 500s would pull TTFT towards 0 if they were counted
    assert level.ttft_ms_p50 is not None and level.ttft_ms_p50 >= 48
    assert level.output_tokens_mean == 8


def _record(sent: float, times: tuple[float, ...], error: str | None = None) -> RequestRecord:
    return RequestRecord(sent, times, times[-1] if times else sent, 10, len(times), False, error)


def test_summary_uses_the_canonical_definitions_on_completed_requests_only() -> None:
    records = [
        _record(0.0, (0.1, 0.12, 0.14, 0.16)),  # TTFT 100, E2E 160, TPOT 20, gaps 20
        _record(0.0, (0.3, 0.31, 0.32)),  # TTFT 300, E2E 320, TPOT 10, gaps 10
        _record(0.0, (5.0, 9.0), error="timeout"),  # would dominate every figure
        _record(0.0, (), error="HTTP 503"),
    ]
    s = summarize_level(records, "concurrency", 2)
    assert (s.requests, s.completed, s.failed, s.error_rate) == (4, 2, 2, 0.5)
    assert s.failure_reasons == {"timeout": 1, "HTTP 503": 1}
    assert s.ttft_ms_mean == pytest.approx(200)
    assert s.ttft_ms_p50 == pytest.approx(200)
    assert s.e2e_ms_p99 == pytest.approx(160 + 0.99 * 160)
    assert s.tpot_ms_mean == pytest.approx(15)
    assert s.itl_ms_mean == pytest.approx((3 * 20 + 2 * 10) / 5)
    assert s.itl_ms_p99 == pytest.approx(20)
    # 7 output tokens over first send (0) → last token of a completed request (0.32 s)
    assert s.output_tps == pytest.approx(7 / 0.32)


def test_sweep_stops_at_saturation() -> None:
    # A closed loop pays a few ms of client overhead between requests that queued requests do
    # not, so past saturation throughput still creeps up by some per cent here: the live check
    # uses a 15 % threshold; the default 5 % rule is checked by hand below.
    rule = SaturationRule(min_throughput_gain=0.15)
    # delays long against client and scheduler jitter, so a busy machine does not blur the knee
    with FakeServer(ttft_s=0.08, itl_s=0.015, capacity=2) as s:
        result = run_bench(
            config(
                s.url, levels=(1, 2, 4, 8), requests_per_level=8, output_tokens=10, saturation=rule
            )
        )
    assert [lv.level for lv in result.levels] == [1, 2, 4]
    assert result.stopped_reason is not None and "saturated at level 4" in result.stopped_reason
    one, two, four = result.levels
    assert two.output_tps is not None and one.output_tps is not None
    assert two.output_tps > 1.6 * one.output_tps  # two slots: twice the throughput
    assert four.ttft_ms_p99 is not None and two.ttft_ms_p99 is not None
    assert four.ttft_ms_p99 > 2 * two.ttft_ms_p99  # queueing for a slot


def _level(level: float, tps: float, ttft_p99: float, failed: int = 0) -> LevelSummary:
    return LevelSummary(
        mode="concurrency",
        level=level,
        requests=100,
        completed=100 - failed,
        failed=failed,
        error_rate=failed / 100,
        output_tps=tps,
        ttft_ms_p99=ttft_p99,
    )


def test_the_default_saturation_rule() -> None:
    rule = SaturationRule()
    prev = _level(8, 1000, 100)
    assert saturation_reason(None, _level(1, 100, 50), rule, 0.1) is None
    assert saturation_reason(prev, _level(16, 1040, 200), rule, 0.1) is not None  # +4 %, ×2
    assert saturation_reason(prev, _level(16, 1060, 250), rule, 0.1) is None  # still +6 %
    assert saturation_reason(prev, _level(16, 1000, 190), rule, 0.1) is None  # TTFT ×1.9
    reason = saturation_reason(prev, _level(16, 2000, 100, failed=11), rule, 0.1)
    assert reason is not None and "error rate 11.0%" in reason


def test_sweep_stops_when_the_error_rate_is_too_high() -> None:
    with FakeServer(fail_every=2, ttft_s=0.001, itl_s=0.001) as s:
        result = run_bench(config(s.url, levels=(1, 2), requests_per_level=4, max_error_rate=0.2))
    assert len(result.levels) == 1
    assert result.stopped_reason is not None and "error rate 50.0%" in result.stopped_reason


def test_arrival_processes_have_the_asked_mean_rate() -> None:
    poisson = np.fromiter(itertools.islice(arrival_offsets("poisson", 20.0, 7), 20001), float)
    gaps = np.diff(poisson)
    assert gaps.mean() == pytest.approx(1 / 20, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.05)  # exponential gaps
    constant = np.fromiter(itertools.islice(arrival_offsets("rate", 20.0, 7), 5), float)
    assert constant == pytest.approx([0, 0.05, 0.1, 0.15, 0.2])


def test_poisson_mode_sends_at_the_asked_rate() -> None:
    with FakeServer(ttft_s=0.001, itl_s=0.001) as s:
        result = run_bench(
            config(s.url, mode="poisson", levels=(40,), requests_per_level=60, output_tokens=2)
        )
    (level,) = result.levels
    planned = list(itertools.islice(arrival_offsets("poisson", 40.0, 0, 0), 60))
    planned_rate = 59 / planned[-1]
    assert level.offered_rps == pytest.approx(planned_rate, rel=0.1)
    assert planned_rate == pytest.approx(40, rel=0.35)
    assert level.completed == 60


def test_multi_turn_conversations_grow_and_share_the_prefix() -> None:
    with FakeServer(ttft_s=0.001, itl_s=0.001) as s:
        run_bench(
            config(s.url, turns=3, requests_per_level=6, shared_prefix_tokens=12, levels=(2,))
        )
        prompts = [b["prompt"] for b in s.bodies]
    assert len(prompts) == 6
    lengths = sorted(approx_tokens(p) for p in prompts)
    # two conversations; each turn adds 32 prompt tokens and the 8-token answer before it
    assert lengths == [32, 32, 72, 72, 112, 112]
    prefix = conversation(config("http://x", shared_prefix_tokens=12), 0).system
    assert approx_tokens(prefix) == 12
    assert all(p.startswith(prefix) for p in prompts)
    by_length = {approx_tokens(p): p for p in prompts}
    firsts = [p for p in prompts if approx_tokens(p) == 32]
    assert firsts[0] != firsts[1]
    assert any(by_length[112].startswith(p) for p in prompts if approx_tokens(p) == 72)


# --- prompts -------------------------------------------------------------------------------


@pytest.mark.parametrize("tokens", [1, 5, 11, 12, 13, 100, 512, 4096])
def test_prompts_hit_their_target_under_the_approximation(tokens: int) -> None:
    text = synthetic_text(tokens, np.random.default_rng(0))
    assert approx_tokens(text) == tokens


def test_prompts_are_deterministic_for_a_seed_and_differ_across_requests() -> None:
    cfg = config("http://x", prompt_tokens=200, shared_prefix_tokens=50, seed=3)
    a, b = conversation(cfg, 0), conversation(cfg, 1)
    assert a.system == b.system and approx_tokens(a.system) == 50
    assert a.first_user != b.first_user
    assert approx_tokens(a.prompt(a.first_user)) == 200
    assert conversation(cfg, 0).first_user == a.first_user
    other = conversation(cfg.model_copy(update={"seed": 4}), 0)
    assert other.first_user != a.first_user
    msgs = a.messages(a.first_user)
    assert msgs[0] == {"role": "system", "content": a.system}
    assert msgs[1]["role"] == "user"


def test_config_refuses_mistakes_by_name() -> None:
    with pytest.raises(ValidationError, match="shared_prefix_tokens"):
        config("http://x", shared_prefix_tokens=32)
    with pytest.raises(ValidationError, match="levels"):
        config("http://x", levels=(1.5,))
    with pytest.raises(ValidationError, match="url"):
        config("localhost:8000")


# --- importers -----------------------------------------------------------------------------


def test_vllm_result_with_per_request_arrays() -> None:
    result = import_result(DATA / "vllm_serve_result.json")
    assert result.source == "vllm" and result.model == "meta-llama/Llama-3.1-8B-Instruct"
    (lv,) = result.levels
    assert (lv.mode, lv.level) == ("concurrency", 2)
    assert (lv.requests, lv.completed, lv.failed) == (3, 2, 1)
    assert lv.failure_reasons == {"TimeoutError": 1}
    # request 1: TTFT 100, gaps 10/20/30, E2E 160, TPOT 60/3; request 2: TTFT 200, E2E 240, TPOT 20
    assert lv.ttft_ms_p50 == pytest.approx(150)
    assert lv.e2e_ms_mean == pytest.approx(200)
    assert lv.tpot_ms_mean == pytest.approx(20)
    assert lv.itl_ms_p50 == pytest.approx(20)
    assert lv.itl_ms_mean == pytest.approx(20)
    assert lv.prompt_tokens_mean == pytest.approx(15)
    assert lv.output_tokens_mean == pytest.approx(3.5)
    assert (lv.output_tps, lv.requests_per_s, lv.duration_s) == (3.5, 1.0, 2.0)


def test_vllm_summary_only_json_lines() -> None:
    result = import_result(DATA / "vllm_rate_sweep.jsonl")
    first, second = result.levels
    assert (first.mode, first.level, first.completed, first.failed) == ("poisson", 4.0, 100, 0)
    assert (first.ttft_ms_mean, first.ttft_ms_p50, first.ttft_ms_p90, first.ttft_ms_p99) == (
        80,
        75,
        120,
        150,
    )
    assert (first.itl_ms_p50, first.itl_ms_p99, first.e2e_ms_p50) == (18, 45, 2500)
    assert first.tpot_ms_p90 is None  # not in the file: unknown, not guessed
    assert first.prompt_tokens_mean == 512 and first.output_tokens_mean == 128
    assert first.input_tps == pytest.approx(51200 / 25)
    assert (second.mode, second.level, second.failed) == ("burst", None, 2)
    assert second.error_rate == pytest.approx(0.02)


def test_guidellm_report() -> None:
    result = import_result(DATA / "guidellm_report.json")
    assert result.source == "guidellm"
    a, b = result.levels
    assert (a.mode, a.level, a.completed, a.failed, a.duration_s) == ("concurrency", 4, 48, 2, 20)
    assert (a.ttft_ms_mean, a.ttft_ms_p50, a.ttft_ms_p90, a.ttft_ms_p99) == (60, 55, 90, 120)
    # GuideLLM's inter_token_latency_ms is our TPOT; its per-gap ITL is not in the report
    assert (a.tpot_ms_p50, a.tpot_ms_p99) == (11, 20)
    assert a.itl_ms_p50 is None
    assert (a.e2e_ms_p50, a.e2e_ms_p90, a.e2e_ms_p99) == pytest.approx((1500, 2000, 2500))
    assert (a.requests_per_s, a.output_tps, a.prompt_tokens_mean) == (2.5, 320, 512)
    assert (b.mode, b.level, b.completed, b.failed, b.duration_s) == ("rate", 8, 20, 1, 10)
    assert b.ttft_ms_p50 == 38 and b.output_tps is None


def test_bench_result_round_trips_through_its_json(tmp_path: Path) -> None:
    original = import_result(DATA / "guidellm_report.json")
    raw = original.to_json() | {"source": "infercost"}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(raw))
    assert import_result(path).levels == original.levels


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("{not json", "file"),
        ('{"benchmarks": []}', "benchmarks"),
        ('{"benchmarks": [{"no": "metrics"}]}', "benchmarks[0]"),
        ('{"completed": -1}', "completed"),
        ('{"hello": 1}', "file"),
        ('{"completed": 1, "ttfts": [0.1], "itls": [], "output_lens": [1]}', "ttfts"),
    ],
)
def test_malformed_files_raise_one_line_errors(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InfercostError) as err:
        import_result(path)
    assert err.value.field.startswith(field) or field in str(err.value)
    assert "\n" not in str(err.value)


# --- command line --------------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps `bench` a named sub-command
        pass

    return app


def test_cli_runs_a_sweep_and_imports(server: FakeServer, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "bench.json"
    args = ["bench", server.url, "--model", "fake", "--levels", "1,2", "--requests", "3"]
    res = runner.invoke(_app(), [*args, "--isl", "16", "--osl", "4", "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [lv["level"] for lv in data["levels"]] == [1, 2]
    assert json.loads(out.read_text()) == data
    table = runner.invoke(_app(), ["bench", "--import", str(DATA / "guidellm_report.json")])
    assert table.exit_code == 0 and "TTFT" in table.stdout
    bad = runner.invoke(_app(), ["bench", server.url])
    assert bad.exit_code == 2 and "--model" in bad.output
