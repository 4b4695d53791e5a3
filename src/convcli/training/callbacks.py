"""The Keras callbacks every training run uses: stop on a signal, record and checkpoint each
completed epoch, and, for a model with batch normalisation, recompute its statistics at the end.

Importing this module loads Keras: the training step imports it after the config's checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import keras as _keras
from ..i18n import tr
from .checkpoints import RunState, save_model
from .interrupts import StopFlag

if TYPE_CHECKING:
    from ..models.metadata import ModelMeta
    from .config import TrainConfig

keras = _keras()


class StopOnSignal(keras.callbacks.Callback):
    """Ends ``fit`` after the current batch once SIGINT or SIGTERM has arrived."""

    def __init__(self, flag: StopFlag) -> None:
        super().__init__()
        self.flag = flag

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.flag.signal_name is not None:
            self.model.stop_training = True


class EpochRecorder(keras.callbacks.Callback):
    """Appends each completed epoch's metrics and time to the run's history, then saves the
    checkpoint (every epoch but the last, and only where ``checkpoint`` is given) carrying ``meta``.

    Own rather than ``keras.callbacks.History``: that one starts afresh on resume and also
    records an epoch cut short by a signal, which must not count as done.
    """

    def __init__(self, run: RunState, checkpoint: Path | None, meta: ModelMeta | None = None) -> None:
        super().__init__()
        self.run, self.checkpoint, self.meta = run, checkpoint, meta
        self.epoch_started = time.monotonic()
        self.batches = 0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch_started = time.monotonic()
        self.batches = 0

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.batches += 1

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.batches < self.params["steps"]:
            return  # cut short by a signal: not a completed epoch
        self.run.history.append(
            {
                "epoch": epoch + 1,
                **{key: float(v) for key, v in (logs or {}).items() if key != "learning_rate"},
                "seconds": time.monotonic() - self.epoch_started,
            }
        )
        self.run.epochs_done = epoch + 1
        if self.checkpoint is not None and epoch + 1 < self.run.config.epochs:
            save_model(self.model, self.checkpoint, self.run.as_json("running"), self.meta)


STATISTICS_SAMPLE = 4096
"""Training pictures that batch normalisation's statistics are recomputed over: a sample drawn
with the run's seed (the ``cnn`` preset's 32 channels × 16 positions: 65,536 values per channel,
for about 0.2 s)."""


class PopulationStatistics(keras.callbacks.Callback):
    """After the run's last batch, sets every ``BatchNormalization`` layer's moving mean and
    variance to those of the final network over a sample of the training pictures.

    Why: Keras's moving averages start at 0 and 1 and need a few hundred steps to forget it, so
    a short run (a small folder, ``--limit``) would predict with statistics of no network at
    all; after the last batch the learning rate is near zero, so these are the trained network's
    own. Done in a callback so that the last epoch's validation measures them; Keras's
    ``Callback.model`` brings the JAX trainer's state back to the variables before they are read.
    Written here because Keras has no "precise batch norm" step (pycls and Detectron do it).
    """

    def __init__(self, run: RunState, x: np.ndarray) -> None:
        super().__init__()
        self.run, self.x, self.epoch = run, x, -1

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.epoch + 1 == self.run.config.epochs and batch + 1 == self.params["steps"]:
            _recompute(self.model, self.run, self.x)


def _recompute(model: Any, run: RunState, x_train: np.ndarray) -> None:
    """Recompute over the run's sample of ``x_train`` (drawn with its seed), and say so in ``run``."""
    sample = np.sort(np.random.default_rng(run.config.seed).permutation(len(x_train))[:STATISTICS_SAMPLE])
    population_statistics(model, x_train, sample, chunk=min(256, run.config.batch_size))
    run.statistics = {"recomputed_over": len(sample)}


def settle_statistics(model: Any, run: RunState, x_train: np.ndarray, log: Callable[[str], None]) -> None:
    """For a completed run: recompute the statistics if its last batch did not (a resumed run
    given no epoch left to train), and ``log`` that they were recomputed."""
    if not run.statistics and _recomputes(model, run.config):
        _recompute(model, run, x_train)
    if run.statistics:
        line = tr("batch normalisation: statistics recomputed over {count:,} training pictures")
        log(line.format(count=run.statistics["recomputed_over"]))


def _recomputes(model: Any, config: TrainConfig) -> bool:
    """Whether the run ends by recomputing batch normalisation's statistics: the model has such a
    layer, and one process trains it (on one device or several: the variables are set once for
    all of them; with several processes, each would sample other pictures, so Keras's moving
    averages stay)."""
    has_batch_norm = any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    return has_batch_norm and not config.multi_process


def statistics_callbacks(model: Any, run: RunState, x_train: np.ndarray) -> list[Any]:
    """The :class:`PopulationStatistics` callback for ``fit``, if the run recomputes them."""
    return [PopulationStatistics(run, x_train)] if _recomputes(model, run.config) else []


def population_statistics(model: Any, x: np.ndarray, picks: np.ndarray | None = None, chunk: int = 256) -> None:
    """Each ``BatchNormalization`` layer of the Sequential ``model``, first to last, gets the mean
    and (biased, as Keras's) variance of its inputs over the uint8 pictures ``x[picks]`` (all by
    default), the layers before it in inference mode (earlier normalisations already recomputed).

    Eager calls on ``chunk`` pictures at a time (no function to trace; at most a training batch's
    activations at once), each reduced on the device by ``keras.ops.moments`` and combined in
    float64 (Chan's pairwise formula). A one-epoch ``cnn`` run's peak RSS: 739–740 MiB, as without
    recomputing (739–767 MiB); chunks of 1,024 pictures reduced on the host took it to 784–791 MiB.
    """
    from ..backend import no_gradients
    from ..datasets.idx import scale_images as prepare_images

    picks = np.arange(len(x)) if picks is None else picks
    layers, shape = list(model.layers), tuple(model.inputs[0].shape[1:])
    for k, layer in enumerate(layers):
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        count, mean, spread = 0, 0.0, 0.0  # spread: the sum of squared deviations
        for start in range(0, len(picks), chunk):
            with no_gradients():
                h = prepare_images(x[picks[start : start + chunk]], shape)
                for earlier in layers[:k]:
                    h = earlier(h, training=False)
                moments = keras.ops.moments(h, axes=list(range(len(h.shape) - 1)))
            m, v = (keras.ops.convert_to_numpy(a).astype(np.float64) for a in moments)
            n = int(np.prod(h.shape[:-1]))
            delta, total = m - mean, count + n
            mean, spread = mean + delta * n / total, spread + v * n + delta * delta * count * n / total
            count = total
        layer.moving_mean.assign(np.asarray(mean, dtype=np.float32))
        layer.moving_variance.assign(np.asarray(spread / count, dtype=np.float32))
