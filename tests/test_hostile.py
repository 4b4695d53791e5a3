"""Hostile conditions: untrusted model files, real signals sent to real training processes,
failing writes, and concurrent runs. Nothing crashes, nothing is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import MNIST, ROOT, requires_mnist, write_png

from convcli.errors import ConvcliError
from convcli.models.build import load_model

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


# --------------------------------------------------------------------------- untrusted models


def test_lambda_model_is_refused(cli, tmp_path) -> None:
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Lambda(lambda x: x * 2),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ConvcliError, match="refused: the model carries code"):
        load_model(path)
    result = cli("evaluate", path)
    assert result.exit_code == 2 and result.stderr.startswith("Error: ") and "refused" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("damage", ["truncated", "not-zip", "empty", "zip-without-config", "bad-config"])
def test_damaged_model_files(cli, tmp_path, damage: str) -> None:
    import keras

    good = tmp_path / "good.keras"
    keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]).save(good)
    path = tmp_path / f"{damage}.keras"
    data = good.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "not-zip":
        path.write_bytes(b"this is not a model")
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "zip-without-config":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("hello.txt", "hi")
    else:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("config.json", "{not json")
            z.writestr("metadata.json", "{}")
    for command in (["evaluate", path], ["summary", path], ["predict", path, "--index", "0"]):
        result = cli(*command)
        assert result.exit_code == 2, (command, result.stderr)
        assert result.stderr.startswith("Error: ") and str(path) in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- interrupted training


def start_training(tmp_path: Path, *extra: str) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "convcli",
        "train",
        "lecture-cnn",
        "-o",
        str(tmp_path / "m.keras"),
        "--epochs",
        "3",
        "--limit",
        "6000",
        "--data-dir",
        str(MNIST),
        *extra,
    ]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)


def signal_when(proc: subprocess.Popen, marker: str, sig: int, delay: float) -> list[str]:
    """Read the progress on stderr until a line starts with ``marker``, wait ``delay`` times the
    epoch's seconds (the line's last field, e.g. ``1.3s``), send ``sig``; returns all of stderr."""
    lines: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append(line)
        if line.startswith(marker):
            if delay:
                time.sleep(delay * float(line.split()[-1].rstrip("s")))
            proc.send_signal(sig)
            break
    lines.extend(proc.stderr.readlines())
    return lines


def check_outcome(tmp_path: Path, returncode: int, stderr: str, sig: int | None) -> None:
    """The invariant: a complete model (``sig`` None: the signal came after the last epoch), or
    no model and a checkpoint that resumes to 3 epochs, with the exit status of ``sig``."""
    model, ckpt, record_path = tmp_path / "m.keras", tmp_path / "m.ckpt.keras", tmp_path / "m.json"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not leftovers, leftovers  # no temporary files left behind
    if sig is None:
        assert returncode == 0, stderr
        load_model(model)
        assert json.loads(record_path.read_text())["status"] == "completed"
        return
    assert returncode == (130 if sig == signal.SIGINT else 1), (returncode, stderr)
    assert not model.exists()
    assert stderr.strip().splitlines()[-1].startswith(f"Error: training interrupted by {signal.Signals(sig).name}")
    assert "convcli train --resume" in stderr
    record = json.loads(record_path.read_text())
    assert record["status"] == "interrupted" and record["checkpoint"] == str(ckpt)
    assert record["signal"] == signal.Signals(sig).name
    resumed = subprocess.run(
        [sys.executable, "-m", "convcli", "train", "--resume", str(ckpt), "--json"],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=ROOT,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(resumed.stdout)
    assert final["status"] == "completed" and final["epochs_completed"] == 3
    assert [h["epoch"] for h in final["history"]] == [1, 2, 3]
    load_model(model)
    assert not ckpt.exists()


@requires_mnist
@pytest.mark.slow
@pytest.mark.parametrize(
    ("marker", "sig", "delay", "interrupts", "where"),
    [
        ("loading mnist", signal.SIGINT, 0.0, True, "during data loading"),
        ("epoch 1/3", signal.SIGINT, 0.0, True, "during the epoch-1 checkpoint save"),
        ("epoch 1/3", signal.SIGTERM, 0.2, True, "mid-epoch 2"),
        ("epoch 2/3", signal.SIGINT, 0.2, True, "mid-epoch 3"),
        ("epoch 3/3", signal.SIGTERM, 0.0, False, "during the final evaluation and save"),
    ],
)
def test_signal_at_every_stage(tmp_path, marker: str, sig: int, delay: float, interrupts: bool, where: str) -> None:
    """``delay``: a fraction of the last epoch's time (the progress line ends with it), so that
    "mid-epoch" means mid-epoch however fast the machine. A signal after the last epoch's line
    no longer interrupts: that run completes."""
    proc = start_training(tmp_path)
    lines = signal_when(proc, marker, sig, delay)
    stderr = "".join(lines)
    assert proc.stdout is not None
    proc.stdout.read()
    proc.wait(timeout=300)
    print(f"\ninterrupt {where} ({signal.Signals(sig).name}): exit {proc.returncode}")
    check_outcome(tmp_path, proc.returncode, stderr, sig if interrupts else None)
    assert any(line.startswith(marker) for line in lines)


@requires_mnist
def catches_sigint(pid: int) -> bool:
    """Whether process ``pid`` has a SIGINT handler installed (Linux: SigCgt in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


@pytest.mark.parametrize("delay", [0.1, 0.15, 0.2, 0.3])
def test_sigint_before_training_starts(tmp_path, delay: float) -> None:
    """Ctrl-C while Keras and TensorFlow are imported: 130, one line, nothing written. Before
    entry.exit_interrupted about one such start-up in four died by SIGINT (-2) instead: CPython
    remembered a KeyboardInterrupt that convcli had caught."""
    proc = start_training(tmp_path)
    started = time.monotonic()  # wait for Python's SIGINT handler: a signal before it is the interpreter's
    while not catches_sigint(proc.pid) and time.monotonic() - started < 30:
        time.sleep(0.01)
    time.sleep(delay)  # still importing
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "Error: interrupted"
    assert list(tmp_path.iterdir()) == []  # nothing written


# --------------------------------------------------------------------------- nothing lost


def test_write_failure_keeps_previous_model(tmp_path, monkeypatch) -> None:
    from convcli.models.build import build_model
    from convcli.training.checkpoints import save_model

    target = tmp_path / "m.keras"
    target.write_bytes(b"previous model")
    model = build_model("flatten,dense(10)")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("convcli.outputs.os.replace", full_disk)
    with pytest.raises(ConvcliError, match=r"cannot write \(no space left on device\); previous file left intact"):
        save_model(model, target)
    assert target.read_bytes() == b"previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_read_only_folder(cli, tmp_path, color_png, monkeypatch) -> None:
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("convcli.outputs.tempfile.mkstemp", read_only)
    result = cli("gray", color_png, "-o", tmp_path / "g.png")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "cannot write (Permission denied)" in result.stderr


def test_in_place_needs_the_flag(cli, color_png) -> None:
    before = color_png.read_bytes()
    refused = cli("filter", color_png, "-k", "identity", "--padding", "same", "-o", color_png)
    assert refused.exit_code == 2 and color_png.read_bytes() == before
    allowed = cli("filter", color_png, "-k", "box3", "--padding", "same", "-o", color_png, "--in-place")
    assert allowed.exit_code == 0 and color_png.read_bytes() != before


# --------------------------------------------------------------------------- concurrency


@requires_mnist
@pytest.mark.slow
def test_two_trainings_same_output(tmp_path) -> None:
    args = [
        sys.executable,
        "-m",
        "convcli",
        "train",
        "softmax",
        "-o",
        str(tmp_path / "same.keras"),
        "--epochs",
        "2",
        "--limit",
        "3000",
        "--data-dir",
        str(MNIST),
        "--json",
    ]
    procs = [
        subprocess.Popen(
            [*args, "--seed", str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    load_model(tmp_path / "same.keras")
    record = json.loads((tmp_path / "same.json").read_text())
    runs = [json.loads(o[0]) for o in outs]
    assert [r["seed"] for r in runs] == [0, 1]
    assert record in runs  # the whole record of one run, never a mix of the two
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_two_filter_runs_same_folder(tmp_path, rng) -> None:
    from PIL import Image

    inputs = [write_png(tmp_path / f"in{i}.png", rng.integers(0, 256, (64, 64, 3))) for i in range(6)]
    out = tmp_path / "out"
    out.mkdir()
    args = [sys.executable, "-m", "convcli", "filter", *map(str, inputs), "-k", "edges", "--out-dir", str(out)]
    results: list[subprocess.CompletedProcess] = []

    def run() -> None:
        results.append(subprocess.run(args, capture_output=True, env=ENV, cwd=ROOT, timeout=120))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"in{i}-edges.png" for i in range(6)]
    for f in files:
        Image.open(f).verify()
    np.asarray(Image.open(files[0]))
