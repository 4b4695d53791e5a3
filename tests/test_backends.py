"""Backend-sensitive checks: the same numbers on TensorFlow, JAX and PyTorch, `info`, and
data-parallel training on two simulated CPU devices. `make test-backends` runs the modules
marked ``backend`` under each backend; the default suite runs them on TensorFlow."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import MNIST, ROOT, convcli_argv, requires_mnist, run_convcli

pytestmark = pytest.mark.backend
REFERENCE = Path(__file__).parent / "data" / "fixed_predictions.npy"
"""The fixed-weights model's probabilities under TensorFlow, committed; regenerate on purpose
with ``KERAS_BACKEND=tensorflow python tests/test_backends.py``."""
BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")


def fixed_weights_model():  # type: ignore[no-untyped-def]
    """The lecture's CNN with weights drawn from NumPy (not the backend's RNG)."""
    from convcli.models.build import build_model
    from convcli.models.presets import PRESETS

    model = build_model(PRESETS["lecture-cnn"].spec)
    rng = np.random.default_rng(7)
    model.set_weights([rng.normal(0, 0.2, w.shape).astype("float32") for w in model.get_weights()])
    return model


def fixed_inputs() -> np.ndarray:
    rng = np.random.default_rng(11)
    return rng.random((16, 28, 28, 1), dtype=np.float32)


def fixed_predictions() -> np.ndarray:
    return np.asarray(fixed_weights_model().predict(fixed_inputs(), verbose=0))


def test_fixed_weights_predictions_agree_across_backends() -> None:
    assert REFERENCE.exists(), f"{REFERENCE} is missing: it is committed, not written by the test"
    expected = np.load(REFERENCE)
    assert expected.shape == (16, 10)
    np.testing.assert_allclose(fixed_predictions(), expected, atol=1e-5)


def test_info_reports_backend_and_devices(cli) -> None:
    result = cli("info", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["backend"] == BACKEND
    assert data["backend_version"] and data["devices"]


@pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64", reason="TensorFlow's oneDNN build: Linux x86_64"
)
def test_onednn_kernels_are_on_unless_the_user_says_otherwise() -> None:
    """TensorFlow uses its oneDNN kernels (off by its own default on CPUs without AVX-512 VNNI,
    BF16 or AMX); TF_ENABLE_ONEDNN_OPTS=0 keeps TensorFlow's own. Checked in a fresh process
    through TensorFlow's own report (its port module, a private one: for this test only), on
    every backend."""
    probe = (
        "from convcli.backend import keras; keras(); import json, tensorflow;"
        "from tensorflow.python.util import _pywrap_util_port as port;"
        "from convcli.backend import backend_info; info = backend_info();"
        "print(json.dumps([port.IsMklEnabled(), info.get('onednn')]))"
    )
    for setting, on in [(None, True), ("0", False)]:
        env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
        if setting is not None:
            env["TF_ENABLE_ONEDNN_OPTS"] = setting
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, env=env, timeout=120, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        enabled, reported = json.loads(proc.stdout.decode().strip().splitlines()[-1])
        assert enabled is on
        assert reported is (on if BACKEND == "tensorflow" else None)


def _train(env: dict[str, str], *extra: str, out: Path) -> dict:
    proc = run_convcli(
        "train",
        "--layers",
        "conv(4,3),pool(2),flatten,dense(10)",
        "--epochs",
        "1",
        "--limit",
        "4000",
        "--batch-size",
        "64",
        "--seed",
        "3",
        "--data-dir",
        str(MNIST),
        "-o",
        str(out),
        "--json",
        *extra,
        env={"KERAS_BACKEND": BACKEND, **env},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


@pytest.mark.slow
@requires_mnist
@pytest.mark.skipif(BACKEND == "torch", reason="--distribute needs jax or tensorflow")
def test_distribute_on_two_cpu_devices_matches_single_device(tmp_path) -> None:
    """Two simulated devices, same global batch: the same model within float tolerance."""
    import keras

    env = {"CONVCLI_TF_CPU_DEVICES": "2", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    single = _train(env, out=tmp_path / "one.keras")
    double = _train(env, "--distribute", out=tmp_path / "two.keras")
    assert double["distributed"] and double["replicas"] == 2 and single["replicas"] == 1
    one = keras.saving.load_model(tmp_path / "one.keras").get_weights()
    two = keras.saving.load_model(tmp_path / "two.keras").get_weights()
    # Stated tolerance: the gradient is summed in another order across replicas, and Adam turns
    # those last-bit differences into up to ±lr per step on near-zero gradients, so weights drift
    # apart by a few hundredths after an epoch (measured up to 0.024). What must match is the
    # model: weights within 0.05, the epoch's training loss within 1%, test accuracy within half a
    # point, and the same class for at least 90% of test images (this one-epoch model is at ~79%,
    # so many images sit on a decision boundary; measured agreement 94%).
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, atol=0.05)
    from convcli.datasets.idx import load_dataset

    x = load_dataset("mnist", MNIST).x_test[:2000].reshape(-1, 28, 28, 1).astype("float32") / 255
    p1 = keras.saving.load_model(tmp_path / "one.keras").predict(x, verbose=0).argmax(1)
    p2 = keras.saving.load_model(tmp_path / "two.keras").predict(x, verbose=0).argmax(1)
    assert (p1 == p2).mean() >= 0.90
    loss1, loss2 = single["history"][0]["loss"], double["history"][0]["loss"]
    assert abs(loss1 - loss2) <= 0.01 * loss1
    assert abs(single["test"]["accuracy"] - double["test"]["accuracy"]) <= 0.005


def test_torch_refuses_distribute_clearly(cli) -> None:
    if BACKEND != "torch":
        pytest.skip("torch backend only")
    result = cli("train", "softmax", "--distribute", "--epochs", "1", "--limit", "100")
    assert result.exit_code == 2 and "needs the jax or tensorflow backend" in result.stderr


def test_multiworker_tensorflow_points_to_jax(cli, tmp_path) -> None:
    if BACKEND != "tensorflow":
        pytest.skip("tensorflow backend only")
    result = cli(
        "train",
        "softmax",
        "--coordinator",
        "127.0.0.1:5999",
        "--num-processes",
        "2",
        "--process-id",
        "0",
        "--epochs",
        "1",
        "--limit",
        "100",
        "-o",
        tmp_path / "m.keras",
    )
    assert result.exit_code == 2 and "KERAS_BACKEND=jax" in result.stderr and "20585" in result.stderr


@requires_mnist
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax not installed (make test-backends)")
def test_two_jax_processes_on_localhost(tmp_path) -> None:
    """Two real processes with JAX's CPU collectives: identical weights, process 0 writes."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "mp.keras"
    procs = [
        subprocess.Popen(
            convcli_argv(
                "train",
                "softmax",
                "--epochs",
                "2",
                "--limit",
                "2000",
                "--batch-size",
                "64",
                "--data-dir",
                str(MNIST),
                "-o",
                str(out),
                "--json",
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                "2",
                "--process-id",
                str(i),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "KERAS_BACKEND": "jax"},
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    records = [json.loads(o[0]) for o in outs]  # stdout is pure JSON on both processes
    assert records[0]["weights_sha256"] == records[1]["weights_sha256"]
    assert records[0]["processes"] == 2 and records[0]["replicas"] == 2
    assert (
        out.exists()
        and json.loads((tmp_path / "mp.json").read_text())["weights_sha256"] == records[0]["weights_sha256"]
    )
    evaluated = run_convcli("evaluate", out, "--data-dir", MNIST, "--json", timeout=300)
    assert evaluated.returncode == 0, evaluated.stderr.decode()
    assert json.loads(evaluated.stdout)["accuracy"] == pytest.approx(records[0]["test"]["accuracy"], abs=1e-6)


if __name__ == "__main__":  # regenerate the committed reference, on TensorFlow only
    assert BACKEND == "tensorflow", "the reference is TensorFlow's: run with KERAS_BACKEND=tensorflow"
    np.save(REFERENCE, fixed_predictions())
    print(f"wrote {REFERENCE}")


@requires_mnist
def test_cli_trains_evaluates_and_predicts_on_this_backend(tmp_path) -> None:
    """The whole route a user takes, in fresh processes under KERAS_BACKEND: a short `train`,
    then `evaluate` (its accuracy equals the record's) and `predict` on MNIST test digits saved as
    PNGs (most of them right). Under JAX this failed while an import trick deferred scipy."""
    from PIL import Image

    from convcli.datasets.idx import load_dataset

    env = {"KERAS_BACKEND": BACKEND}
    out = tmp_path / "m.keras"
    trained = run_convcli(
        "train", "lecture-cnn", "--epochs", "1", "--limit", "3000", "--batch-size", "32", "--seed", "1",
        "--data-dir", MNIST, "-o", out, "--json", env=env, timeout=300,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr.decode()
    record = json.loads(trained.stdout)
    assert record["test"]["accuracy"] > 0.8, record["test"]
    evaluated = run_convcli("evaluate", out, "--data-dir", MNIST, "--json", env=env, timeout=300)
    assert evaluated.returncode == 0, evaluated.stderr.decode()
    assert json.loads(evaluated.stdout)["accuracy"] == pytest.approx(record["test"]["accuracy"], abs=1e-6)
    data = load_dataset("mnist", MNIST)
    files = []
    for i in range(10):
        files.append(tmp_path / f"digit{i}-{data.y_test[i]}.png")
        Image.fromarray(255 - data.x_test[i]).save(files[-1])  # dark ink on white paper, as a scan
    predicted = run_convcli("predict", out, *files, "--json", env=env, timeout=300)
    assert predicted.returncode == 0, predicted.stderr.decode()
    answers = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert len(answers) == 10
    right = sum(a["prediction"] == int(Path(a["input"]).stem.rsplit("-", 1)[1]) for a in answers)
    assert right >= 7, answers


def assert_batch_norm_statistics_are_the_inputs(model_path: Path, config) -> None:  # type: ignore[no-untyped-def]
    """The saved model's batch-norm moving mean and variance equal those of the layer's inputs
    over ``config``'s training pictures, computed by a Keras sub-model."""
    import keras

    from convcli.datasets.idx import scale_images
    from convcli.training.data import load_training_data

    x_train = load_training_data(config, lambda line: None).x_train
    model = keras.saving.load_model(model_path)
    norm = next(layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))
    inputs = keras.Model(model.inputs, norm.input).predict(scale_images(x_train), verbose=0).astype(np.float64)
    inputs = inputs.reshape(-1, inputs.shape[-1])
    mean, variance = (keras.ops.convert_to_numpy(v) for v in (norm.moving_mean, norm.moving_variance))
    np.testing.assert_allclose(mean, inputs.mean(axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(variance, inputs.var(axis=0), rtol=1e-4, atol=1e-6)


def test_population_statistics_of_two_layers_one_flat_on_a_sample_of_colour_pictures(tmp_path) -> None:
    """Two batch-norm layers (after a conv, and after a dense: 2-D), RGB pictures, a sample of
    them in chunks that do not divide it: each layer gets its inputs' mean and variance over the
    sample, the second's inputs computed through the first's new statistics (a sub-model's
    ``predict`` is the reference)."""
    import keras

    from convcli.datasets.idx import scale_images
    from convcli.models.build import build_model
    from convcli.training.callbacks import population_statistics

    model = build_model(
        "conv(4,3),batchnorm,pool(2),flatten,dense(16),batchnorm,dense(3)", input_shape=(12, 10, 3), num_classes=3
    )
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(0.3, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    x = rng.integers(0, 256, (600, 12, 10, 3), dtype=np.uint8)
    picks = np.sort(rng.permutation(600)[:300])
    population_statistics(model, x, picks, chunk=64)
    model.save(tmp_path / "m.keras")  # saved and loaded: a model whose graph a sub-model can cut
    model = keras.saving.load_model(tmp_path / "m.keras")
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert [len(norm.input.shape) for norm in norms] == [4, 2]
    for norm in norms:
        inputs = keras.Model(model.inputs, norm.input).predict(scale_images(x[picks]), verbose=0).astype(np.float64)
        inputs = inputs.reshape(-1, inputs.shape[-1])
        mean, variance = (keras.ops.convert_to_numpy(v) for v in (norm.moving_mean, norm.moving_variance))
        np.testing.assert_allclose(mean, inputs.mean(axis=0), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(variance, inputs.var(axis=0), rtol=1e-3, atol=1e-5)


@requires_mnist
def test_batch_norm_statistics_are_the_trained_networks_own(tmp_path) -> None:
    """A run of 8 steps (900 MNIST training pictures, 1 epoch) ends with each batch-norm layer's moving
    mean and variance equal to those of its inputs over the training pictures, computed here by a
    Keras sub-model (before: Keras's moving averages, still 43% their starting 0 and 1)."""
    from convcli.training.run import TrainConfig, train

    config = TrainConfig.from_preset("cnn", output=str(tmp_path / "m.keras"), data_dir=str(MNIST), epochs=1, limit=1000)
    record = train(config).record
    assert record["batchnorm_statistics"] == {"recomputed_over": record["train_images"]}
    assert_batch_norm_statistics_are_the_inputs(tmp_path / "m.keras", config)


@requires_mnist
@pytest.mark.skipif(BACKEND == "torch", reason="--distribute needs jax or tensorflow")
def test_batch_norm_statistics_with_distribute_on_two_devices(tmp_path) -> None:
    """``--distribute`` over two simulated devices: the statistics are set once, for both
    replicas, and saved (before: not recomputed at all with --distribute)."""
    from convcli.training.run import TrainConfig

    env = {"CONVCLI_TF_CPU_DEVICES": "2", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    args = ["train", "cnn", "--epochs", "1", "--limit", "1000", "--distribute", "--data-dir", str(MNIST)]
    proc = run_convcli(
        *args, "-o", str(tmp_path / "d.keras"), "--json", env={"KERAS_BACKEND": BACKEND, **env}, timeout=300
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    record = json.loads(proc.stdout)
    assert record["replicas"] == 2 and record["batchnorm_statistics"] == {"recomputed_over": 900}
    config = TrainConfig.from_preset("cnn", output=str(tmp_path / "d.keras"), data_dir=str(MNIST), epochs=1, limit=1000)
    assert_batch_norm_statistics_are_the_inputs(tmp_path / "d.keras", config)


@requires_mnist
def test_a_resumed_run_with_no_epoch_left_gets_its_statistics_too(tmp_path) -> None:
    """Interrupted in epoch 2 and "resumed" with ``--epochs 1``: nothing trains, but the model
    saved as completed has its statistics recomputed, and the log and record say so (before: the
    checkpoint's moving averages, as the helper's trial found: 37% against 64% recomputed)."""
    import signal

    import keras

    from convcli.training.checkpoints import checkpoint_path_for
    from convcli.training.run import TrainConfig, train

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):  # type: ignore[no-untyped-def]
            if (self.epoch, batch) == (1, 2):
                os.kill(os.getpid(), signal.SIGINT)

    out = tmp_path / "m.keras"
    config = TrainConfig.from_preset("cnn", output=str(out), data_dir=str(MNIST), epochs=3, limit=1000)
    assert train(config, callbacks=[Interrupt()]).interrupted
    lines: list[str] = []
    done = train(
        TrainConfig(spec="", output=str(out)), resume=checkpoint_path_for(out), changes={"epochs": 1}, log=lines.append
    )
    assert done.record["status"] == "completed" and done.record["epochs_completed"] == 1
    assert done.record["batchnorm_statistics"] == {"recomputed_over": 900}
    assert "batch normalisation: statistics recomputed over 900 training pictures" in lines
    assert_batch_norm_statistics_are_the_inputs(out, config)
