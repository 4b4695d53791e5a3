"""Training from a folder of PNGs against training from the IDX files: same accuracy, same speed.

    python benchmarks/folders.py [--epochs N]        (``make bench`` runs it as ``folders``)

Writes MNIST (all 60,000 training and 10,000 test images) once as PNG files into
``benchmarks/work/mnist-png/{train,test}/<digit>/``, then trains the ``cnn`` preset with its
defaults twice, each in its own process (``convcli train … --json``): from the IDX files and
from the folder. Compared: test accuracy (within 0.2 point), the median time per epoch after
the first (the folder's within 1.3× of the IDX's) and, reported, the folder's decode time, paid
once before its first epoch. Also timed: ``keras.utils.image_dataset_from_directory`` reading the
same folder, the reader convcli's own (Pillow, decode once into one array) was chosen over.
Writes ``benchmarks/results/folders.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FOLDER = HERE / "work" / "mnist-png"
RESULT = HERE / "results" / "folders.json"
sys.path.insert(0, str(HERE))
from run import scrub  # noqa: E402  (results hold no machine paths)

TARGETS = {"accuracy_gap_max": 0.002, "epoch_ratio_max": 1.3, "folder_accuracy_min": 0.985}


def write_png_folder() -> float:
    """MNIST as PNGs, one folder per digit under train/ and test/; seconds spent (0 when already there)."""
    from PIL import Image

    from convcli.datasets.idx import load_dataset

    done = FOLDER / "complete"
    if done.exists():
        return 0.0
    started = time.perf_counter()
    data = load_dataset("mnist")
    for split, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        for digit in range(10):
            (FOLDER / split / str(digit)).mkdir(parents=True, exist_ok=True)
        for i, (image, label) in enumerate(zip(x, y)):
            Image.fromarray(image).save(FOLDER / split / str(label) / f"{i:05d}.png")
    done.write_text("70000 PNGs\n")
    return time.perf_counter() - started


def train(name: str, source: list[str], epochs: int | None) -> dict[str, Any]:
    """One ``convcli train cnn`` run in its own process; its record, with the load average before it."""
    output = HERE / "work" / f"folders-{name}.keras"
    command = [sys.executable, "-m", "convcli", "train", "cnn", *source, "-o", str(output), "--json"]
    if epochs is not None:
        command += ["--epochs", str(epochs)]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{name} run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    record = json.loads(proc.stdout)
    record["wall_seconds"] = time.perf_counter() - started
    record["load_before"] = load
    return record


def keras_reader_seconds() -> dict[str, float]:
    """Seconds for ``image_dataset_from_directory`` to deliver the 60,000 training PNGs: a plain
    pass (it decodes again every epoch), and a cached dataset's first and second passes."""
    from convcli.backend import keras

    k = keras()
    result: dict[str, float] = {}
    for label, cached in (("plain_epoch", False), ("cached", True)):
        started = time.perf_counter()
        ds = k.utils.image_dataset_from_directory(
            FOLDER / "train",
            color_mode="grayscale",
            image_size=(28, 28),
            batch_size=128,
            shuffle=True,
            seed=0,
            verbose=False,
        )
        if cached:
            ds = ds.cache()
        listing = time.perf_counter() - started
        for rounds in range(2 if cached else 1):
            started = time.perf_counter()
            for _ in ds:
                pass
            key = label if not cached else ("cached_first_epoch", "cached_later_epoch")[rounds]
            result[key] = time.perf_counter() - started + (listing if rounds == 0 else 0.0)
    return result


def summary(record: dict[str, Any]) -> dict[str, Any]:
    seconds = [h["seconds"] for h in record["history"]]
    return {
        "test_accuracy": record["test"]["accuracy"],
        "epochs": len(seconds),
        "first_epoch_seconds": seconds[0],
        "median_epoch_seconds_after_first": statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0],
        "epoch_seconds": [round(s, 3) for s in seconds],
        "wall_seconds": record["wall_seconds"],
        "load_before": record["load_before"],
        "data_source": record["data_source"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=None, help="epochs for both runs (default: cnn's 12)")
    args = parser.parse_args()
    written = write_png_folder()
    idx = train("idx", ["--dataset", "mnist"], args.epochs)
    folder = train("png", ["--data", str(FOLDER)], args.epochs)
    a, b = summary(idx), summary(folder)
    b["decode_seconds"] = folder["data"]["decode_seconds"]
    reader = keras_reader_seconds()
    gap = abs(a["test_accuracy"] - b["test_accuracy"])
    ratio = b["median_epoch_seconds_after_first"] / a["median_epoch_seconds_after_first"]
    verdicts = {
        "accuracy_within_0.2_point": gap <= TARGETS["accuracy_gap_max"],
        "epoch_time_within_1.3x": ratio <= TARGETS["epoch_ratio_max"],
        "folder_accuracy_at_least_98.5": b["test_accuracy"] >= TARGETS["folder_accuracy_min"],
    }
    result = {
        "benchmark": "folders",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cores": os.cpu_count(),
        "png_write_seconds": round(written, 1),
        "idx": a,
        "folder": b,
        "accuracy_gap": gap,
        "epoch_time_ratio": ratio,
        "keras_image_dataset_from_directory_seconds": reader,
        "targets": TARGETS,
        "verdicts": verdicts,
    }
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(scrub(result), indent=2) + "\n")
    print(f"IDX    : test accuracy {a['test_accuracy']:.4f}, {a['median_epoch_seconds_after_first']:.2f} s/epoch")
    print(
        f"folder : test accuracy {b['test_accuracy']:.4f}, {b['median_epoch_seconds_after_first']:.2f} s/epoch, "
        f"decode {b['decode_seconds']:.2f} s once"
    )
    print(f"keras image_dataset_from_directory: {json.dumps({k: round(v, 2) for k, v in reader.items()})}")
    print(f"gap {gap * 100:.2f} points, epoch ratio {ratio:.2f}; {json.dumps(verdicts)}")
    print(f"written to {RESULT}")
    if not all(verdicts.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
