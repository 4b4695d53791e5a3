"""``predict`` over many pictures as a batch: one bad picture is a failure record, not the end
of the batch (with ``keep_going``), results stream as each chunk is classified, and every input
is accounted for (a prediction, a failure, or not started) as in ``filter``'s batches.

Pictures are prepared as :mod:`convcli.prediction.predict` prepares them (this module only schedules:
chunks of :data:`CHUNK` pictures, the model loaded once, after the first chunk is prepared, so
that a bad first picture is reported before Keras is imported).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConvcliError, input_error, no_such_file
from ..filtering.naming import is_file_source
from ..filtering.records import FilterFailure
from ..i18n import tr
from .events import Accounting
from .inputs import Shard, select

CHUNK = 64
"""Pictures prepared, then classified in one model call, at a time."""


@dataclass
class PredictBatch:
    """What ``predict_batch`` returned: each prediction (or number read), and each failure."""

    results: list[Any]
    failures: list[FilterFailure] = field(default_factory=list)


def predict_batch(
    model_path: str | os.PathLike[str],
    images: Sequence[str],
    *,
    digits: bool = False,
    dataset: str | None = None,
    keep_going: bool = False,
    shard: Shard | None = None,
    max_pixels: int | None = None,
    show_input: str | os.PathLike[str] | None = None,
    report: Callable[[Any], None] | None = None,
) -> PredictBatch:
    """Classify each picture (``digits``: read the number written on it) with the model, and hand
    each :class:`~convcli.prediction.Prediction` (or ``NumberPrediction``) to ``report`` in list
    order, chunk by chunk. A picture that cannot be read or prepared is a failure, which stops
    the batch unless ``keep_going``; inputs never reached are reported as not started."""
    chosen = [images[i] for i in select(images, shard)]
    account = Accounting(chosen, report)
    with account.stopping():
        if not images:
            raise input_error(tr("give one or more IMAGE files, or index=N for a test image"))
        todo, failures = _present(chosen, keep_going)
        for failure in failures:
            account(failure)
        run = _Run(model_path, digits, dataset, max_pixels, account)
        targets = dict(zip(todo, _plan_seen(show_input, todo)))
        run.one_grid = show_input is not None and not _seen_in_folder(show_input)
        for start in range(0, len(todo), CHUNK):
            failures += run.chunk(todo[start : start + CHUNK], keep_going, targets)
    return PredictBatch(run.results, failures)


def _present(sources: list[str], keep_going: bool) -> tuple[list[str], list[FilterFailure]]:
    """The inputs that exist; missing ones are failures (``keep_going``) or refused before any work."""
    missing = {s for s in sources if is_file_source(s) and (not os.path.exists(s) or os.path.isdir(s))}
    reasons = [
        FilterFailure(
            s,
            tr("{p}: is a folder, expected a file").format(p=s) if os.path.isdir(s) else no_such_file(s),
        )
        for s in sources
        if s in missing
    ]
    if reasons and not keep_going:
        more = tr(" (and {count} more missing inputs)").format(count=len(reasons) - 1) if len(reasons) > 1 else ""
        raise input_error(reasons[0].message + more)
    return [s for s in sources if s not in missing], reasons


def _seen_in_folder(show_input: str | os.PathLike[str]) -> bool:
    from ..prediction.seen import seen_in_folder

    return seen_in_folder(show_input)


def _plan_seen(show_input: str | os.PathLike[str] | None, names: list[str]) -> list[Path | None]:
    if show_input is None:
        return [None] * len(names)
    from ..prediction.seen import plan_seen

    return list(plan_seen(show_input, names))


class _Run:
    """The model (loaded on first use) and what it has predicted so far."""

    def __init__(self, model_path: Any, digits: bool, dataset: str | None, max_pixels: int | None, report: Any):
        from ..models.metadata import DIGITS, class_names_for, dataset_for

        self.model_path, self.digits, self.max_pixels, self.report = model_path, digits, max_pixels, report
        self.meta, dataset = dataset_for(model_path, dataset)
        if digits and self.meta.class_names != DIGITS:
            raise input_error(
                tr(
                    "{path}: reading a number needs a digit model; this one was trained on {dataset} ({classes}, …)"
                ).format(path=model_path, dataset=self.meta.dataset, classes=", ".join(self.meta.class_names[:3]))
            )
        self.class_names = class_names_for(self.meta, dataset)
        self.model: Any = None
        self.results: list[Any] = []
        self.grid: list[list[Any]] = []  # one grid for every picture (show_input a file name)
        self.one_grid = False

    def prepare(self, source: str) -> Any:
        """One picture as the model takes it (a number: each digit's box and 28×28)."""
        from ..prediction.predict import on_paper, prepare_number, prepared_inputs

        if self.digits:
            from ..imaging.images import DEFAULT_MAX_PIXELS, read_picture

            picture = read_picture(source, max_pixels=self.max_pixels or DEFAULT_MAX_PIXELS)
            return prepare_number(on_paper(picture), source)
        return prepared_inputs([source], self.meta, self.max_pixels)[0]  # as the library's predict_files

    def chunk(self, sources: list[str], keep_going: bool, targets: dict[str, Any]) -> list[FilterFailure]:
        """Prepare, classify and report one chunk in list order; a failure without ``keep_going``
        is reported after the pictures before it, then raised."""
        prepared: list[tuple[str, Any]] = []
        stop: ConvcliError | None = None
        for source in sources:
            try:
                prepared.append((source, self.prepare(source)))
            except ConvcliError as exc:
                prepared.append((source, exc))
                if not keep_going:
                    stop = exc
                    break
        results = self.classify([(s, p) for s, p in prepared if not isinstance(p, ConvcliError)])
        self.show([(r, targets[r.input]) for r in results if targets.get(r.input) is not None])
        self.results += results
        found = iter(results)
        failures = []
        for source, item in prepared:
            event = FilterFailure(source, item.message) if isinstance(item, ConvcliError) else next(found)
            if isinstance(item, ConvcliError):
                failures.append(event)
            self.report(event)
        if stop is not None:
            raise stop
        return failures

    def classify(self, items: list[tuple[str, Any]]) -> list[Any]:
        """Predictions (or numbers) for prepared pictures, with one model call."""
        import numpy as np

        from ..prediction.predict import NumberPrediction, predict_digits

        if not items:
            return []
        if self.model is None:
            from ..models.runtime import load_runner

            self.model = load_runner(self.model_path)  # a .keras model, or an export run without TensorFlow
        if not self.digits:
            return predict_digits(self.model, np.stack([p for _, p in items]), [s for s, _ in items], self.class_names)
        flat = np.stack([digit for _, (found, _) in items for _, digit in found])
        names = [f"{s}[{i}]" for s, (found, _) in items for i in range(len(found))]
        predicted = iter(predict_digits(self.model, flat, names))
        return [
            NumberPrediction(s, [next(predicted) for _ in found], [box for box, _ in found], separators)
            for s, (found, separators) in items
        ]

    def show(self, shown: list[tuple[Any, Path]]) -> None:
        """Write what the model saw for this chunk's results, before they are reported: each to
        its own file, or all so far to the one grid (rewritten, so it always holds every record)."""
        from ..prediction.seen import write_seen

        if not shown:
            return
        groups = [[d.digit for d in r.digits] if self.digits else [r.digit] for r, _ in shown]
        if self.one_grid:
            self.grid += groups
            write_seen([shown[0][1]] * len(self.grid), self.grid)
        else:
            write_seen([target for _, target in shown], groups)
        for result, target in shown:
            for item in result.digits if self.digits else [result]:
                item.seen = str(target)
