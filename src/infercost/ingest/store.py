"""The local store: one DuckDB file, one table per kind of data, every row tagged with its source file.

Tables (times are `TIMESTAMP` in UTC, without a zone; fractions are 0–1; memory in bytes; power in W):

- `gpu_samples`: one row per GPU (or MIG instance) per sample time — from nvidia-smi CSV and DCGM.
- `engine_samples`: one row per Prometheus sample (vLLM, SGLang, DCGM raw fields), labels as JSON text.
  Histogram `_bucket` samples go to `histogram_buckets` instead (`_sum` and `_count` stay here).
- `histogram_buckets`: cumulative bucket counts with their upper bound `le` (`+Inf` is `inf`).
- `requests`: one row per request from OpenAI-style JSONL or LiteLLM spend logs.
- `ingested_files`: one row per file ever ingested, keyed by its SHA-256: re-ingesting the same bytes
  (under any path) adds nothing.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict

from infercost.errors import InfercostError

KINDS = ("nvidia-smi", "prometheus", "openai-jsonl", "litellm")


class GpuRow(NamedTuple):
    time_s: float
    host: str | None
    gpu_index: int | None
    gpu_uuid: str | None
    gpu_name: str | None
    mig_profile: str | None
    mig_instance: int | None
    utilization: float | None
    memory_utilization: float | None
    gr_engine_active: float | None
    sm_active: float | None
    tensor_active: float | None
    dram_active: float | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    power_w: float | None


class EngineRow(NamedTuple):
    time_s: float
    engine: str
    metric: str
    type: str
    labels: str
    value: float | None


class BucketRow(NamedTuple):
    time_s: float
    engine: str
    metric: str
    labels: str
    le: float
    cumulative_count: float


class RequestRow(NamedTuple):
    start_time_s: float
    end_time_s: float | None
    first_token_time_s: float | None
    request_id: str | None
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int | None
    cost_usd: float | None


_SCHEMAS: dict[str, dict[str, Any]] = {
    "gpu_samples": {
        "time": pl.Datetime("us"),
        "host": pl.Utf8,
        "gpu_index": pl.Int32,
        "gpu_uuid": pl.Utf8,
        "gpu_name": pl.Utf8,
        "mig_profile": pl.Utf8,
        "mig_instance": pl.Int32,
        "utilization": pl.Float64,
        "memory_utilization": pl.Float64,
        "gr_engine_active": pl.Float64,
        "sm_active": pl.Float64,
        "tensor_active": pl.Float64,
        "dram_active": pl.Float64,
        "memory_used_bytes": pl.Int64,
        "memory_total_bytes": pl.Int64,
        "power_w": pl.Float64,
    },
    "engine_samples": {
        "time": pl.Datetime("us"),
        "engine": pl.Utf8,
        "metric": pl.Utf8,
        "type": pl.Utf8,
        "labels": pl.Utf8,
        "value": pl.Float64,
    },
    "histogram_buckets": {
        "time": pl.Datetime("us"),
        "engine": pl.Utf8,
        "metric": pl.Utf8,
        "labels": pl.Utf8,
        "le": pl.Float64,
        "cumulative_count": pl.Float64,
    },
    "requests": {
        "start_time": pl.Datetime("us"),
        "end_time": pl.Datetime("us"),
        "first_token_time": pl.Datetime("us"),
        "request_id": pl.Utf8,
        "model": pl.Utf8,
        "prompt_tokens": pl.Int64,
        "completion_tokens": pl.Int64,
        "cached_tokens": pl.Int64,
        "cost_usd": pl.Float64,
    },
}

_SQL_TYPES = {
    pl.Utf8: "VARCHAR",
    pl.Int32: "INTEGER",
    pl.Int64: "BIGINT",
    pl.Float64: "DOUBLE",
}


_FILES_DDL = """
CREATE TABLE IF NOT EXISTS ingested_files (
    sha256 VARCHAR PRIMARY KEY,
    path VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    engine VARCHAR,
    rows BIGINT NOT NULL,
    start_time TIMESTAMP,
    end_time TIMESTAMP,
    time_from_mtime BOOLEAN NOT NULL,
    ingested_at TIMESTAMP NOT NULL,
    notes VARCHAR
)
"""


def _sql_type(dtype: Any) -> str:
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMP"
    return _SQL_TYPES[dtype]


def _ddl(table: str) -> str:
    cols = [f"{name} {_sql_type(t)}" for name, t in _SCHEMAS[table].items()]
    cols += ["source VARCHAR NOT NULL", "file_sha256 VARCHAR NOT NULL"]
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)})"


@dataclass
class Parsed:
    """What a reader found in one file, in SI units, before it touches the store."""

    kind: str
    engine: str | None = None
    gpu: list[GpuRow] = field(default_factory=list)
    engine_samples: list[EngineRow] = field(default_factory=list)
    buckets: list[BucketRow] = field(default_factory=list)
    requests: list[RequestRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    time_from_mtime: bool = False

    def tables(self) -> dict[str, list[Any]]:
        return {
            "gpu_samples": list(self.gpu),
            "engine_samples": list(self.engine_samples),
            "histogram_buckets": list(self.buckets),
            "requests": list(self.requests),
        }


class FileIngest(BaseModel):
    """The outcome for one file: rows added per table (all zero when it was already in the store)."""

    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str
    kind: str
    engine: str | None
    added: bool
    rows: dict[str, int]
    start_time: datetime | None
    end_time: datetime | None
    time_from_mtime: bool
    notes: tuple[str, ...]


class IngestReport(BaseModel):
    """Every file of one `ingest` (or `scrape`) call."""

    model_config = ConfigDict(frozen=True)

    store_path: str
    files: tuple[FileIngest, ...]

    @property
    def rows_added(self) -> int:
        return sum(sum(f.rows.values()) for f in self.files if f.added)


# --- helpers shared by the readers -------------------------------------------------------------


def bad_line(path: Path | str, line: int, text: str, allowed: str) -> InfercostError:
    """A one-line error naming the file, the line number, the offending text and what was expected."""
    snippet = text.strip().replace("\n", " ")
    if len(snippet) > 80:
        snippet = snippet[:77] + "..."
    return InfercostError(f"{path}:{line}", snippet, allowed)


def epoch_s(dt: datetime) -> float:
    """Seconds since the Unix epoch; a time without a zone is read as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def parse_time(value: Any) -> float:
    """Epoch seconds from a number (s, or ms when > 1e11) or an ISO 8601 string. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("time must be a finite, non-negative epoch")
        return seconds / 1000.0 if seconds > 1e11 else seconds
    if isinstance(value, str):
        text = value.strip()
        try:
            return parse_time(float(text))
        except ValueError:
            pass
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        return epoch_s(datetime.fromisoformat(text))
    raise ValueError(f"not a time: {value!r}")


def to_datetime(seconds: float) -> datetime:
    """UTC time without a zone (how the store keeps times)."""
    return datetime.fromtimestamp(seconds, tz=UTC).replace(tzinfo=None)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- the store ---------------------------------------------------------------------------------


class Store:
    """A DuckDB file holding every ingested table. Use as a context manager."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path))
        except duckdb.Error as err:
            raise InfercostError(
                "store", str(path), f"a DuckDB file that can be opened ({err})"
            ) from None
        self.con.execute(_FILES_DDL)
        for table in _SCHEMAS:
            self.con.execute(_ddl(table))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def known(self, sha256: str) -> tuple[str, str] | None:
        """(path, kind) of the file already ingested with these bytes, or None."""
        row = self.con.execute(
            "SELECT path, kind FROM ingested_files WHERE sha256 = ?", [sha256]
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def count(self, table: str) -> int:
        if table != "ingested_files" and table not in _SCHEMAS:
            raise InfercostError(
                "table", table, f"one of {', '.join([*_SCHEMAS, 'ingested_files'])}"
            )
        row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return 0 if row is None else int(row[0])

    def add(self, path: Path, sha256: str, parsed: Parsed) -> FileIngest:
        """Insert everything one file produced, and record the file, in one transaction."""
        tables = parsed.tables()
        counts = {name: len(rows) for name, rows in tables.items()}
        times = [t for rows in tables.values() for t in (r[0] for r in rows)]
        start = to_datetime(min(times)) if times else None
        end = to_datetime(max(times)) if times else None
        source = str(path)
        self.con.execute("BEGIN TRANSACTION")
        try:
            with tempfile.TemporaryDirectory(prefix="infercost-ingest-") as tmp:
                for table, rows in tables.items():
                    if rows:
                        self._insert(table, rows, source, sha256, Path(tmp) / f"{table}.parquet")
            self.con.execute(
                "INSERT INTO ingested_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    sha256,
                    source,
                    parsed.kind,
                    parsed.engine,
                    sum(counts.values()),
                    start,
                    end,
                    parsed.time_from_mtime,
                    to_datetime(datetime.now(UTC).timestamp()),
                    "; ".join(parsed.notes) or None,
                ],
            )
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return FileIngest(
            path=source,
            sha256=sha256,
            kind=parsed.kind,
            engine=parsed.engine,
            added=True,
            rows=counts,
            start_time=start,
            end_time=end,
            time_from_mtime=parsed.time_from_mtime,
            notes=tuple(parsed.notes),
        )

    def _insert(self, table: str, rows: list[Any], source: str, sha256: str, tmp: Path) -> None:
        schema = _SCHEMAS[table]
        names = list(schema)
        time_names = [n for n, t in schema.items() if isinstance(t, pl.Datetime)]
        raw_schema = {n: (pl.Float64 if n in time_names else t) for n, t in schema.items()}
        frame = pl.DataFrame(rows, schema=raw_schema, orient="row")
        frame = frame.with_columns(
            *[
                (pl.col(n) * 1e6).round(0).cast(pl.Int64).cast(pl.Datetime("us"))
                for n in time_names
            ],
            pl.lit(source).alias("source"),
            pl.lit(sha256).alias("file_sha256"),
        )
        frame.select([*names, "source", "file_sha256"]).write_parquet(tmp)
        self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)", [str(tmp)])
