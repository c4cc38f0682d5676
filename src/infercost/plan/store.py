"""Plans and their sweeps in the project's local DuckDB store, and their Parquet export.

The store is the same DuckDB file `infercost ingest` fills (`.infercost/store.duckdb` by default);
the planner adds three tables of its own:

- `plans`: one row per plan — its id, when it ran, the winner's headline figures, and the plan
  request and whole result as JSON (so `plans show` gives back exactly what `plan --json` printed).
- `plan_candidates`: the ranked deployments of each plan (simulated and screened figures).
- `plan_sweep`: every screened point of each plan (all hardware × layout × precision × limits).

Rows go in through Parquet files (polars writes them, DuckDB reads them), one transaction per plan.
Ids are `YYYYmmdd-HHMMSS-<6 hex of the result>`, sortable by time.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from infercost.errors import InfercostError
from infercost.ingest import DEFAULT_STORE
from infercost.plan import Plan

PLANS_DDL = """
CREATE TABLE IF NOT EXISTS plans (
    id VARCHAR PRIMARY KEY,
    created_at TIMESTAMP,
    name VARCHAR,
    model VARCHAR,
    targets VARCHAR,
    load_rps DOUBLE,
    hardware VARCHAR,
    chips_per_replica INTEGER,
    tp INTEGER,
    pp INTEGER,
    ep INTEGER,
    weights VARCHAR,
    kv VARCHAR,
    mode VARCHAR,
    replicas INTEGER,
    usd_per_hour DOUBLE,
    usd_per_mtok_output DOUBLE,
    ttft_ms_p99 DOUBLE,
    tpot_ms_p99 DOUBLE,
    points_screened INTEGER,
    simulations INTEGER,
    request_json VARCHAR,
    result_json VARCHAR
)
"""
CANDIDATE_COLUMNS = (
    "rank",
    "hardware",
    "weights",
    "kv",
    "chips_per_replica",
    "tp",
    "pp",
    "ep",
    "mode",
    "max_num_seqs",
    "chunk",
    "replicas",
    "prefill_replicas",
    "decode_replicas",
    "usd_per_hour",
    "usd_per_mtok_output",
    "ttft_ms_p99",
    "tpot_ms_p99",
    "latency_source",
    "predicted_ttft_ms_p99",
    "predicted_tpot_ms_p99",
    "headroom",
    "bound",
    "status",
    "why_not",
)
SUMMARY: tuple[str, ...] = (
    "id",
    "created_at",
    "name",
    "model",
    "hardware",
    "chips_per_replica",
    "tp",
    "pp",
    "ep",
    "mode",
    "replicas",
    "usd_per_hour",
    "usd_per_mtok_output",
    "ttft_ms_p99",
    "tpot_ms_p99",
)


def candidates_frame(p: Plan) -> pl.DataFrame:
    rows = [{k: c.model_dump()[k] for k in CANDIDATE_COLUMNS} for c in p.result.candidates]
    return pl.DataFrame(rows)


def sweep_frame(p: Plan) -> pl.DataFrame:
    return pl.DataFrame({k: list(v) if v.dtype == object else v for k, v in p.sweep.items()})


def write_parquet(p: Plan, out: Path) -> list[Path]:
    """candidates.parquet and sweep.parquet under `out` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "candidates.parquet", out / "sweep.parquet"]
    candidates_frame(p).write_parquet(paths[0])
    sweep_frame(p).write_parquet(paths[1])
    return paths


def _connect(path: Path | str) -> duckdb.DuckDBPyConnection:
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as err:
        raise InfercostError(
            "store", str(path), f"a DuckDB file that can be opened ({err})"
        ) from None
    con.execute(PLANS_DDL)
    return con


def _append(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, plan_id: str) -> None:
    with tempfile.TemporaryDirectory(prefix="infercost-plan-") as tmp:
        file = Path(tmp) / f"{table}.parquet"
        frame.with_columns(pl.lit(plan_id).alias("plan_id")).write_parquet(file)
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM read_parquet(?) LIMIT 0",
            [str(file)],
        )
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)", [str(file)])


def save_plan(p: Plan, store: Path | str = DEFAULT_STORE) -> str:
    """Store a plan (summary, ranked deployments, every screened point); returns its id."""
    result = p.to_dict()
    text = json.dumps(result, sort_keys=True, default=str)
    now = datetime.now(UTC).replace(tzinfo=None)
    plan_id = f"{now:%Y%m%d-%H%M%S}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"
    best = p.result.best
    con = _connect(store)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "INSERT INTO plans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?)",
            [
                plan_id,
                now,
                p.result.name,
                p.result.model,
                p.result.targets,
                p.result.load_rps,
                best.hardware,
                best.chips_per_replica,
                best.tp,
                best.pp,
                best.ep,
                best.weights,
                best.kv,
                best.mode,
                best.replicas,
                best.usd_per_hour,
                best.usd_per_mtok_output,
                best.ttft_ms_p99,
                best.tpot_ms_p99,
                p.result.points_screened,
                p.result.simulations,
                p.request.model_dump_json(),
                text,
            ],
        )
        _append(con, "plan_candidates", candidates_frame(p), plan_id)
        _append(con, "plan_sweep", sweep_frame(p), plan_id)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    return plan_id


def list_plans(store: Path | str = DEFAULT_STORE) -> list[dict[str, Any]]:
    """Every stored plan's summary, newest first."""
    con = _connect(store)
    try:
        rows = con.execute(
            f"SELECT {', '.join(SUMMARY)} FROM plans ORDER BY created_at DESC, id DESC"
        ).fetchall()
    finally:
        con.close()
    return [dict(zip(SUMMARY, r, strict=True)) for r in rows]


def load_result(plan_id: str, store: Path | str = DEFAULT_STORE) -> dict[str, Any]:
    """A stored plan's whole result (what `plan --json` printed), with its id."""
    con = _connect(store)
    try:
        row = con.execute("SELECT result_json FROM plans WHERE id = ?", [plan_id]).fetchone()
        if row is None:
            ids = [r[0] for r in con.execute("SELECT id FROM plans ORDER BY id").fetchall()]
            matches = [i for i in ids if plan_id in i]
            if len(matches) != 1:
                hint = f"one of {', '.join(ids[-5:])}" if ids else "no plans stored yet"
                raise InfercostError("plan id", plan_id, f"matches no single stored plan; {hint}")
            plan_id = matches[0]
            row = con.execute("SELECT result_json FROM plans WHERE id = ?", [plan_id]).fetchone()
            assert row is not None
    finally:
        con.close()
    data: dict[str, Any] = json.loads(row[0])
    data["id"] = plan_id
    return data


def sweep_points(plan_id: str, store: Path | str = DEFAULT_STORE) -> int:
    con = _connect(store)
    try:
        row = con.execute("SELECT count(*) FROM plan_sweep WHERE plan_id = ?", [plan_id]).fetchone()
    except duckdb.CatalogException:
        return 0
    finally:
        con.close()
    return int(row[0]) if row else 0


COMPARED = (
    "hardware",
    "chips_per_replica",
    "tp",
    "pp",
    "ep",
    "weights",
    "kv",
    "mode",
    "replicas",
    "usd_per_hour",
    "usd_per_mtok_output",
    "ttft_ms_p99",
    "tpot_ms_p99",
)


def compare_plans(a: str, b: str, store: Path | str = DEFAULT_STORE) -> dict[str, Any]:
    """Two stored plans' workloads and winners side by side, with b − a for the numbers."""
    left, right = load_result(a, store), load_result(b, store)
    rows = []
    for key in ("model", "targets", "load_rps", "isl_mean", "osl_mean"):
        rows.append(
            {"field": key, "a": left[key], "b": right[key], "delta": _delta(left[key], right[key])}
        )
    for key in COMPARED:
        x, y = left["best"][key], right["best"][key]
        rows.append({"field": f"best.{key}", "a": x, "b": y, "delta": _delta(x, y)})
    return {"a": left["id"], "b": right["id"], "rows": rows}


def _delta(x: Any, y: Any) -> float | None:
    if isinstance(x, int | float) and isinstance(y, int | float) and not isinstance(x, bool):
        return float(y) - float(x)
    return None
