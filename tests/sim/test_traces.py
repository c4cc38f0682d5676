"""Trace readers: the shipped samples parse, malformed rows name the file and line."""

from __future__ import annotations

import csv
import itertools
import json
import math
from pathlib import Path

import pytest

from infercost.errors import InfercostError
from infercost.sim.traces import (
    TraceRow,
    mooncake_prefix,
    read_azure,
    read_burstgpt,
    read_mooncake,
    read_trace,
)

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "traces"


def _nondecreasing(rows: list[TraceRow]) -> bool:
    return all(b.arrival_s >= a.arrival_s for a, b in itertools.pairwise(rows))


def test_azure_sample() -> None:
    path = SAMPLES / "azure-sample.csv"
    rows = list(read_azure(path))
    assert len(rows) == 200
    assert rows[0].arrival_s == 0.0
    assert _nondecreasing(rows)
    assert all(r.prompt_tokens > 0 and r.output_tokens > 0 and r.prefix == () for r in rows)
    assert 2 <= len(rows) / rows[-1].arrival_s <= 5  # requests per second, as in the real trace
    with path.open(newline="") as handle:  # the real trace's 100 ns timestamps
        stamps = [r["TIMESTAMP"] for r in csv.DictReader(handle)]
    assert all(len(t) == len("2023-11-16 18:15:46.6805900") for t in stamps)


def test_azure_timestamps_relative_to_first_row(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:15:46.6805900,4808,10\n"
        "2023-11-16 18:15:47.1805900,100,0\n"
        "2023-11-16 18:16:46.6805900,7,3\n"
    )
    rows = list(read_azure(path))
    assert [r.prompt_tokens for r in rows] == [4808, 100, 7]
    assert [r.output_tokens for r in rows] == [10, 0, 3]
    assert [r.arrival_s for r in rows] == pytest.approx([0.0, 0.5, 60.0])


def test_burstgpt_sample_skips_failed_rows() -> None:
    path = SAMPLES / "burstgpt-sample.csv"
    kept = list(read_burstgpt(path))
    every = list(read_burstgpt(path, keep_failed=True))
    failed = sum(1 for r in every if r.output_tokens == 0)
    assert failed > 0
    assert len(kept) == len(every) - failed
    assert all(r.output_tokens > 0 for r in kept)
    assert _nondecreasing(kept)
    assert every[0].arrival_s == 0.0
    with path.open(newline="") as handle:
        raw = list(csv.DictReader(handle))
    assert list(raw[0]) == [
        "Timestamp",
        "Model",
        "Request tokens",
        "Response tokens",
        "Total tokens",
        "Log Type",
    ]
    for r in raw:
        total = int(r["Request tokens"]) + int(r["Response tokens"])
        assert int(r["Total tokens"]) == total


def test_burstgpt_ignores_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text(
        "Timestamp,Session ID,Elapsed time,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
        "10,s1,2.5,ChatGPT,472,18,490,Conversation log\n"
        "45,s2,1.0,GPT-4,1087,230,1317,API log\n"
    )
    assert [tuple(r) for r in read_burstgpt(path)] == [(0.0, 472, 18, ()), (35.0, 1087, 230, ())]


def test_mooncake_sample_prefix_chain() -> None:
    rows = list(read_mooncake(SAMPLES / "mooncake-sample.jsonl"))
    assert len(rows) == 200
    assert _nondecreasing(rows)
    for row in rows:
        assert sum(n for _, n in row.prefix) <= row.prompt_tokens
        assert len(row.prefix) <= row.prompt_tokens // 512
        assert all(n == 512 for _, n in row.prefix)
    # some requests share leading blocks (shared system prompts, continued conversations)
    firsts = [r.prefix[0][0] for r in rows if r.prefix]
    assert len(set(firsts)) < len(firsts)


def test_mooncake_sample_follows_the_format() -> None:
    """One hash id per 512-token block (the last may be partial); equal ids, equal history."""
    records = [json.loads(line) for line in (SAMPLES / "mooncake-sample.jsonl").open()]
    assert records[0]["timestamp"] == 0
    before: dict[int, tuple[int, ...]] = {}
    for record in records:
        assert list(record) == ["timestamp", "input_length", "output_length", "hash_ids"]
        ids = record["hash_ids"]
        assert len(ids) == math.ceil(record["input_length"] / 512)
        for i, h in enumerate(ids):
            assert before.setdefault(h, tuple(ids[:i])) == tuple(ids[:i])
    assert len(before) < sum(len(r["hash_ids"]) for r in records)  # some blocks are shared


def test_mooncake_prefix_full_blocks_only() -> None:
    assert mooncake_prefix([4, 5, 6], 1100) == (("mc4", 512), ("mc5", 512))
    assert mooncake_prefix([4, 5], 1024) == (("mc4", 512), ("mc5", 512))
    assert mooncake_prefix([4], 300) == ()
    assert mooncake_prefix([4, 5, 6], 1100, block_tokens=256) == (
        ("mc4", 256),
        ("mc5", 256),
        ("mc6", 256),
    )


def test_mooncake_milliseconds(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    lines = [
        {"timestamp": 1000, "input_length": 600, "output_length": 5, "hash_ids": [1, 2]},
        {"timestamp": 3500, "input_length": 40, "output_length": 7, "hash_ids": [9]},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    rows = list(read_mooncake(path))
    assert rows == [TraceRow(0.0, 600, 5, (("mc1", 512),)), TraceRow(2.5, 40, 7, ())]


def test_byte_order_mark_ignored(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,5,6\n",
        encoding="utf-8-sig",
    )
    assert list(read_azure(path)) == [TraceRow(0.0, 5, 6)]


def test_read_trace_dispatches() -> None:
    rows = list(itertools.islice(read_trace(SAMPLES / "mooncake-sample.jsonl", "mooncake"), 3))
    assert len(rows) == 3


@pytest.mark.parametrize(
    ("name", "text", "fmt", "line"),
    [
        (
            "a.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,10,2\n2023-11-16 xx,1,1\n",
            "azure",
            3,
        ),
        (
            "a.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,-4,2\n",
            "azure",
            2,
        ),
        (
            "b.csv",
            "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
            "1,ChatGPT,5,5,10,API log\n2,ChatGPT,five,5,10,API log\n",
            "burstgpt",
            3,
        ),
        (
            "m.jsonl",
            '{"timestamp": 0, "input_length": 5, "output_length": 1}\n{"timestamp": 1,\n',
            "mooncake",
            2,
        ),
        ("m.jsonl", '{"timestamp": 0, "input_length": 5}\n', "mooncake", 1),
        (
            "m.jsonl",
            '{"timestamp": 0, "input_length": 5, "output_length": 1}\n'
            '{"timestamp": 1, "input_length": 1e30, "output_length": 1}\n',
            "mooncake",
            2,
        ),
        (
            "b.csv",
            "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
            "1,ChatGPT,5,2.5,7.5,API log\n",
            "burstgpt",
            2,
        ),
        (
            "m.jsonl",
            '{"timestamp": 9, "input_length": 5, "output_length": 1}\n'
            '{"timestamp": 3, "input_length": 5, "output_length": 1}\n',
            "mooncake",
            2,
        ),
    ],
)
def test_malformed_row_names_file_and_line(
    tmp_path: Path, name: str, text: str, fmt: str, line: int
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InfercostError) as info:
        list(read_trace(path, fmt))  # type: ignore[arg-type]
    message = str(info.value)
    assert f"{path}:{line}" in message
    assert "\n" not in message


def test_missing_columns_named(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("time,in,out\n1,2,3\n")
    with pytest.raises(InfercostError, match=r"a\.csv:1.*missing TIMESTAMP"):
        list(read_azure(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InfercostError, match="cannot be read"):
        list(read_burstgpt(tmp_path / "nope.csv"))
