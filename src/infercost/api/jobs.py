"""Simulations as background jobs: a bounded queue, progress counts, a result URL, a time limit."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from infercost.errors import InfercostError

Status = Literal["queued", "running", "done", "failed"]


class OverTime(Exception):
    """A job passed its wall-clock limit; raised from its own progress callback."""


class Cancelled(Exception):
    """The server is shutting down; raised from the job's progress callback."""


class Progress:
    """What a running job reports: items done (and the stage it is in). Every report checks the
    job's deadline and the server's shutdown, so work that reports progress stops soon after."""

    def __init__(self, job: Job, deadline: float, stopping: threading.Event) -> None:
        self.job = job
        self.deadline = deadline
        self.stopping = stopping

    def advance(self, n: int = 1) -> None:
        self.job.done += n
        self._check()

    def stage(self, name: str, done: int, total: int) -> None:
        self.job.stage, self.job.done, self.job.total = name, done, total
        self._check()

    def _check(self) -> None:
        if self.stopping.is_set():
            raise Cancelled
        if time.monotonic() > self.deadline:
            raise OverTime


Work = Callable[[Progress], Any]


@dataclass
class Job:
    id: str
    kind: str
    total: int
    max_seconds: float
    status: Status = "queued"
    stage: str = ""
    done: int = 0
    created_s: float = field(default_factory=time.time)
    started_s: float | None = None
    finished_s: float | None = None
    error: str | None = None
    result: Any = None

    def view(self) -> dict[str, Any]:
        elapsed = None
        if self.started_s is not None:
            elapsed = (self.finished_s or time.time()) - self.started_s
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "progress": {"stage": self.stage, "done": self.done, "total": self.total},
            "elapsed_s": elapsed,
            "error": self.error,
            "status_url": f"/api/jobs/{self.id}",
            "result_url": f"/api/jobs/{self.id}/result" if self.status == "done" else None,
        }


class JobStore:
    """Runs jobs one at a time on a worker thread; keeps the latest finished ones."""

    def __init__(self, *, max_queued: int, max_kept: int) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infercost-job")
        self._stopping = threading.Event()
        self.max_queued = max_queued
        self.max_kept = max_kept

    def submit(self, kind: str, total: int, work: Work, *, max_seconds: float) -> Job:
        with self._lock:
            pending = sum(j.status in ("queued", "running") for j in self._jobs.values())
            if pending >= self.max_queued:
                raise InfercostError(
                    "jobs",
                    pending,
                    f"at most {self.max_queued} jobs queued or running; retry later",
                )
            job = Job(id=uuid.uuid4().hex, kind=kind, total=total, max_seconds=max_seconds)
            self._jobs[job.id] = job
            self._forget_old()
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def shutdown(self) -> None:
        """Stop the running job at its next progress report; drop the queued ones."""
        self._stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: Job, work: Work) -> None:
        job.status = "running"
        job.started_s = time.time()
        try:
            job.result = work(Progress(job, time.monotonic() + job.max_seconds, self._stopping))
            job.status = "done"
        except Cancelled:
            job.error = "the server shut down before the job finished"
            job.status = "failed"
        except OverTime:
            where = f"{job.stage} " if job.stage else ""
            job.error = (
                f"stopped after {job.max_seconds:g} s, the server's limit per {job.kind} job "
                f"({where}{job.done} of {job.total} done); ask for less"
            )
            job.status = "failed"
        except InfercostError as err:
            job.error = str(err)
            job.status = "failed"
        except Exception as err:  # a bug: report it on the job instead of losing the thread
            job.error = f"internal error: {type(err).__name__}: {err}"
            job.status = "failed"
        finally:
            job.finished_s = time.time()

    def _forget_old(self) -> None:
        finished = sorted(
            (j for j in self._jobs.values() if j.status in ("done", "failed")),
            key=lambda j: j.finished_s or 0.0,
        )
        for job in finished[: max(0, len(finished) - self.max_kept)]:
            del self._jobs[job.id]
