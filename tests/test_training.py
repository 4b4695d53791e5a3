"""Training mechanics on small slices of the real MNIST data: records, seeds, interruption, resume."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
from conftest import mnist_dir

from convcli.training import TrainConfig, checkpoint_path_for, read_checkpoint_state, train

MNIST = mnist_dir()
pytestmark = [pytest.mark.skipif(MNIST is None, reason="MNIST files not beside the project"), pytest.mark.backend]


def small_config(tmp_path, **kw) -> TrainConfig:
    base = {
        "output": str(tmp_path / "m.keras"),
        "epochs": 2,
        "limit": 1500,
        "data_dir": str(MNIST),
        "validation_split": 0.2,
    }
    preset = kw.pop("preset", "softmax")
    base.update(kw)
    return TrainConfig.from_preset(preset, None, **base)


def test_train_cli_writes_model_and_record(cli, tmp_path) -> None:
    out = tmp_path / "soft.keras"
    result = cli("train", "softmax", "-o", out, "--epochs", "1", "--limit", "3000", "--data-dir", MNIST, "--json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert out.exists() and (tmp_path / "soft.json").exists()
    assert json.loads((tmp_path / "soft.json").read_text()) == record
    assert record["status"] == "completed" and record["preset"] == "softmax"
    assert record["params"] == 7850 and len(record["history"]) == 1
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(record["history"][0])
    assert record["train_images"] == 2700 and record["validation_images"] == 300
    assert 0.6 < record["test"]["accuracy"] <= 1 and record["test"]["n"] == 10000
    assert record["versions"]["backend"] == os.environ.get("KERAS_BACKEND", "tensorflow")
    assert "epoch 1/1" in result.stderr  # the plain progress log (stdout carries only JSON)
    assert not checkpoint_path_for(out).exists()

    evaluated = cli("evaluate", out, "--data-dir", MNIST, "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["accuracy"] == pytest.approx(record["test"]["accuracy"], abs=1e-9)


def test_plain_progress_lines_when_piped(cli, tmp_path) -> None:
    result = cli(
        "train",
        "--layers",
        "flatten,dense(10)",
        "-o",
        tmp_path / "x.keras",
        "--epochs",
        "2",
        "--limit",
        "500",
        "--data-dir",
        MNIST,
    )
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert lines[0].startswith("epoch 1/2  loss ") and lines[1].startswith("epoch 2/2  loss ")
    assert result.stdout.startswith("loading mnist\n")
    assert "test accuracy" in result.stdout


def test_seed_makes_runs_repeatable(tmp_path) -> None:
    a = train(small_config(tmp_path / "a", preset="lecture-cnn", epochs=1, output=str(tmp_path / "a.keras")))
    b = train(small_config(tmp_path / "b", preset="lecture-cnn", epochs=1, output=str(tmp_path / "b.keras")))
    assert a.record["history"][0]["loss"] == b.record["history"][0]["loss"]
    assert a.record["test"]["accuracy"] == b.record["test"]["accuracy"]


class InterruptAt:
    """A reporter that sends the process a signal at (epoch, batch)."""

    def __init__(self, epoch: int, batch: int, sig: int = signal.SIGINT) -> None:
        self.at, self.sig = (epoch, batch), sig

    def on_train_begin(self, epochs, steps, initial_epoch) -> None: ...
    def on_epoch_end(self, epoch, logs) -> None: ...
    def on_train_end(self) -> None: ...

    def on_batch_end(self, epoch, batch, logs) -> None:
        if (epoch, batch) == self.at:
            os.kill(os.getpid(), self.sig)


def test_interrupt_then_resume(tmp_path) -> None:
    config = small_config(tmp_path, epochs=3)
    result = train(config, reporter=InterruptAt(1, 3))
    assert result.interrupted and result.signal_name == "SIGINT" and result.exit_code == 130
    out = tmp_path / "m.keras"
    assert not out.exists()  # no model file from an interrupted run
    ckpt = checkpoint_path_for(out)
    state = read_checkpoint_state(ckpt)
    assert state["epochs_completed"] == 1 and state["status"] == "interrupted"
    record = json.loads((tmp_path / "m.json").read_text())
    assert record["status"] == "interrupted" and record["resume"].endswith("m.ckpt.keras")

    resumed = train(TrainConfig(spec="", output=str(out)), resume=ckpt)
    assert not resumed.interrupted
    assert resumed.record["epochs_completed"] == 3
    assert [h["epoch"] for h in resumed.record["history"]] == [1, 2, 3]
    assert out.exists() and not ckpt.exists()


def test_label_smoothing_trains_resumes_and_is_recorded(tmp_path) -> None:
    """The cnn preset smooths its targets by 0.1; the setting survives an interruption."""
    assert TrainConfig.from_preset("cnn").label_smoothing == 0.1
    assert TrainConfig.from_preset("softmax").label_smoothing == 0.0
    config = small_config(tmp_path, epochs=2, label_smoothing=0.2)
    result = train(config, reporter=InterruptAt(1, 1))
    assert result.interrupted
    resumed = train(TrainConfig(spec="", output=config.output), resume=checkpoint_path_for(config.output))
    record = resumed.record
    assert record["hyperparameters"]["label_smoothing"] == 0.2 and record["epochs_completed"] == 2
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(record["history"][-1])
    assert 0.3 < record["history"][-1]["val_accuracy"] <= 1 and 0.3 < record["test"]["accuracy"] <= 1


def test_smoothed_loss_is_the_formula() -> None:
    """ε = 0.1: the target is 0.91 on the true class and 0.01 elsewhere; −Σ t·ln p by hand."""
    from convcli.backend import keras
    from convcli.training import _loss, _targets

    p = np.array([[0.7, 0.1, 0.2] + [0.0] * 7, [0.05] * 8 + [0.3, 0.3]], dtype=np.float32)
    y = np.array([0, 9])
    loss = _loss(keras(), 0.1)
    got = float(loss(_targets(y, 0.1), p))
    t = np.full((2, 10), 0.01)
    t[[0, 1], y] = 0.91
    expected = float(np.mean(-(t * np.log(np.clip(p, 1e-7, 1))).sum(axis=1)))
    assert got == pytest.approx(expected, rel=1e-5)
    assert _loss(keras(), 0.0) == "sparse_categorical_crossentropy"


def test_targets_and_batches(rng) -> None:
    """One-hot smoothing targets; batches scaled one at a time equal the whole set scaled at once."""
    from convcli.backend import keras
    from convcli.datasets import scale_images as prepare_images
    from convcli.training import _batches, _targets

    y = np.array([3, 0, 9])
    np.testing.assert_array_equal(_targets(y, 0.0), y)
    np.testing.assert_array_equal(_targets(y, 0.1), np.eye(10, dtype=np.float32)[y])
    x = rng.integers(0, 256, (300, 28, 28)).astype(np.uint8)
    labels = np.arange(300)
    batches = _batches(keras(), x, labels, 128, seed=0, augment=False)
    whole = prepare_images(x)
    assert len(batches) == 3
    for i in range(3):
        xb, yb = batches[i]
        assert xb.dtype == np.float32 and xb.shape[1:] == (28, 28, 1)
        np.testing.assert_array_equal(xb, whole[yb])  # labels are the indices here


def test_sigterm_is_exit_status_1(tmp_path) -> None:
    result = train(small_config(tmp_path, epochs=1), reporter=InterruptAt(0, 2, signal.SIGTERM))
    assert result.interrupted and result.exit_code == 1


def test_bad_training_options(cli, tmp_path) -> None:
    for args, fragment in [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--validation-split", "1.5"], "--validation-split"),
        (["--learning-rate", "-1"], "--learning-rate"),
        (["--label-smoothing", "1"], "--label-smoothing must be in [0, 1)"),
        (["--label-smoothing", "-0.1"], "--label-smoothing"),
        (["-o", str(tmp_path / "m.h5")], "must end in .keras"),
        (["-o", str(tmp_path / "nope" / "m.keras")], "does not exist"),
    ]:
        result = cli("train", "softmax", *args, "--data-dir", MNIST)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stderr.startswith("Error: ") and fragment in result.stderr
    assert cli("train", "sofmax").stderr.startswith("Error: unknown preset 'sofmax' (did you mean 'softmax'?)")


def test_evaluate_confusion_matches_independent_count(cli, tmp_path) -> None:
    import keras

    from convcli.datasets import load_dataset
    from convcli.models import build_model

    keras.utils.set_random_seed(3)
    model = build_model("conv(4,3),pool(4),flatten,dense(10)")
    path = tmp_path / "untrained.keras"
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(path)
    result = cli("evaluate", path, "--data-dir", MNIST, "--json")
    assert result.exit_code == 0, result.stderr
    got = json.loads(result.stdout)
    data = load_dataset("mnist", MNIST)
    probs = model.predict(data.x_test.reshape(-1, 28, 28, 1).astype("float32") / 255, verbose=0)
    pred = probs.argmax(axis=1)
    expected = np.zeros((10, 10), dtype=int)
    for t, p in zip(data.y_test, pred):
        expected[t, p] += 1
    assert got["confusion"] == expected.tolist()
    assert got["n"] == 10000 and got["accuracy"] == pytest.approx((pred == data.y_test).mean())
    loss = -np.mean(np.log(np.clip(probs[np.arange(10000), data.y_test], 1e-7, 1)))
    assert got["loss"] == pytest.approx(float(loss), rel=1e-4)
    for row in got["per_class"]:
        c = row["class"]
        tp = expected[c, c]
        assert row["support"] == expected[c].sum()
        if expected[:, c].sum():
            assert row["precision"] == pytest.approx(tp / expected[:, c].sum())
        assert row["recall"] == pytest.approx(tp / expected[c].sum())
