"""The data one training process sees: a seeded validation split, this process's shard, and
shuffled batches, shifted at random by whole pixels (and, for photos, mirrored).

Importing this module loads Keras: the training step imports it after the config's checks.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import keras as _keras
from ..datasets.idx import CLASS_NAMES, Dataset, load_dataset
from ..datasets.idx import scale_images as prepare_images
from ..errors import input_error
from ..i18n import tr
from ..models.metadata import ModelMeta, default_meta
from .config import TrainConfig
from .objective import targets

keras = _keras()

AUGMENT_FROM_EPOCH = 1
"""Shifts start with the second epoch (index 1): the first learns the plain digits fast, the
rest generalise (measured: 99.0% test accuracy two epochs earlier than shifting from the start)."""


@dataclass
class TrainingData:
    """One process's arrays: uint8 training images and their targets, scaled validation images,
    and its share of the test set (kept for the end); what the model will be told about them
    (``meta``) and what the run record says about them (``details``)."""

    source: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_images: int
    batch_size: int
    meta: ModelMeta
    details: dict[str, Any]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one image."""
        return self.meta.input_shape

    @property
    def num_classes(self) -> int:
        """How many classes the model must score."""
        return self.meta.num_classes

    @property
    def steps(self) -> int:
        """Batches per epoch."""
        return math.ceil(len(self.x_train) / self.batch_size)

    @property
    def validation(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``fit``'s ``validation_data``: None when nothing is held out."""
        return (self.x_val, self.y_val) if len(self.x_val) else None


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """A seeded shuffle, then the last ``fraction`` of the training set held out for validation."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = round(len(x) * fraction)
    if fraction > 0 and n_val == 0:
        n_val = 1
    train_idx, val_idx = order[: len(x) - n_val], order[len(x) - n_val :]
    return x[train_idx], y[train_idx], x[val_idx], y[val_idx]


def shard(process_id: int, processes: int, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every ``processes``-th item from ``process_id`` on, cut to equal sizes so that every
    process runs the same number of steps."""
    size = len(arrays[0]) // processes
    return tuple(a[process_id::processes][:size] for a in arrays)


def model_meta(data: Dataset) -> ModelMeta:
    """What a model trained on ``data`` stores about it: a built-in dataset's defaults, or the
    class names, input shape, colour and preparation of a folder or IDX set."""
    if data.name in CLASS_NAMES:
        return default_meta(data.name)
    return ModelMeta(
        dataset=data.name,
        class_names=data.class_names,
        input_shape=data.input_shape,
        color=data.color,
        preparation=data.preparation,
        source=str(data.details.get("folder", data.source)),
        paper=training_paper(data.x_train),
    )


def training_paper(x: np.ndarray) -> str:
    """``light`` when the pictures' border pixels are mostly light (dark on white), else ``dark``:
    what a drawing or upload is turned into before the model sees it (explain's canvas)."""
    if not len(x):
        return ""
    sample = np.asarray(x[:: max(1, len(x) // 500)], dtype=np.float64)
    border = np.concatenate([sample[:, 0], sample[:, -1], sample[:, :, 0], sample[:, :, -1]], axis=1)
    return "light" if float(np.median(border)) >= 128 else "dark"


def read_dataset(config: TrainConfig, log: Callable[[str], None], warn: Callable[[str], None]) -> Dataset:
    """The run's dataset: the ``data`` folder (pictures or an IDX set), else the built-in one."""
    if config.data is None:
        log(tr("loading {name}").format(name=config.dataset))
        return load_dataset(config.dataset, config.data_dir)
    from ..datasets.folders import FolderOptions, load_data_folder

    log(tr("loading {name}").format(name=config.data))
    image_size = (*config.image_size,) if config.image_size else None
    options = FolderOptions(image_size, config.color, config.test_split, config.seed, config.strict)  # type: ignore[arg-type]
    return load_data_folder(config.data, options, warn)


def load_training_data(
    config: TrainConfig, log: Callable[[str], None], warn: Callable[[str], None] | None = None
) -> TrainingData:
    """Load, limit, split and (for several processes) shard the dataset; targets follow the loss."""
    data = read_dataset(config, log, warn or log)
    x_all, y_all = data.x_train[: config.limit], data.y_train[: config.limit]
    x_train, y_train, x_val, y_val = split_validation(x_all, y_all, config.validation_split, config.seed)
    x_test, y_test, batch_size = data.x_test, data.y_test, config.batch_size
    if config.multi_process:
        # Each process reads only its own shard; the global batch is split evenly between them.
        n, i = config.num_processes or 1, config.process_id or 0
        if batch_size % n:
            raise input_error(
                tr("batch_size {size} must divide evenly between {n} processes").format(size=batch_size, n=n)
            )
        batch_size //= n
        x_train, y_train = shard(i, n, x_train, y_train)
        x_val, y_val = shard(i, n, x_val, y_val)
        x_test, y_test = shard(i, n, x_test, y_test)
    if len(x_train) == 0:
        raise input_error(tr("no training images left after the validation split"))
    name = config.dataset if config.data is None else data.name
    line = tr(
        "{name} from {source}: {train:,} training and {validation:,} validation images; "
        "the {test:,} test images are kept for the end"
    )
    log(line.format(name=name, source=data.source, train=len(x_train), validation=len(x_val), test=len(data.x_test)))
    smoothing, classes = config.label_smoothing, len(data.class_names)
    return TrainingData(
        data.source,
        x_train,
        targets(y_train, smoothing, classes),
        prepare_images(x_val),
        targets(y_val, smoothing, classes),
        x_test,
        targets(y_test, smoothing, classes),
        len(x_test) * (config.num_processes if config.multi_process else 1),
        batch_size,
        model_meta(data),
        {**data.details, "classes": data.class_names} if config.data is not None else {},
    )


def max_shift(input_shape: tuple[int, ...]) -> int:
    """How far ``augment`` shifts: 2 pixels on MNIST's 28×28, the same share of larger images."""
    return max(1, round(min(input_shape[0], input_shape[1]) * 2 / 28))


def shift_images(x: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Shift each image of (N, H, W[, C]) by its whole-pixel (dy, dx), filling with zeros
    (vectorised: one slice copy per distinct shift).

    By hand rather than ``keras.layers.RandomTranslation``: for whole-pixel shifts slicing takes
    0.3 ms a batch of 128, the layer's affine warp 2.3–8 ms (measured: +30% CPU for ``train cnn``).
    """
    out = np.zeros_like(x)
    height, width = x.shape[1], x.shape[2]
    for dy, dx in {(int(a), int(b)) for a, b in shifts}:
        idx = np.nonzero((shifts[:, 0] == dy) & (shifts[:, 1] == dx))[0]
        ys, yd = slice(max(dy, 0), height + min(dy, 0)), slice(max(-dy, 0), height + min(-dy, 0))
        xs, xd = slice(max(dx, 0), width + min(dx, 0)), slice(max(-dx, 0), width + min(-dx, 0))
        out[idx, yd, xd] = x[idx][:, ys, xs]
    return out


@dataclass(frozen=True)
class EpochDraws:
    """One epoch's randomness, drawn before its first batch: the order of the training images,
    each one's whole-pixel shift (dy, dx) and whether it is mirrored, all in that order."""

    order: np.ndarray
    shifts: np.ndarray
    mirrored: np.ndarray


class EpochDrawer:
    """Draws each epoch's :class:`EpochDraws` from one seeded stream, batch by batch, so that
    the NumPy batches (:class:`ShuffledBatches`) and TensorFlow's pipeline
    (:class:`RunBatches` through :func:`convcli.backend.tf_batches`) train on the same pictures,
    shifted alike.

    The stream: an order before the first epoch (which trains nothing), then per epoch the
    order and, batch by batch, the shifts and mirrorings; ``fit`` reads the batches in that order
    (``shuffle=False``: the order is already drawn).
    """

    def __init__(self, count: int, batch_size: int, *, seed: int, augment: bool, flip: bool, shift: int) -> None:
        self.count, self.batch_size = count, batch_size
        self.augment, self.flip, self.shift = augment, flip, shift
        self.rng = np.random.default_rng(seed + 1)
        self.rng.permutation(count)  # the order before the first epoch

    def draw(self, epoch: int) -> EpochDraws:
        """The next epoch's draws; ``epoch`` (counted from 0) says whether it shifts."""
        order = self.rng.permutation(self.count)
        shifts = np.zeros((self.count, 2), dtype=np.int32)
        mirrored = np.zeros(self.count, dtype=bool)
        shifting = self.augment and epoch >= AUGMENT_FROM_EPOCH
        for start in range(0, self.count, self.batch_size):
            size = min(self.batch_size, self.count - start)
            if shifting:
                shifts[start : start + size] = self.rng.integers(-self.shift, self.shift + 1, size=(size, 2))
            if self.flip:
                mirrored[start : start + size] = self.rng.random(size) < 0.5
        return EpochDraws(order, shifts, mirrored)


def drawn_batch(x: np.ndarray, draws: EpochDraws, start: int, stop: int) -> np.ndarray:
    """Training images ``start:stop`` of an epoch as the model sees them: scaled, then shifted
    and mirrored as drawn (the NumPy reference for TensorFlow's pipeline)."""
    xb = prepare_images(x[draws.order[start:stop]])
    shifts = draws.shifts[start:stop]
    if shifts.any():
        xb = shift_images(xb, shifts)
    mirrored = draws.mirrored[start:stop]
    xb[mirrored] = xb[mirrored, :, ::-1]
    return xb


class ShuffledBatches(keras.utils.PyDataset):
    """Batches in a fresh order each epoch and, with ``augment``, randomly shifted from epoch
    :data:`AUGMENT_FROM_EPOCH` on (with ``flip``, half of them mirrored left to right from the
    first), so one ``fit`` call runs every epoch.

    ``x`` holds uint8 images and each batch is scaled as it is drawn: the same float values as
    scaling all 60,000 up front, without its 0.84–0.88 s of start-up and 190 MB of memory.
    Used with the JAX and PyTorch backends and for distributed runs; a single TensorFlow
    process trains on the same batches through :class:`RunBatches` (:mod:`convcli.training.feeding`).
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        *,
        seed: int,
        augment: bool,
        first_epoch: int = 0,
        flip: bool = False,
    ) -> None:
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.drawer = EpochDrawer(
            len(x), batch_size, seed=seed, augment=augment, flip=flip, shift=max_shift(x.shape[1:])
        )
        # fit() calls on_epoch_end once before the first epoch (EpochIterator.reset), which
        # draws the epoch being trained; until then, batches (Keras reads one or two to learn
        # the shapes) come in the images' own order.
        self.epoch = first_epoch - 1
        plain = np.zeros(len(x), dtype=bool)
        self.draws = EpochDraws(np.arange(len(x)), np.zeros((len(x), 2), dtype=np.int32), plain)

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        start, stop, draws = index * self.batch_size, min((index + 1) * self.batch_size, len(self.x)), self.draws
        return drawn_batch(self.x, draws, start, stop), self.y[draws.order[start:stop]]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.draws = self.drawer.draw(self.epoch)


class RunBatches:
    """Every remaining epoch's batches, numbered on from 0 across the epochs: what one TensorFlow
    ``fit`` call reads (:func:`convcli.backend.tf_batches`), the same as :class:`ShuffledBatches`
    gives epoch by epoch. Batches are asked for in order; only the current epoch's draws are kept
    (all of them up front would take 17 bytes per picture per epoch)."""

    def __init__(self, data: TrainingData, config: TrainConfig, first_epoch: int) -> None:
        self.x, self.y, self.batch_size, self.steps = data.x_train, data.y_train, data.batch_size, data.steps
        self.drawer = EpochDrawer(
            len(self.x),
            self.batch_size,
            seed=config.seed + first_epoch,
            augment=config.augment,
            flip=config.flip,
            shift=max_shift(self.x.shape[1:]),
        )
        self.first_epoch, self.epochs = first_epoch, config.epochs
        self.epoch, self.draws = first_epoch - 1, EpochDraws(np.arange(0), np.zeros((0, 2)), np.zeros(0, dtype=bool))
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return (self.epochs - self.first_epoch) * self.steps

    def _draws(self, epoch: int) -> EpochDraws:
        """Epoch ``epoch``'s draws, drawing the epochs up to it from the stream."""
        with self.lock:
            if epoch < self.epoch:
                raise RuntimeError(f"batches of epoch {epoch} asked for after epoch {self.epoch}'s")
            while self.epoch < epoch:
                self.epoch += 1
                self.draws = self.drawer.draw(self.epoch)
            return self.draws

    def __call__(self, number: int) -> tuple[np.ndarray, np.ndarray]:
        epoch, index = divmod(number, self.steps)
        draws, start = self._draws(self.first_epoch + epoch), index * self.batch_size
        stop = min(start + self.batch_size, len(self.x))
        return drawn_batch(self.x, draws, start, stop), self.y[draws.order[start:stop]]
