"""What ``fit`` reads: TensorFlow's ``tf.data`` pipeline and Keras's ``PyDataset`` give the same
batches, each epoch once and in order, drawn from the same seeded stream as before."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from convcli.models.metadata import default_meta
from convcli.training.config import TrainConfig


def training_data(x: np.ndarray, y: np.ndarray, batch_size: int):  # type: ignore[no-untyped-def]
    """A TrainingData of ``x`` and ``y``, with 10 uint8 images held out and 10 for the test."""
    from convcli.datasets.idx import scale_images
    from convcli.training.data import TrainingData

    meta = dataclasses.replace(default_meta("mnist"), input_shape=scale_images(x[:1]).shape[1:])
    return TrainingData(
        "test",
        x[10:],
        y[10:],
        scale_images(x[:10]),
        y[:10],
        x[:10],
        y[:10],
        10,
        batch_size,
        meta,
        {},
    )


def config(epochs: int, *, flip: bool = False, seed: int = 3) -> TrainConfig:
    run = TrainConfig.from_preset("cnn", None, epochs=epochs, seed=seed)
    run.flip = flip
    return run


@pytest.mark.parametrize("shape", [(28, 28), (20, 30, 3)])
@pytest.mark.parametrize("first_epoch", [0, 2])
def test_run_batches_are_the_pydataset_batches(rng, shape, first_epoch) -> None:
    """Batch k of RunBatches (TensorFlow's source) is the PyDataset's batch k mod steps of that
    epoch, shifts and mirrorings included, for a fresh run and a resumed one."""
    from convcli.training.data import RunBatches, ShuffledBatches

    x = rng.integers(0, 256, (310, *shape)).astype(np.uint8)
    data = training_data(x, np.arange(310), 64)
    run = config(4, flip=len(shape) == 3)
    flat = RunBatches(data, run, first_epoch)
    assert len(flat) == (4 - first_epoch) * 5  # 300 pictures, 5 batches an epoch
    seed = run.seed + first_epoch
    batches = ShuffledBatches(
        data.x_train, data.y_train, 64, seed=seed, augment=True, first_epoch=first_epoch, flip=run.flip
    )
    shifted = mirrored = 0
    for epoch in range(first_epoch, 4):
        batches.on_epoch_end()
        assert batches.epoch == epoch
        for index in range(len(batches)):
            xb, yb = batches[index]
            xf, yf = flat((epoch - first_epoch) * 5 + index)
            np.testing.assert_array_equal(xb, xf)
            np.testing.assert_array_equal(yb, yf)
            plain = data.x_train[yb - 10].reshape(xb.shape).astype(np.float32) / 255  # labels: index + 10
            shifted += sum(not np.array_equal(a, b) and not np.array_equal(a, b[:, ::-1]) for a, b in zip(xb, plain))
            mirrored += sum(np.array_equal(a, b[:, ::-1]) and not np.array_equal(a, b) for a, b in zip(xb, plain))
    assert shifted > 100  # from the second epoch on
    assert (mirrored > 10) == run.flip  # counted only where no shift was drawn


@pytest.mark.parametrize("flip", [False, True])
def test_the_seeded_stream(flip) -> None:
    """Same seed, same run: an order before the first epoch, then per epoch an order and, batch by
    batch, the shifts and then the mirrorings (written out here with NumPy's generator)."""
    from convcli.training.data import EpochDrawer

    drawer = EpochDrawer(300, 128, seed=5, augment=True, flip=flip, shift=2)
    reference = np.random.default_rng(6)
    reference.permutation(300)
    for epoch in range(3):
        draws = drawer.draw(epoch)
        np.testing.assert_array_equal(draws.order, reference.permutation(300))
        shifts, mirrored = [], []
        for n in (128, 128, 44):
            shifts.append(reference.integers(-2, 3, size=(n, 2)) if epoch else np.zeros((n, 2), dtype=int))
            mirrored.append(reference.random(n) < 0.5 if flip else np.zeros(n, dtype=bool))
        np.testing.assert_array_equal(draws.shifts, np.concatenate(shifts))
        np.testing.assert_array_equal(draws.mirrored, np.concatenate(mirrored))
        assert draws.mirrored.any() == flip and draws.shifts.any() == (epoch > 0)


def test_the_tf_pipeline_holds_the_numpy_batches(rng) -> None:
    """tf.data gives back exactly what the NumPy function made, batch by batch, with shapes Keras
    can trace (a known batch rank, images' and targets' shapes)."""
    from convcli.backend import tf_batches
    from convcli.training.data import RunBatches

    x = rng.integers(0, 256, (150, 20, 30, 3)).astype(np.uint8)
    targets = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 150)]
    data = training_data(x, targets, 32)
    run = RunBatches(data, config(2, flip=True), 0)
    dataset = tf_batches(run, len(run), ((20, 30, 3), (10,)), (np.float32, np.float32))
    assert [tuple(spec.shape) for spec in dataset.element_spec] == [(None, 20, 30, 3), (None, 10)]
    got = list(dataset.as_numpy_iterator())
    reference = RunBatches(data, config(2, flip=True), 0)
    assert len(got) == len(run) == 10
    for k, (xb, yb) in enumerate(got):
        expected = reference(k)
        np.testing.assert_array_equal(xb, expected[0])
        np.testing.assert_array_equal(yb, expected[1])
    with pytest.raises(RuntimeError, match="asked for after"):
        reference(0)  # in order only: the epochs before are no longer held


@pytest.mark.backend
@pytest.mark.parametrize("first_epoch", [0, 1])
def test_fit_reads_every_epoch_once_in_order(rng, first_epoch) -> None:
    """Through a real ``fit`` on the backend in use, from the start and resumed after epoch 1: a
    layer adds up every pixel it trains on, and each epoch's sum is that epoch's drawn batches'
    (a reset iterator would repeat the first epoch's batches)."""
    import keras

    from convcli.training.data import RunBatches
    from convcli.training.feeding import fit_data

    class Sums(keras.layers.Layer):
        def build(self, input_shape) -> None:  # type: ignore[no-untyped-def]
            self.total = self.add_weight(shape=(), initializer="zeros", trainable=False, dtype="float32")

        def call(self, inputs, training=False):  # type: ignore[no-untyped-def]
            if training:
                self.total.assign(self.total + keras.ops.sum(inputs))
            return inputs

    sums = Sums()
    seen: list[float] = []

    class Each(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None) -> None:  # type: ignore[no-untyped-def]
            seen.append(float(keras.ops.convert_to_numpy(sums.total)) - sum(seen))

    x = rng.integers(1, 256, (266, 28, 28)).astype(np.uint8)
    data = training_data(x, rng.integers(0, 10, 266).astype(np.uint8), 64)
    run = config(3)
    run.label_smoothing = 0.0
    model = keras.Sequential([keras.Input((28, 28, 1)), sums, keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="sgd")
    model.fit(**fit_data(data, run, first_epoch), epochs=3, initial_epoch=first_epoch, verbose=0, callbacks=[Each()])
    flat = RunBatches(data, run, first_epoch)
    epochs = range(3 - first_epoch)
    expected = [sum(float(flat(epoch * 4 + i)[0].sum(dtype=np.float64)) for i in range(4)) for epoch in epochs]
    np.testing.assert_allclose(seen, expected, rtol=1e-5)
    assert len(set(expected)) == len(expected)  # every epoch shifted differently (or not at all)
