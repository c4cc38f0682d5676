"""Where sweeps and verifications run: a local process pool (default) or Ray.

Both map a module-level function over a list of independent tasks and return the results in the
order of the tasks, so the planner's answer does not depend on which one ran it, nor on how many
workers it had (every task is deterministic: fixed seeds, no shared state).

`ray` is an optional extra (`pip install 'infercost[ray]'`); without an address Ray starts a local
instance with `workers` CPUs, and shuts it down when the executor closes if it started it.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Literal, Protocol, TypeVar

from infercost.errors import InfercostError

T = TypeVar("T")
R = TypeVar("R")
ExecutorKind = Literal["local", "ray"]
EXECUTORS: tuple[str, ...] = ("local", "ray")


class Executor(Protocol):
    workers: int

    def map(
        self, fn: Callable[[T], R], items: Sequence[T], on_done: Callable[[], None] | None = None
    ) -> list[R]: ...

    def close(self) -> None: ...


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class LocalExecutor:
    """A process pool per `map` call (fork where the platform has it: no re-import per task)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()

    def map(
        self, fn: Callable[[T], R], items: Sequence[T], on_done: Callable[[], None] | None = None
    ) -> list[R]:
        if self.workers <= 1 or len(items) <= 1:
            out = []
            for item in items:
                out.append(fn(item))
                if on_done:
                    on_done()
            return out
        method = "fork" if sys.platform.startswith("linux") else None
        context = multiprocessing.get_context(method)
        results: list[Any] = [None] * len(items)
        with ProcessPoolExecutor(min(self.workers, len(items)), mp_context=context) as pool:
            futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if on_done:
                    on_done()
        return results

    def close(self) -> None:
        pass


class RayExecutor:
    """Ray tasks on a local instance (started here with `workers` CPUs) or a running cluster."""

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise InfercostError(
                "executor", "ray", "Ray is not installed; pip install 'infercost[ray]'"
            ) from None
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            ray.init(
                address=address,
                num_cpus=None if address else (workers or default_workers()),
                include_dashboard=False,
                log_to_driver=False,
                logging_level=40,
            )
        resources: dict[str, float] = ray.available_resources()  # type: ignore[no-untyped-call]
        self.workers = int(resources.get("CPU", workers or 1))

    def map(
        self, fn: Callable[[T], R], items: Sequence[T], on_done: Callable[[], None] | None = None
    ) -> list[R]:
        remote = self.ray.remote(fn)
        refs = [remote.remote(item) for item in items]
        pending = list(refs)
        while pending:
            ready, pending = self.ray.wait(pending, num_returns=1)
            if on_done:
                for _ in ready:
                    on_done()
        return list(self.ray.get(refs))

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def make_executor(kind: str = "local", workers: int | None = None) -> Executor:
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers)
    raise InfercostError("executor", kind, f"allowed: {' '.join(EXECUTORS)}")
