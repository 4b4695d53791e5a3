"""Trials for the ``cnn`` preset's six-epoch budget that need more than a ``--set``: random turns and
zooms on top of the shifts, and weight averaging (Adam's ``use_ema``). Measured and not taken
(docs/performance-epochs.md, "Turns, zooms and weight averaging").

    python benchmarks/augment_trials.py [--rotate DEG] [--zoom Z] [--ema MOMENTUM] -- EPOCHS.PY-ARGUMENTS

Everything after ``--`` goes to ``benchmarks/epochs.py`` (same process, results merged into
``benchmarks/results/epochs.json`` under ``--label``). This script only wraps convcli's data path
for the measurement: each shifted epoch also draws, after its order, shifts and mirrorings, a
turn in ±DEG degrees and a scale in 1 ± Z per picture from the same seeded stream, and the
batch is resampled (bilinear, zeros outside) instead of sliced. With ``--ema``, the held-out
accuracy is measured again after ``fit``, when Keras has put the averaged weights in place.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def warp_images(x: np.ndarray, turns: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Turn each image of (N, H, W, C) about its centre by ``turns[:, 0]`` radians, scale it by
    ``turns[:, 1]`` and shift it by whole pixels as ``training.data.shift_images`` does (equal to it
    for no turn and scale 1); bilinear, zeros outside."""
    n, height, width = x.shape[:3]
    cy, cx = (height - 1) / 2, (width - 1) / 2
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    dy = yy.reshape(1, -1) - cy + shifts[:, :1].astype(np.float32)
    dx = xx.reshape(1, -1) - cx + shifts[:, 1:].astype(np.float32)
    cos = (np.cos(turns[:, :1]) / turns[:, 1:]).astype(np.float32)
    sin = (np.sin(turns[:, :1]) / turns[:, 1:]).astype(np.float32)
    sy = np.clip(cos * dy - sin * dx + cy + 1, 0, height + 1)  # +1: into the zero-padded picture
    sx = np.clip(sin * dy + cos * dx + cx + 1, 0, width + 1)
    y0, x0 = np.floor(sy), np.floor(sx)
    wy, wx = (sy - y0)[..., None], (sx - x0)[..., None]
    padded = np.zeros((n, height + 2, width + 2, *x.shape[3:]), dtype=x.dtype)
    padded[:, 1:-1, 1:-1] = x
    flat = padded.reshape(n, -1, *x.shape[3:])
    last, rows = flat.shape[1] - 1, np.arange(n)[:, None]
    top = y0.astype(np.int32) * (width + 2) + x0.astype(np.int32)
    low = np.minimum(top + width + 2, last)
    upper = flat[rows, top] * (1 - wx) + flat[rows, np.minimum(top + 1, last)] * wx
    lower = flat[rows, low] * (1 - wx) + flat[rows, np.minimum(low + 1, last)] * wx
    return (upper * (1 - wy) + lower * wy).reshape(x.shape).astype(x.dtype, copy=False)


def add_turns(degrees: float, zoom: float) -> None:
    """Wrap ``training.data``'s drawer and batch maker so that shifted epochs also turn and zoom."""
    from convcli.training import data

    turns_of: dict[int, np.ndarray] = {}
    draw, batch = data.EpochDrawer.draw, data.drawn_batch

    def draw_with_turns(self: Any, epoch: int) -> Any:
        draws = draw(self, epoch)
        if self.augment and epoch >= data.AUGMENT_FROM_EPOCH:
            angles = np.radians(self.rng.uniform(-degrees, degrees, self.count))
            turns_of[id(draws)] = np.stack([angles, self.rng.uniform(1 - zoom, 1 + zoom, self.count)], axis=1)
        return draws

    def batch_with_turns(x: np.ndarray, draws: Any, start: int, stop: int) -> np.ndarray:
        turns = turns_of.get(id(draws))
        if turns is None:
            return batch(x, draws, start, stop)
        xb = data.prepare_images(x[draws.order[start:stop]])
        return warp_images(xb, turns[start:stop].astype(np.float32), draws.shifts[start:stop])

    data.EpochDrawer.draw, data.drawn_batch = draw_with_turns, batch_with_turns


def add_ema(momentum: float) -> None:
    """Adam with ``use_ema``; each run's held-out accuracy measured again on the averaged weights
    (``fit``'s own validation ran before Keras swapped them in) and recorded instead."""
    import epochs

    from convcli.backend import keras

    k = keras()
    k.optimizers.Adam = functools.partial(k.optimizers.Adam, use_ema=True, ema_momentum=momentum)
    fit, one_run, averaged = k.Model.fit, epochs.one_run, []

    def fit_then_measure(self: Any, *args: Any, **kwargs: Any) -> Any:
        history = fit(self, *args, **kwargs)
        if kwargs.get("validation_data") is not None and history.history.get("val_accuracy"):
            averaged.append(self.evaluate(kwargs["validation_data"], verbose=0, return_dict=True)["accuracy"])
            print(f"averaged weights: held-out {history.history['val_accuracy'][-1]:.4f} -> {averaged[-1]:.4f}")
        return history

    def run_averaged(preset: str, count: int, seed: int, holdout: bool, settings: dict[str, Any]) -> dict[str, Any]:
        averaged.clear()
        result = one_run(preset, count, seed, holdout, settings)
        if holdout and averaged:
            result["accuracy"] = averaged[-1]
        return result

    k.Model.fit, epochs.one_run = fit_then_measure, run_averaged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rotate", type=float, default=0.0, help="turns in ±DEG degrees")
    parser.add_argument("--zoom", type=float, default=0.0, help="scales in 1 ± Z")
    parser.add_argument("--ema", type=float, help="Adam's ema_momentum (weight averaging)")
    split = sys.argv.index("--") if "--" in sys.argv else len(sys.argv)
    args = parser.parse_args(sys.argv[1:split])
    if args.rotate or args.zoom:
        add_turns(args.rotate, args.zoom)
    if args.ema is not None:
        add_ema(args.ema)
    import epochs

    command = ["python", "benchmarks/augment_trials.py", *sys.argv[1:]]
    sys.argv = [str(HERE / "epochs.py"), *sys.argv[split + 1 :]]
    epochs.main(command)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
