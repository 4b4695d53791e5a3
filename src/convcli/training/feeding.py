"""What ``fit`` and ``evaluate`` read: with TensorFlow in one process, ``tf.data`` pipelines of
batches made by NumPy (:func:`convcli.backend.tf_batches`); with JAX or PyTorch, and for
TensorFlow's training on several devices (``distribute``) or processes, Keras's own
``PyDataset`` and arrays. Both give the same batches.

Importing this module loads Keras: the training step imports it after the config's checks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend import keras, tf_batches
from ..datasets.idx import scale_images as prepare_images
from .config import TrainConfig
from .data import RunBatches, ShuffledBatches, TrainingData

EVALUATION_BATCH = 1024
"""Pictures per batch for validation and the test set (no gradients: larger is faster)."""


def _through_tf(elsewhere: bool) -> bool:
    """Whether batches go through ``tf.data``: TensorFlow, unless ``elsewhere`` (the batches are
    split between devices or processes another way)."""
    return keras().backend.backend() == "tensorflow" and not elsewhere


def _slices(x: np.ndarray, y: np.ndarray, size: int, scale: bool) -> Any:
    """Fixed arrays as ``tf.data`` batches of ``size`` (``scale``: uint8 images, scaled batch by
    batch rather than all at once)."""

    def batch(k: int) -> tuple[np.ndarray, np.ndarray]:
        xb = x[k * size : (k + 1) * size]
        return prepare_images(xb) if scale else xb, y[k * size : (k + 1) * size]

    shape = prepare_images(x[:1]).shape[1:] if scale else x.shape[1:]
    return tf_batches(batch, math.ceil(len(x) / size), (shape, y.shape[1:]), (np.float32, y.dtype))


def fit_data(data: TrainingData, config: TrainConfig, first_epoch: int) -> dict[str, Any]:
    """``fit``'s training and validation data from epoch ``first_epoch`` on; ``shuffle`` off, as
    the batches come in the order drawn (Keras would otherwise visit a ``PyDataset``'s batches
    in a random order of its own, and the two backends' runs would differ)."""
    if not _through_tf(config.distribute or config.multi_process):
        batches = ShuffledBatches(
            data.x_train,
            data.y_train,
            data.batch_size,
            seed=config.seed + first_epoch,
            augment=config.augment,
            first_epoch=first_epoch,
            flip=config.flip,
        )
        validation = {"validation_data": data.validation, "validation_batch_size": EVALUATION_BATCH}
        return {"x": batches, "shuffle": False, **validation}
    run = RunBatches(data, config, first_epoch)
    shapes, dtypes = (data.input_shape, data.y_train.shape[1:]), (np.float32, data.y_train.dtype)
    arguments: dict[str, Any] = {"x": tf_batches(run, len(run), shapes, dtypes), "steps_per_epoch": data.steps}
    arguments["shuffle"] = False
    if data.validation is not None:
        arguments["validation_data"] = _slices(*data.validation, EVALUATION_BATCH, scale=False)
    return arguments


def evaluation_data(data: TrainingData, multi_process: bool) -> dict[str, Any]:
    """``evaluate``'s test data: every process its shard, in training-sized batches when there
    are several (Keras combines them); one TensorFlow process, distributed over devices or not,
    reads them through ``tf.data`` (MirroredStrategy splits its batches)."""
    if not _through_tf(multi_process):
        size = data.batch_size if multi_process else EVALUATION_BATCH
        return {"x": prepare_images(data.x_test), "y": data.y_test, "batch_size": size}
    return {"x": _slices(data.x_test, data.y_test, EVALUATION_BATCH, scale=True)}
