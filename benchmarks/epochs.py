"""Accuracy of the ``cnn`` preset for a fixed budget of epochs, seed by seed.

    python benchmarks/epochs.py [--epochs N] [--seeds S ...] [--holdout] [--set FIELD=VALUE ...] [--label NAME]
    (``make bench BENCH=epochs`` runs the confirmation: 1 and 6 epochs, seeds 0–4, on the test set)

Two modes, so that settings are never chosen on the test set:

- ``--holdout`` (tuning): 10,000 of the 60,000 training images are held out (the run's seeded
  validation split, 1/6) and the last epoch's accuracy on them is recorded; the test accuracy
  that training reports at its end is not kept.
- default (confirmation): the preset as ``convcli train cnn --epochs N --seed S`` runs it (10%
  validation split), and the test accuracy.

``--set FIELD=VALUE`` overrides a :class:`~convcli.training.config.TrainConfig` field for a
candidate (``--set learning_rate=0.005 --set spec="conv(16,5),…"``). Runs go one after another in
this process (one Keras import for all). Each result is merged into
``benchmarks/results/epochs.json`` under its label, with per-seed accuracies, mean, minimum and
the training seconds.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shlex
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "epochs.json"
HOLDOUT = 10_000 / 60_000
sys.path.insert(0, str(HERE))
from run import scrub  # noqa: E402  (results hold no machine paths)


def parse_setting(text: str) -> tuple[str, Any]:
    """``FIELD=VALUE`` with VALUE read as a Python literal when it is one (else a string)."""
    name, _, raw = text.partition("=")
    try:
        return name, ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return name, raw


def one_run(preset: str, epochs: int, seed: int, holdout: bool, settings: dict[str, Any]) -> dict[str, Any]:
    """Train once; the accuracy the mode judges by (held-out or test), the seconds taken and the
    hyperparameters and network the run resolved to (so a result says what it measured, whatever the preset
    said when it ran)."""
    from convcli.training.run import TrainConfig, train

    with tempfile.TemporaryDirectory() as work:
        # Settings go through from_preset, as the CLI's options do (--set dataset=… gets the
        # preset's defaults for that dataset).
        options = {"epochs": epochs, "seed": seed, **{k: v for k, v in settings.items() if k != "spec"}}
        config = TrainConfig.from_preset(preset, None, output=f"{work}/m.keras", **options)
        config.spec = settings.get("spec", config.spec)
        if holdout:
            config.validation_split = HOLDOUT
        record = train(config).record
    accuracy = record["history"][-1]["val_accuracy"] if holdout else record["test"]["accuracy"]
    return {
        "accuracy": float(accuracy),
        "seconds": float(record["seconds"]),
        "hyperparameters": record["hyperparameters"],
        "spec": config.spec,
    }


def main(command: list[str] | None = None) -> None:
    """Run the sweep; ``command`` is what the results file says reruns it (default: this script
    with its arguments; a wrapper such as ``augment_trials.py`` passes its own)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cnn")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--holdout", action="store_true", help="judge on 10,000 held-out training images")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--label", help="the result's name in epochs.json (default: derived from the options)")
    args = parser.parse_args()
    settings = dict(parse_setting(s) for s in args.settings)
    mode = "holdout" if args.holdout else "test"
    parts = [f"{args.preset} {args.epochs} epoch(s)", mode, *(f"{k}={v}" for k, v in settings.items())]
    label = args.label or ", ".join(parts)
    runs = {}
    for seed in args.seeds:
        runs[str(seed)] = one_run(args.preset, args.epochs, seed, args.holdout, settings)
        print(f"{label}: seed {seed}: {runs[str(seed)]['accuracy'] * 100:.2f}%", flush=True)
    accuracies = [r["accuracy"] for r in runs.values()]
    summary = {
        "preset": args.preset,
        "epochs": args.epochs,
        "judged_on": "10,000 held-out training images" if args.holdout else "the 10,000 test images",
        "settings": settings,
        "hyperparameters": next(iter(runs.values()))["hyperparameters"],
        "spec": next(iter(runs.values()))["spec"],
        "accuracy_by_seed": {seed: r["accuracy"] for seed, r in runs.items()},
        "seconds_by_seed": {seed: round(r["seconds"], 1) for seed, r in runs.items()},
        "mean": statistics.mean(accuracies),
        "min": min(accuracies),
        "command": shlex.join(command or ["python", "benchmarks/epochs.py", *sys.argv[1:]]),
    }
    print(f"{label}: mean {summary['mean'] * 100:.2f}%, min {summary['min'] * 100:.2f}%")
    results = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    results[label] = summary
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(scrub(results), indent=2) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
