"""Training mechanics on small slices of the real MNIST data: records, seeds, interruption, resume."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import asdict

import numpy as np
import pytest
from conftest import MNIST, requires_fashion, requires_mnist

from convcli.models.presets import PRESETS, Hyperparameters
from convcli.training.checkpoints import checkpoint_path_for, read_checkpoint_state
from convcli.training.run import TrainConfig, train

pytestmark = [requires_mnist, pytest.mark.backend]


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
    assert record["hyperparameters"] == {
        **asdict(PRESETS["softmax"].training),
        "epochs": 1,
        "optimizer": "adam",
        "limit": 3000,
    }
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(record["history"][0])
    assert record["train_images"] == 2700 and record["validation_images"] == 300
    assert 0.6 < record["test"]["accuracy"] <= 1 and record["test"]["n"] == 10000
    assert record["versions"]["backend"] == os.environ.get("KERAS_BACKEND", "tensorflow")
    assert "epoch 1/1" in result.stderr  # the plain progress log (stdout carries only JSON)
    assert not checkpoint_path_for(out).exists()

    evaluated = cli("evaluate", out, "--data-dir", MNIST, "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["accuracy"] == pytest.approx(record["test"]["accuracy"], abs=1e-9)
    # Without label smoothing the recorded test loss is the plain cross-entropy `evaluate` reports.
    assert record["loss_label"] == "cross-entropy"
    assert json.loads(evaluated.stdout)["loss"] == pytest.approx(record["test"]["loss"], rel=1e-5)


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
    lines = [line for line in result.stderr.splitlines() if line.startswith("epoch ")]
    assert lines[0].startswith("epoch 1/2  loss ") and lines[1].startswith("epoch 2/2  loss ")
    assert result.stderr.startswith("loading mnist\n")
    # stdout holds the results only: the accuracy and the two files written (progress is stderr's)
    out = result.stdout.splitlines()
    assert [line.split()[0] for line in out] == ["test", "model:", "record:"], result.stdout
    assert out[1] == f"model: {tmp_path / 'x.keras'}" and out[2] == f"record: {tmp_path / 'x.json'}"


def test_seed_makes_runs_repeatable(tmp_path) -> None:
    a = train(small_config(tmp_path / "a", preset="lecture-cnn", epochs=1, output=str(tmp_path / "a.keras")))
    b = train(small_config(tmp_path / "b", preset="lecture-cnn", epochs=1, output=str(tmp_path / "b.keras")))
    assert a.record["history"][0]["loss"] == b.record["history"][0]["loss"]
    assert a.record["test"]["accuracy"] == b.record["test"]["accuracy"]


def interrupt_at(epoch: int, batch: int, sig: int = signal.SIGINT):  # type: ignore[no-untyped-def]
    """A Keras callback that sends this process ``sig`` after batch ``batch`` of epoch ``epoch``."""
    import keras

    class InterruptAt(keras.callbacks.Callback):
        def on_epoch_begin(self, e, logs=None):  # type: ignore[no-untyped-def]
            self.epoch = e

        def on_train_batch_end(self, b, logs=None):  # type: ignore[no-untyped-def]
            if (self.epoch, b) == (epoch, batch):
                os.kill(os.getpid(), sig)

    return InterruptAt()


def test_interrupt_then_resume(tmp_path) -> None:
    config = small_config(tmp_path, epochs=3)
    result = train(config, callbacks=[interrupt_at(1, 3)])
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


def test_resume_applies_epochs_and_refuses_what_defines_the_run(cli, tmp_path) -> None:
    """`train --resume CKPT --epochs 3 --lr 0.1 --batch-size 7` used to ignore all three silently."""
    from convcli.errors import ConvcliError

    config = small_config(tmp_path, epochs=2)
    assert train(config, callbacks=[interrupt_at(1, 2)]).interrupted
    ckpt = checkpoint_path_for(config.output)
    before = read_checkpoint_state(ckpt)
    refused = cli("train", "--resume", ckpt, "--epochs", "3", "--lr", "0.1", "--batch-size", "7")
    assert refused.exit_code == 2
    error = refused.stderr.strip()
    assert error.startswith("Error: --resume goes on with the checkpoint's settings")
    assert "--learning-rate 0.1 (the checkpoint has --learning-rate 0.001)" in error
    assert "--batch-size 7 (the checkpoint has --batch-size 128)" in error
    assert "--epochs 3" not in error and "Only --epochs, --output, --data-dir can change" in error
    assert read_checkpoint_state(ckpt) == before  # nothing touched
    with pytest.raises(ConvcliError, match=r"learning_rate=0\.1 \(the checkpoint's: 0\.001\)"):
        train(TrainConfig(spec="", output=config.output), resume=ckpt, changes={"learning_rate": 0.1})

    # Options equal to the checkpoint's are fine; --epochs applies.
    args = ("train", "softmax", "--resume", ckpt, "--epochs", "3", "--batch-size", "128", "--no-augment", "--json")
    resumed = cli(*args, "--data-dir", MNIST)
    assert resumed.exit_code == 0, resumed.stderr
    record = json.loads(resumed.stdout)
    assert record["epochs_completed"] == 3 and record["hyperparameters"]["epochs"] == 3
    assert [h["epoch"] for h in record["history"]] == [1, 2, 3]
    assert record["resumed"] == {"from": str(ckpt), "epochs_before": 1, "seconds_before": before["seconds"]}
    second_part = sum(h["seconds"] for h in record["history"][1:])
    assert record["seconds"] >= before["seconds"] + second_part  # both parts counted
    assert not ckpt.exists()
    from convcli.models.metadata import read_meta

    assert read_meta(config.output).stored and read_meta(config.output).dataset == "mnist"

    # The run is finished: resuming its removed checkpoint, or the model, says why nothing resumes.
    for given, problem in ((ckpt, "no such checkpoint"), (config.output, "not a convcli checkpoint")):
        again = cli("train", "--resume", given, "--epochs", "5")
        assert again.exit_code == 2
        lines = again.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {given}: {problem}")
        assert f"{config.output} is a finished run's model" in lines[0]
        assert "train again from the start with more --epochs (--force replaces the model)" in lines[0]


def test_resuming_a_missing_checkpoint_of_no_run_says_only_that(cli, tmp_path) -> None:
    """No record beside it (or one of an interrupted run): no claim about a finished run."""
    missing = tmp_path / "m.ckpt.keras"
    for record in (None, {"status": "interrupted"}, "not json"):
        if record is not None:
            (tmp_path / "m.json").write_text(record if isinstance(record, str) else json.dumps(record))
        result = cli("train", "--resume", missing)
        assert result.exit_code == 2
        assert result.stderr.strip() == f"Error: {missing}: no such checkpoint"


def test_resume_cannot_go_below_the_epochs_done(cli, tmp_path) -> None:
    from convcli.errors import ConvcliError

    config = small_config(tmp_path, epochs=3)
    assert train(config, callbacks=[interrupt_at(2, 1)]).interrupted
    ckpt = checkpoint_path_for(config.output)
    with pytest.raises(ConvcliError, match=r"`epochs` 1: .* has already completed 2 epochs; give `epochs` 2 or more"):
        train(TrainConfig(spec="", output=config.output), resume=ckpt, changes={"epochs": 1})
    for epochs in ("1", "0"):
        result = cli("train", "--resume", ckpt, "--epochs", epochs)
        assert result.exit_code == 2
        expected = f"Error: --epochs {epochs}: {ckpt} has already completed 2 epochs; give --epochs 2 or more"
        assert result.stderr.strip() == expected


def test_resume_to_another_output_is_refused_over_earlier_work_and_removes_its_checkpoint(cli, tmp_path) -> None:
    """Was: `train --resume m.ckpt.keras -o best.keras` replaced best.keras (and its record)
    without --force, and left m.ckpt.keras behind to be resumed again."""
    config = small_config(tmp_path, epochs=2)
    assert train(config, callbacks=[interrupt_at(1, 2)]).interrupted
    ckpt = checkpoint_path_for(config.output)
    best, other = tmp_path / "best.keras", tmp_path / "other.keras"
    best.write_bytes(b"a trained model")
    (tmp_path / "best.json").write_text('{"status": "completed"}')
    checkpoint_path_for(other).write_bytes(b"another interrupted run")
    for output, named in ((best, f"{best} and {tmp_path / 'best.json'} already exist"), (other, "other.ckpt.keras")):
        refused = cli("train", "--resume", ckpt, "-o", output)
        assert refused.exit_code == 2 and named in refused.stderr and "--force" in refused.stderr
        assert "epoch" not in refused.stdout
    assert best.read_bytes() == b"a trained model" and ckpt.exists()

    done = cli("train", "--resume", ckpt, "-o", best, "--force", "--json")
    assert done.exit_code == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["epochs_completed"] == 2 and record["resumed"]["from"] == str(ckpt)
    assert best.read_bytes()[:2] == b"PK" and json.loads((tmp_path / "best.json").read_text())["status"] == "completed"
    # A completed run removes the checkpoint it went on from, and that checkpoint's own record
    # (it said "interrupted", resume with a checkpoint that is gone, and blocked a fresh m.keras).
    assert not ckpt.exists() and not (tmp_path / "m.json").exists()


def test_resume_never_writes_the_model_over_its_checkpoint(cli, tmp_path) -> None:
    """Was: `--resume g.ckpt.keras -o g.ckpt.keras --force` wrote the model, then removed it as
    the checkpoint it went on from (exit 0, no model left)."""
    config = small_config(tmp_path, epochs=2)
    assert train(config, callbacks=[interrupt_at(1, 2)]).interrupted
    ckpt = checkpoint_path_for(config.output)
    before = ckpt.read_bytes()
    for force in ((), ("--force",)):
        refused = cli("train", "--resume", ckpt, "-o", ckpt, *force)
        assert refused.exit_code == 2
        expected = f"Error: {ckpt}: the model cannot be written over the checkpoint it goes on from"
        assert refused.stderr.strip() == expected + "; give another --output"
    assert ckpt.read_bytes() == before


def test_resume_from_the_checkpoints_folder(cli, tmp_path, monkeypatch) -> None:
    """A run started as `-o sub/k.keras` resumes from inside sub/ (was: "sub/k.keras: output folder
    sub does not exist", and `-o k.keras` refused because of the run's own record)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    config = small_config(tmp_path, epochs=2)
    config.output = "sub/k.keras"
    assert train(config, callbacks=[interrupt_at(1, 2)]).interrupted
    monkeypatch.chdir(tmp_path / "sub")
    for output in ((), ("-o", "k.keras")):
        done = cli("train", "--resume", "k.ckpt.keras", *output, "--json")
        assert done.exit_code == 0, done.stderr
        assert json.loads(done.stdout)["model"] == "k.keras" and (tmp_path / "sub" / "k.keras").exists()
        assert not (tmp_path / "sub" / "k.ckpt.keras").exists()
        if not output:  # again, for -o k.keras: an interrupted run in the same place
            monkeypatch.chdir(tmp_path)
            (tmp_path / "sub" / "k.keras").unlink()
            (tmp_path / "sub" / "k.json").unlink()
            assert train(config, callbacks=[interrupt_at(1, 2)]).interrupted
            monkeypatch.chdir(tmp_path / "sub")


def test_label_smoothing_trains_resumes_and_is_recorded(tmp_path) -> None:
    """The cnn preset smooths its targets by 0.1; the setting survives an interruption."""
    assert TrainConfig.from_preset("cnn").label_smoothing == 0.1
    assert TrainConfig.from_preset("softmax").label_smoothing == 0.0
    config = small_config(tmp_path, epochs=2, label_smoothing=0.2)
    result = train(config, callbacks=[interrupt_at(1, 1)])
    assert result.interrupted
    resumed = train(TrainConfig(spec="", output=config.output), resume=checkpoint_path_for(config.output))
    record = resumed.record
    assert record["hyperparameters"]["label_smoothing"] == 0.2 and record["epochs_completed"] == 2
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(record["history"][-1])
    assert 0.3 < record["history"][-1]["val_accuracy"] <= 1 and 0.3 < record["test"]["accuracy"] <= 1


def smoothed_cross_entropy(p: np.ndarray, y: np.ndarray, eps: float) -> float:
    """−Σ t·ln p by hand, with t = 1 − ε + ε/10 on the true class and ε/10 elsewhere."""
    t = np.full(p.shape, eps / 10)
    t[np.arange(len(y)), y] = 1 - eps + eps / 10
    return float(np.mean(-(t * np.log(np.clip(p, 1e-7, 1))).sum(axis=1)))


def test_smoothed_loss_is_the_formula() -> None:
    """ε = 0.1: the target is 0.91 on the true class and 0.01 elsewhere."""
    from convcli.training.objective import loss_key, loss_label, targets, training_loss

    p = np.array([[0.7, 0.1, 0.2] + [0.0] * 7, [0.05] * 8 + [0.3, 0.3]], dtype=np.float32)
    y = np.array([0, 9])
    got = float(training_loss(0.1)(targets(y, 0.1), p))
    assert got == pytest.approx(smoothed_cross_entropy(p, y, 0.1), rel=1e-5)
    assert training_loss(0.0) == "sparse_categorical_crossentropy"
    assert (loss_label(0.0), loss_label(0.1)) == ("cross-entropy", "cross-entropy with label smoothing 0.1")
    assert (loss_key("val_loss", 0.0), loss_key("val_loss", 0.2)) == ("val_loss", "val_loss(ε=0.2)")


def test_smoothed_losses_are_labelled_and_the_test_loss_is_smoothed_too(cli, tmp_path) -> None:
    """One meaning: the recorded test loss is the smoothed loss val_loss is, and says so."""
    out = tmp_path / "s.keras"
    args = ("train", "softmax", "-o", out, "--epochs", "1", "--limit", "2000", "--label-smoothing", "0.1")
    result = cli(*args, "--data-dir", MNIST)
    assert result.exit_code == 0, result.stderr
    epoch_line = next(line for line in result.stderr.splitlines() if line.startswith("epoch 1/1"))
    assert epoch_line.startswith("epoch 1/1  loss(ε=0.1) ") and "  val_loss(ε=0.1) " in epoch_line
    assert "  accuracy " in epoch_line and "  val_accuracy " in epoch_line
    record = json.loads((tmp_path / "s.json").read_text())
    assert record["loss_label"] == "cross-entropy with label smoothing 0.1"
    assert f"  loss(ε=0.1) {record['test']['loss']:.4f}  " in result.stdout  # the final line

    import keras

    from convcli.datasets.idx import load_dataset

    data = load_dataset("mnist", MNIST)
    probs = keras.saving.load_model(out).predict(data.x_test.reshape(-1, 28, 28, 1) / 255, verbose=0)
    assert record["test"]["loss"] == pytest.approx(smoothed_cross_entropy(probs, data.y_test, 0.1), rel=1e-4)
    plain = json.loads(cli("evaluate", out, "--data-dir", MNIST, "--json").stdout)["loss"]
    assert plain == pytest.approx(smoothed_cross_entropy(probs, data.y_test, 0.0), rel=1e-4)
    assert record["test"]["loss"] - plain > 0.01 * plain  # not the plain cross-entropy of the same model


def test_one_definition_of_the_training_defaults() -> None:
    """Presets, TrainConfig and the record share the Hyperparameters fields and defaults."""
    assert TrainConfig(spec="flatten,dense(10)").hyperparameters == asdict(Hyperparameters())
    for name, preset in PRESETS.items():
        assert TrainConfig.from_preset(name).hyperparameters == asdict(preset.training)
    cnn = TrainConfig.from_preset("cnn", epochs=3)
    assert (cnn.epochs, cnn.learning_rate, cnn.schedule, cnn.warmup) == (3, 8e-3, "onecycle", 0.2)
    assert (cnn.augment, cnn.label_smoothing, cnn.batch_size, cnn.beta_2) == (True, 0.1, 128, 0.99)
    assert TrainConfig.from_preset(None, "flatten,dense(10)").output == "model.keras"


def test_the_cnn_preset_trains_fashion_mnist_without_shifts() -> None:
    """Shifts crop garments (held out, 6 epochs: 91.46% without them, 90.82% with): the preset
    leaves them out for Fashion-MNIST only, and says so; digits, folders and the user's own flag
    keep theirs."""
    fashion = TrainConfig.from_preset("cnn", dataset="fashion-mnist")
    assert fashion.augment is False
    assert fashion.hyperparameters == {**asdict(PRESETS["cnn"].training), "augment": False}
    assert fashion.preset_note == "cnn on Fashion-MNIST: no random shifts (they crop the garments); --augment adds them"
    for config in (
        TrainConfig.from_preset("cnn"),
        TrainConfig.from_preset("cnn", dataset="mnist"),
        TrainConfig.from_preset("cnn", dataset="fashion-mnist", augment=True),
        TrainConfig.from_preset("cnn", dataset="fashion-mnist", data="garments/"),
    ):
        assert config.augment is True and config.preset_note is None
    assert TrainConfig.from_preset("mlp", dataset="fashion-mnist").preset_note is None


def test_a_presets_dataset_defaults_name_real_settings() -> None:
    from convcli.models.presets import Preset

    with pytest.raises(ValueError, match="by_dataset"):
        Preset("x", "flatten,dense(10)", "x", by_dataset={"fashion-mnist": {"augmentation": False}})
    with pytest.raises(ValueError, match="by_dataset"):
        Preset(
            "x", "flatten,dense(10)", "x", by_dataset={"fashion": {"augment": False}}, by_dataset_notes={"fashion": ""}
        )


@requires_fashion
def test_train_cnn_on_fashion_mnist_says_it_leaves_shifts_out(tmp_path, cli) -> None:
    """Through the CLI: the note on stderr, ``augment: false`` in the record; ``--augment`` wins."""
    args = ["train", "cnn", "--dataset", "fashion-mnist", "--epochs", "1", "--limit", "256", "--json"]
    result = cli(*args, "-o", str(tmp_path / "a.keras"))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["hyperparameters"]["augment"] is False
    assert "no random shifts" in result.stderr
    result = cli(*args, "--augment", "-o", str(tmp_path / "b.keras"))
    assert json.loads(result.stdout)["hyperparameters"]["augment"] is True and "shifts" not in result.stderr


def test_targets_and_batches(rng) -> None:
    """One-hot smoothing targets; batches scaled one at a time equal the whole set scaled at once."""
    from convcli.datasets.idx import scale_images as prepare_images
    from convcli.training.data import ShuffledBatches
    from convcli.training.objective import targets

    y = np.array([3, 0, 9])
    np.testing.assert_array_equal(targets(y, 0.0), y)
    np.testing.assert_array_equal(targets(y, 0.1), np.eye(10, dtype=np.float32)[y])
    x = rng.integers(0, 256, (300, 28, 28)).astype(np.uint8)
    labels = np.arange(300)
    batches = ShuffledBatches(x, labels, 128, seed=0, augment=False)
    whole = prepare_images(x)
    assert len(batches) == 3
    for i in range(3):
        xb, yb = batches[i]
        assert xb.dtype == np.float32 and xb.shape[1:] == (28, 28, 1)
        np.testing.assert_array_equal(xb, whole[yb])  # labels are the indices here


def shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` moved down by ``dy`` and right by ``dx`` whole pixels, zeros coming in."""
    out = np.zeros_like(image)
    h, w = image.shape[:2]
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def test_shifts_are_whole_pixels_up_to_two(rng) -> None:
    """Each augmented image is its input moved by whole pixels in −2 … 2 (a NumPy reference),
    and all 25 moves occur about equally often."""
    from convcli.datasets.idx import scale_images as prepare_images
    from convcli.training.data import AUGMENT_FROM_EPOCH, ShuffledBatches

    x = rng.integers(1, 256, (2500, 28, 28)).astype(np.uint8)
    batches = ShuffledBatches(x, np.arange(2500), 500, seed=4, augment=True)
    for _ in range(AUGMENT_FROM_EPOCH):
        batches.on_epoch_end()
    np.testing.assert_array_equal(batches[0][0], prepare_images(x[batches[0][1]]))  # not yet
    batches.on_epoch_end()
    assert batches.epoch == AUGMENT_FROM_EPOCH
    counts: dict[tuple[int, int], int] = {}
    moves = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)]
    for i in range(len(batches)):
        xb, yb = batches[i]
        for image, index in zip(xb, yb):
            plain = prepare_images(x[index : index + 1])[0]
            found = [m for m in moves if np.array_equal(shift(plain, *m), image)]
            assert len(found) == 1 and max(map(abs, found[0])) <= 2, found
            counts[found[0]] = counts.get(found[0], 0) + 1
    assert len(counts) == 25 and min(counts.values()) > 50  # 100 expected each


def test_shifts_start_with_the_second_epoch_of_fit(rng) -> None:
    """Through a real ``fit``: the batches of epoch 1 are plain, every later batch is shifted."""
    import keras

    from convcli.datasets.idx import scale_images as prepare_images
    from convcli.training.data import ShuffledBatches

    seen: list[tuple[int, bool]] = []

    class Watched(ShuffledBatches):
        def __getitem__(self, index: int):  # type: ignore[no-untyped-def]
            xb, yb = super().__getitem__(index)
            seen.append((self.epoch, not np.array_equal(xb, prepare_images(self.x[yb]))))
            return xb, yb

    x = rng.integers(1, 256, (256, 28, 28)).astype(np.uint8)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(256)])
    model.compile(loss="sparse_categorical_crossentropy")
    model.fit(Watched(x, np.arange(256), 64, seed=0, augment=True), epochs=3, verbose=0)
    drawn = [s for s in seen if s[0] >= 0]  # Keras first draws a batch or two to learn the shapes
    assert [epoch for epoch, _ in drawn] == [0] * 4 + [1] * 4 + [2] * 4
    assert [shifted for _, shifted in drawn] == [False] * 4 + [True] * 8


def test_sigterm_is_exit_status_1(tmp_path) -> None:
    result = train(small_config(tmp_path, epochs=1), callbacks=[interrupt_at(0, 2, signal.SIGTERM)])
    assert result.interrupted and result.exit_code == 1


def test_bad_training_options(cli, tmp_path) -> None:
    for args, fragment in [
        (["--epochs", "0"], "Error: --epochs must be at least 1"),
        (["--validation-split", "1.5"], "--validation-split must be in [0, 1)"),
        (["--learning-rate", "-1"], "--learning-rate must be a positive number"),
        (["--label-smoothing", "1"], "--label-smoothing must be in [0, 1)"),
        (["--label-smoothing", "-0.1"], "--label-smoothing must be in [0, 1)"),
        (["-o", str(tmp_path / "m.h5")], "must end in .keras"),
        (["-o", str(tmp_path / "nope" / "m.keras")], "does not exist"),
    ]:
        result = cli("train", "softmax", *args, "--data-dir", MNIST)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stderr.startswith("Error: ") and fragment in result.stderr
    assert cli("train", "sofmax").stderr.startswith("Error: unknown preset 'sofmax' (did you mean 'softmax'?)")


def test_bad_options_fail_before_keras_loads() -> None:
    """The run's checks come first: a wrong option costs no TensorFlow start-up."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from convcli.cli import app\n"
        "for args in (['softmax', '--epochs', '0'], ['--resume', 'missing.ckpt.keras']):\n"
        "    result = CliRunner().invoke(app, ['train', *args])\n"
        "    assert result.exit_code == 2, result.output\n"
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_evaluate_confusion_matches_independent_count(cli, tmp_path) -> None:
    import keras

    from convcli.datasets.idx import load_dataset
    from convcli.models.build import build_model

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


def test_an_epoch_of_few_steps_warns(tmp_path) -> None:
    """450 images in batches of 128 are 4 steps an epoch: said, not left to a 13% surprise."""
    from convcli.errors import ConvcliWarning

    with pytest.warns(ConvcliWarning, match=r"only 4 step\(s\) an epoch \(450 training images, batch_size 128\)"):
        result = train(small_config(tmp_path, epochs=1, limit=500, validation_split=0.1))
    assert result.record["status"] == "completed"


def test_a_model_that_answers_one_class_for_everything_is_a_warning() -> None:
    """Near chance and one class for every test picture: training learned nothing, and the
    warning says what to change; a model near chance that still tells pictures apart is not."""
    import warnings
    from types import SimpleNamespace

    import keras

    from convcli.errors import ConvcliWarning
    from convcli.training.run import _warn_if_one_class

    data = SimpleNamespace(test_images=6, num_classes=3, meta=SimpleNamespace(class_names=["a", "b", "c"]))
    x = np.random.default_rng(0).random((6, 4, 4, 1)).astype("float32")

    def model(kernel: np.ndarray, bias: list[float]) -> keras.Model:
        dense = keras.layers.Dense(3)
        net = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), dense])
        dense.set_weights([kernel, np.array(bias, "float32")])
        return net

    one_class = r"every one of the 6 test pictures the same class \(b\).*learning_rate"
    with pytest.warns(ConvcliWarning, match=one_class) as seen:
        _warn_if_one_class(model(np.zeros((16, 3), "float32"), [0.0, 1.0, 0.0]), x, data)
    assert "batch" not in str(seen[0].message)  # the few-steps warning asks for smaller batches: never both ways
    kernel = np.zeros((16, 3), "float32")
    kernel[:, 0], kernel[:, 1] = 1.0, -1.0  # bright pictures are "a", dark ones "b"
    bias = [-float(x.reshape(6, -1).sum(1).mean()), float(x.reshape(6, -1).sum(1).mean()), -100.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvcliWarning)
        _warn_if_one_class(model(kernel, bias), x, data)
