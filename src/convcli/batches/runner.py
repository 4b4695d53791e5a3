"""Run one job per input in worker threads, reporting each result in list order as it lands.

The batch machinery of ``gray`` and ``channels`` (``filter`` has its own pipeline, built around
one Conv2D layer). At most ``2 × workers`` jobs are queued, so memory does not grow with the
list. When the run stops (a failure without ``keep_going``, Ctrl-C), the jobs not begun are
dropped and those under way are waited for and reported, so the reports name exactly the files
written; :class:`~convcli.batches.events.Accounting` then reports the rest as not started.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..errors import ConvcliError
from ..filtering.records import FilterFailure


def run_jobs(
    todo: Sequence[str],
    job: Callable[[str], Any],
    report: Callable[[Any], None],
    *,
    keep_going: bool = False,
    workers: int | None = None,
) -> tuple[list[Any], list[FilterFailure]]:
    """``job(source)`` for each source (a record such as :class:`~convcli.batches.events.Written`);
    a :class:`~convcli.errors.ConvcliError` is a failure, which stops the run unless ``keep_going``."""
    workers = workers or min(4, os.cpu_count() or 1)
    done: list[Any] = []
    failures: list[FilterFailure] = []
    pending: deque[tuple[str, Future[Any]]] = deque()
    upcoming = iter(todo)

    def settle(source: str, future: Future[Any]) -> ConvcliError | None:
        try:
            record = future.result()
        except ConvcliError as exc:
            failures.append(failure := FilterFailure(source, exc.message))
            report(failure)
            return exc
        done.append(record)
        report(record)
        return None

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="convcli-job") as pool:
        try:
            while True:
                while len(pending) < 2 * workers and (source := next(upcoming, None)) is not None:
                    pending.append((source, pool.submit(job, source)))
                if not pending:
                    break
                error = settle(*pending.popleft())
                if error is not None and not keep_going:
                    raise error
        except BaseException:
            for _, future in pending:
                future.cancel()
            for source, future in pending:
                if not future.cancelled():
                    settle(source, future)
            raise
    return done, failures
