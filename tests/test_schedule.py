"""The learning-rate schedule follows the run: ``--epochs N`` is one complete schedule that ends
at its lowest rate on the last batch of epoch N, and a resumed run keeps the schedule it started
with, stretched when ``--epochs`` grows."""

from __future__ import annotations

import json
import math
import os
import signal

import numpy as np
import pytest
from conftest import MNIST, requires_mnist

from convcli.training.checkpoints import checkpoint_path_for
from convcli.training.objective import FINAL_FRACTION, learning_rate_schedule
from convcli.training.run import TrainConfig, train

STEPS_PER_EPOCH = math.ceil(54_000 / 256)  # MNIST less a 10% validation split, batches of 256


def one_cycle_by_hand(step: int, peak: float, warmup_steps: int, last_step: int) -> float:
    """The one-cycle rate written out: linear from peak/10 to the peak over the warm-up, then
    cosine down to FINAL_FRACTION × peak at ``last_step``, flat after it."""
    if step < warmup_steps:
        return peak / 10 + (peak - peak / 10) * step / warmup_steps
    t = min(step, last_step) - warmup_steps
    alpha = FINAL_FRACTION["onecycle"]
    return peak * (alpha + (1 - alpha) * 0.5 * (1 + math.cos(math.pi * t / (last_step - warmup_steps))))


def rates(schedule, steps) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.array([float(schedule(s)) for s in steps])


@pytest.mark.parametrize("epochs", [1, 12])
@pytest.mark.parametrize("name", ["onecycle", "cosine"])
def test_the_schedule_ends_on_the_last_step_of_the_last_epoch(name: str, epochs: int) -> None:
    peak, total = 4e-3, epochs * STEPS_PER_EPOCH
    schedule = learning_rate_schedule(name, peak, total, warmup=0.25)
    final = FINAL_FRACTION[name] * peak
    last = total - 1  # the step index of the last batch of epoch N
    assert float(schedule(last)) == pytest.approx(final, rel=1e-4)
    assert float(schedule(last - 1)) > final  # still decaying one batch earlier
    # Half-way through the last epoch the rate is still above its floor, whatever N is.
    assert float(schedule(total - STEPS_PER_EPOCH // 2)) > 1.2 * final
    whole = rates(schedule, range(total))
    assert whole.max() == pytest.approx(peak, rel=1e-4) and whole.min() == pytest.approx(final, rel=1e-4)
    if name == "onecycle":
        warmup_steps = int(0.25 * total)
        assert int(np.argmax(whole)) == warmup_steps
        for step in (0, warmup_steps // 2, warmup_steps, (warmup_steps + last) // 2, last, last + 5):
            assert float(schedule(step)) == pytest.approx(one_cycle_by_hand(step, peak, warmup_steps, last), rel=1e-4)


def test_no_warmup_starts_at_the_peak() -> None:
    schedule = learning_rate_schedule("onecycle", 1e-3, 100, warmup=0)
    assert float(schedule(0)) == pytest.approx(1e-3, rel=1e-5)
    assert float(schedule(99)) == pytest.approx(FINAL_FRACTION["onecycle"] * 1e-3, rel=1e-4)
    assert learning_rate_schedule("constant", 1e-3, 100) == 1e-3


def rate_log(stop_at: tuple[int, int] | None = None):  # type: ignore[no-untyped-def]
    """A Keras callback keeping (optimizer step, rate) for each batch as it begins, and sending
    SIGINT after batch ``stop_at[1]`` of epoch ``stop_at[0]``."""
    import keras

    class rate_log(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.rates: list[tuple[int, float]] = []

        def on_epoch_begin(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):  # type: ignore[no-untyped-def]
            optimizer = self.model.optimizer
            self.rates.append((int(optimizer.iterations.numpy()), float(optimizer.learning_rate)))

        def on_train_batch_end(self, batch, logs=None):  # type: ignore[no-untyped-def]
            if stop_at == (self.epoch, batch):
                os.kill(os.getpid(), signal.SIGINT)

    return rate_log()


@requires_mnist
def test_resume_keeps_the_schedule_and_extends_it_when_epochs_grow(tmp_path) -> None:
    """Interrupted in epoch 2 of 2 and resumed with 4 epochs: the first part followed the 2-epoch
    cycle, the rest follows the same warm-up and peak with a decay that now ends on the last
    batch of epoch 4; the log line and the record say so."""
    peak, out = 2e-3, tmp_path / "m.keras"
    config = TrainConfig.from_preset(
        "softmax", None, output=str(out), epochs=2, limit=1200, data_dir=str(MNIST), validation_split=0.2,
        batch_size=32, schedule="onecycle", learning_rate=peak, warmup=0.25,
    )  # fmt: skip
    steps = 960 // 32
    first = rate_log(stop_at=(1, 4))
    assert train(config, callbacks=[first]).interrupted
    warmup = int(0.25 * 2 * steps)
    for step, rate in first.rates:
        assert rate == pytest.approx(one_cycle_by_hand(step, peak, warmup, 2 * steps - 1), rel=1e-4)

    lines: list[str] = []
    second = rate_log()
    resumed = train(
        TrainConfig(spec="", output=str(out)),
        resume=checkpoint_path_for(out),
        changes={"epochs": 4},
        callbacks=[second],
        log=lines.append,
    )
    assert resumed.record["epochs_completed"] == 4
    assert resumed.record["schedule"] == {
        "name": "onecycle", "warmup_steps": warmup, "steps": 4 * steps, "started_with_steps": 2 * steps,
        "extended": True, "shortened": False,
    }  # fmt: skip
    assert "onecycle schedule extended from 2 epochs (60 steps) to 4 epochs (120 steps)" in lines
    assert second.rates[0][0] == steps  # the interrupted epoch is trained again from its start
    for step, rate in second.rates:
        assert rate == pytest.approx(one_cycle_by_hand(step, peak, warmup, 4 * steps - 1), rel=1e-4)
    assert second.rates[-1] == (4 * steps - 1, pytest.approx(FINAL_FRACTION["onecycle"] * peak, rel=1e-4))


@requires_mnist
def test_resume_with_fewer_epochs_shortens_the_schedule(tmp_path) -> None:
    """Was: a 4-epoch run resumed with --epochs 3 stopped with its rate mid-decay and a record
    saying 120 steps. Now the decay ends on the last batch of epoch 3; "no epoch left" is said
    when the run stops where its checkpoint is."""
    peak, out = 2e-3, tmp_path / "m.keras"
    config = TrainConfig.from_preset(
        "softmax", None, output=str(out), epochs=4, limit=1200, data_dir=str(MNIST), validation_split=0.2,
        batch_size=32, schedule="onecycle", learning_rate=peak, warmup=0.25,
    )  # fmt: skip
    steps, warmup = 960 // 32, int(0.25 * 4 * (960 // 32))
    assert train(config, callbacks=[rate_log(stop_at=(1, 4))]).interrupted
    lines: list[str] = []
    second = rate_log()
    resumed = train(
        TrainConfig(spec="", output=str(out)),
        resume=checkpoint_path_for(out),
        changes={"epochs": 3},
        callbacks=[second],
        log=lines.append,
    )
    assert resumed.record["schedule"] == {
        "name": "onecycle", "warmup_steps": warmup, "steps": 3 * steps, "started_with_steps": 4 * steps,
        "extended": False, "shortened": True,
    }  # fmt: skip
    assert "onecycle schedule shortened from 4 epochs (120 steps) to 3 epochs (90 steps)" in lines
    for step, rate in second.rates:
        assert rate == pytest.approx(one_cycle_by_hand(step, peak, warmup, 3 * steps - 1), rel=1e-4)
    assert second.rates[-1] == (3 * steps - 1, pytest.approx(FINAL_FRACTION["onecycle"] * peak, rel=1e-4))

    # Stopped after epoch 2 of 4, then "resumed" with --epochs 2: nothing trains, and it says so.
    config.output = str(tmp_path / "n.keras")
    assert train(config, callbacks=[rate_log(stop_at=(2, 3))]).interrupted
    lines.clear()
    stopped = train(
        TrainConfig(spec="", output=config.output),
        resume=checkpoint_path_for(config.output),
        changes={"epochs": 2},
        log=lines.append,
    )
    assert stopped.record["epochs_completed"] == 2 and stopped.record["schedule"]["steps"] == 4 * steps
    assert (
        "no epoch left to train: the model is the checkpoint's, stopped after 2 of its onecycle "
        "schedule's 4 epochs (120 steps) (the learning rate never finished its decay)"
    ) in lines


def test_a_run_that_ends_within_the_warmup_gets_a_shorter_warmup() -> None:
    """Resized to end before its warm-up did, a schedule warms up over the same share of the run."""
    from convcli.training.objective import learning_rate_schedule, resized_schedule, schedule_steps

    long = learning_rate_schedule("onecycle", 1e-2, 1000, warmup=0.2)  # warms up over 200 steps
    short = resized_schedule(long, 100)
    assert short.get_config()["warmup_steps"] == 20 and schedule_steps(short) == 99
    assert float(short(99)) == pytest.approx(FINAL_FRACTION["onecycle"] * 1e-2, rel=1e-4)
    assert float(short(20)) == pytest.approx(1e-2, rel=1e-4)


@requires_mnist
def test_resume_without_more_epochs_keeps_the_schedule(tmp_path) -> None:
    out = tmp_path / "m.keras"
    config = TrainConfig.from_preset(
        "softmax", None, output=str(out), epochs=2, limit=600, data_dir=str(MNIST), validation_split=0.2,
        batch_size=32, schedule="cosine",
    )  # fmt: skip
    assert train(config, callbacks=[rate_log(stop_at=(1, 2))]).interrupted
    lines: list[str] = []
    resumed = train(TrainConfig(spec="", output=str(out)), resume=checkpoint_path_for(out), log=lines.append)
    schedule = resumed.record["schedule"]
    assert schedule["extended"] is False and schedule["steps"] == schedule["started_with_steps"] == 2 * 15
    assert "cosine schedule kept as the run started it: 2 epochs (30 steps)" in lines


@pytest.mark.slow
@requires_mnist
def test_one_epoch_of_the_cnn_preset_reaches_99_percent(tmp_path) -> None:
    """``convcli train cnn --epochs 1 --seed 0`` is a finished run: ≥ 99.0% on the test set."""
    from conftest import run_convcli

    out = tmp_path / "cnn.keras"
    args = ("train", "cnn", "--epochs", "1", "--seed", "0", "-o", out, "--data-dir", MNIST, "--json")
    proc = run_convcli(*args, timeout=1800)
    assert proc.returncode == 0, proc.stderr.decode()
    record = json.loads(proc.stdout)
    steps = math.ceil(54_000 / record["hyperparameters"]["batch_size"])
    assert record["epochs_completed"] == 1 and record["schedule"]["steps"] == steps  # one whole schedule
    assert record["test"]["accuracy"] >= 0.990, record["test"]
