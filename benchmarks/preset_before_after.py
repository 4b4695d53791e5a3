"""Issue 28: Fashion-MNIST and a folder-trained set, the ``cnn`` preset before (cosine from 3e-3,
dropout 0.3, β₂ 0.999, shifts, 12 epochs) and after (the preset as it is for that data: on
Fashion-MNIST 6 epochs without shifts), test accuracy.

    python benchmarks/preset_before_after.py fashion [SEED ...]  # Fashion-MNIST from /usr/share/datasets
    python benchmarks/preset_before_after.py folder [SEED ...]   # 12,000/3,000 MNIST digits as 32×32 PNG folders

Seeds default to 0. ``--keep-before`` reruns only the "after" side and keeps the "before" runs of
the same seeds from the results file (the old preset is fixed and its runs repeat exactly).

One JSON line per run on stdout (label, epochs, test accuracy, seconds, load); at the end all of
them, with each side's mean and lowest, in ``benchmarks/results/{fashion,folder}-before-after.json``.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from convcli.training.run import TrainConfig, train

OLD = dict(
    spec="conv(16,5),pool(2),conv(32,5),pool(2),flatten,dense(128),dropout(0.3),dense(10)",
    learning_rate=3e-3,
    schedule="cosine",
    beta_2=0.999,
    warmup=0.2,
    epochs=12,
    augment=True,  # the old preset shifted every set's pictures; the new one leaves Fashion-MNIST's alone
    label_smoothing=0.1,
)


def run(label, old, seed=0, **kw):
    with tempfile.TemporaryDirectory() as work:
        c = TrainConfig.from_preset("cnn", None, seed=seed, output=f"{work}/m.keras", **kw)
        if old:
            for k, v in OLD.items():
                setattr(c, k, v)
        t = time.time()
        rec = train(c).record
        out = {
            "label": label,
            "seed": seed,
            "epochs": c.epochs,
            "test_accuracy": rec["test"]["accuracy"],
            "seconds": round(time.time() - t, 1),
            "load": round(os.getloadavg()[0], 1),
        }
        print(json.dumps(out), flush=True)
        return out


def folder(root: Path, n_train=12000, n_test=3000):
    """A PNG folder set: MNIST digits written as dark-on-white 32x32 PNGs in class folders
    (train/ and test/), as a user's scanned set would be."""
    import gzip

    base = Path(os.environ.get("CONVCLI_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    base = base if (base / "t10k-images-idx3-ubyte.gz").exists() else base / "mnist"

    def idx(name):
        d = gzip.decompress((base / name).read_bytes())
        nd = d[3]
        dims = [int.from_bytes(d[4 + 4 * i : 8 + 4 * i], "big") for i in range(nd)]
        return np.frombuffer(d, np.uint8, offset=4 + 4 * nd).reshape(dims)

    for part, xs, ys, n in (
        ("train", idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz"), n_train),
        ("test", idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz"), n_test),
    ):
        for i in range(n):
            d = root / part / str(ys[i])
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(255 - xs[i]).resize((32, 32), Image.BILINEAR).save(d / f"{i}.png")


def save(which: str, seeds: list[int], runs: list[dict]) -> None:
    """The runs and, for before and after, the mean and the lowest test accuracy."""
    words = ["python benchmarks/preset_before_after.py", which, *map(str, seeds), *(["--keep-before"] if keep else [])]
    result = {"command": " ".join(words)}
    result["date"] = time.strftime("%Y-%m-%d %H:%M")
    result["runs"] = runs
    for side in ("before", "after"):
        accuracies = [r["test_accuracy"] for r in runs if r["label"].startswith(side)]
        result[side] = {"mean": round(sum(accuracies) / len(accuracies), 5), "min": min(accuracies)}
    path = Path(__file__).resolve().parent / "results" / f"{which}-before-after.json"
    path.write_text(json.dumps(result, indent=2) + "\n")


def kept_before(which: str, seeds: list[int]) -> dict[int, dict]:
    """The stored "before" runs of ``seeds``, by seed; every seed must have one."""
    path = Path(__file__).resolve().parent / "results" / f"{which}-before-after.json"
    stored = {r["seed"]: r for r in json.loads(path.read_text())["runs"] if r["label"].startswith("before")}
    missing = [s for s in seeds if s not in stored]
    if missing:
        raise SystemExit(f"--keep-before: no stored before run for seed(s) {missing} in {path}")
    return {s: {**stored[s], "kept": True} for s in seeds}


keep = "--keep-before" in sys.argv[2:]
which, seeds = sys.argv[1], [int(s) for s in sys.argv[2:] if s != "--keep-before"] or [0]
before = kept_before(which, seeds) if keep else {}
runs = []


def side(label: str, old: bool, seed: int, **kw) -> dict:
    """One run, or the kept "before" run of ``seed``."""
    return before[seed] if old and keep else run(label, old, seed, **kw)


if which == "fashion":
    for seed in seeds:
        for old in (True, False):
            label = ("before" if old else "after") + ": fashion-mnist"
            runs.append(side(label, old, seed, dataset="fashion-mnist", data_dir="/usr/share/datasets"))
elif which == "folder":
    root = Path(__file__).resolve().parent / "work" / "mnist-folder-32"
    if not root.exists():
        folder(root)
    for seed in seeds:
        for old in (True, False):
            label = ("before" if old else "after") + ": folder of 32x32 dark-on-white PNGs (12,000 train / 3,000 test)"
            runs.append(side(label, old, seed, data=str(root)))
save(which, seeds, runs)
