"""How well ``predict`` reads photographed digits: the old preparation against the new one.

Builds photo-like digits in code (tests/digit_photos.py: machine fonts and MNIST *training-set*
digits as ink on paper with lighting, lines, noise, rotation and JPEG; the test uses test-set
digits and another seed) and reports the accuracy of a trained model on them, prepared by the
preparation before issue 14 (crop to every pixel above 10% of the peak) and by today's
:func:`convcli.prediction.predict.prepare_digit`. Used to tune convcli/digits.py; never run on MNIST's
test set.

    convcli train cnn --epochs 3 --seed 0 -o /tmp/cnn3.keras
    python benchmarks/photo_digits.py /tmp/cnn3.keras            # 200 mixed + 360 font photos
    python benchmarks/photo_digits.py /tmp/cnn3.keras --show 40 --grid /tmp/seen.png
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from digit_photos import font_set, machine_fonts, photo_set

from convcli.prediction.predict import UNCERTAIN_BELOW, prepare_digit

TUNING_SEED = 2024  # the test uses another seed (tests/test_prediction.py)


def legacy_prepare(image: np.ndarray) -> np.ndarray:
    """The preparation before issue 14, kept only to measure against: background from the border,
    everything above 10% of the peak cropped, 20×20 box, centre of mass."""
    from PIL import Image

    from convcli.imaging.color import to_gray

    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 3:
        arr = to_gray(arr).astype(np.float64)
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    background = float(np.median(border))
    if background > (float(arr.min()) + float(arr.max())) / 2:
        arr, background = 255.0 - arr, 255.0 - background
    arr = np.clip(arr - background, 0, None)
    peak = float(arr.max())
    if peak < 24:
        return np.zeros((28, 28), np.uint8)
    arr = arr * (255.0 / peak)
    arr[arr < 0.1 * 255] = 0.0
    rows, cols = np.nonzero(arr.max(axis=1) > 0)[0], np.nonzero(arr.max(axis=0) > 0)[0]
    crop = arr[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = 20 / max(crop.shape)
    nh, nw = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = Image.fromarray(crop.astype(np.float32), mode="F").resize((nw, nh), Image.Resampling.LANCZOS)
    resized = np.clip(np.asarray(small, dtype=np.float64), 0, 255)
    yy, xx = np.indices(resized.shape)
    total = resized.sum() or 1.0
    top = min(max(round(14 - (yy * resized).sum() / total), 0), 28 - nh)
    left = min(max(round(14 - (xx * resized).sum() / total), 0), 28 - nw)
    out = np.zeros((28, 28))
    out[top : top + nh, left : left + nw] = resized
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def score(model, photos: list[np.ndarray], labels: np.ndarray, prepare) -> tuple[float, np.ndarray, np.ndarray, float]:
    """Accuracy, predictions, top probabilities and seconds per picture of ``prepare``."""
    from convcli.prediction.predict import predict_digits

    start = time.perf_counter()
    digits = []
    for photo in photos:
        try:
            digits.append(prepare(photo))
        except Exception:  # a refused picture counts as wrong
            digits.append(np.zeros((28, 28), np.uint8))
    seconds = (time.perf_counter() - start) / len(photos)
    results = predict_digits(model, np.stack(digits), ["x"] * len(digits))
    predictions = np.array([r.prediction for r in results])
    top = np.array([max(r.probabilities) for r in results])
    return float((predictions == labels).mean()), predictions, top, seconds


def report(name: str, model, photos, labels) -> None:
    """Print the old and the new preparation's accuracy on one set, and the new one's mistakes."""
    for label, prepare in (("old", legacy_prepare), ("new", prepare_digit)):
        acc, pred, top, secs = score(model, photos, labels, prepare)
        wrong = pred != labels
        sure_wrong = int((wrong & (top >= UNCERTAIN_BELOW)).sum())
        print(
            f"{name:<22} {label}: {acc * 100:6.2f}%  ({int(wrong.sum())} wrong, {sure_wrong} of them with "
            f"p ≥ {UNCERTAIN_BELOW}; flagged uncertain: {int((top < UNCERTAIN_BELOW).sum())})  "
            f"{secs * 1000:.0f} ms/picture"
        )
        if label == "new" and wrong.any():
            print(
                "    wrong (index true→pred p):",
                ", ".join(f"{i} {labels[i]}→{pred[i]} {top[i]:.2f}" for i in np.nonzero(wrong)[0][:30]),
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="A trained model, e.g. convcli train cnn --epochs 3 --seed 0")
    parser.add_argument("--seed", type=int, default=TUNING_SEED)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--data-dir", default=None, help="MNIST folder (training digits are used)")
    parser.add_argument("--grid", default=None, help="Write photos and prepared digits side by side (PNG).")
    parser.add_argument("--show", type=int, default=24, help="How many pictures --grid shows.")
    args = parser.parse_args()

    from convcli.datasets.idx import load_dataset
    from convcli.models.build import load_model

    data = load_dataset("mnist", args.data_dir)
    fonts = machine_fonts()
    model = load_model(args.model)
    print(f"{len(fonts)} fonts: {', '.join(f.stem for f in fonts)}")
    mixed, mixed_labels = photo_set(args.count, args.seed, data.x_train, data.y_train, fonts)
    report(f"{args.count} fonts+MNIST-train", model, mixed, mixed_labels)
    issue, issue_labels = font_set(args.seed + 1, fonts[:12])
    report("360 fonts (12×10×3)", model, issue, issue_labels)
    if args.grid:
        write_grid(args.grid, mixed[: args.show])


def write_grid(path: str, photos: list[np.ndarray]) -> None:
    """Each photo (shrunk to 112 px) beside the 28×28 the model sees (×4), 4 pairs a row."""
    from PIL import Image

    tiles = []
    for photo in photos:
        pic = Image.fromarray(photo).convert("RGB")
        pic.thumbnail((112, 112))
        tile = Image.new("RGB", (232, 116), (255, 255, 255))
        tile.paste(pic, (2, 2))
        seen = Image.fromarray(prepare_digit(photo)).resize((112, 112), Image.Resampling.NEAREST)
        tile.paste(seen.convert("RGB"), (118, 2))
        tiles.append(np.asarray(tile))
    while len(tiles) % 4:
        tiles.append(np.full_like(tiles[0], 255))
    rows = [np.concatenate(tiles[i : i + 4], axis=1) for i in range(0, len(tiles), 4)]
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)


if __name__ == "__main__":
    main()
