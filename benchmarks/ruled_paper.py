"""How well ``predict`` reads pen-stroke digits and whole numbers on ruled notebook paper.

Builds the sets in code (tests/ruled_sheets.py: MNIST *training-set* digits on lined sheets, and
numbers slanted, on lines, under a shadow, with separators; the tests use test-set digits and
another seed), writes them as PNG/JPEG files, and runs ``predict`` and ``predict --digits`` on
them through the library, as the CLI does. Reports each set's accuracy (digits) or the share of
numbers read exactly.

    convcli train cnn --epochs 2 --limit 20000 --seed 0 -o /tmp/cnn.keras
    python benchmarks/ruled_paper.py /tmp/cnn.keras --count 120 --numbers 30

For numbers it also says how many the model could read at best: those whose every MNIST digit
it reads right from the dataset's own 28×28 (a digit it misreads there it misreads on paper too).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from PIL import Image
from ruled_sheets import number_set, ruled_digit_set

TUNING_SEED = 2024  # the tests use other seeds (tests/test_ruled_paper.py)


def write_all(folder: Path, name: str, photos: list[np.ndarray]) -> list[str]:
    """Each photo as ``folder/name-i.png``."""
    paths = []
    for i, photo in enumerate(photos):
        path = folder / f"{name}-{i}.png"
        Image.fromarray(photo).save(path)
        paths.append(str(path))
    return paths


def digits_accuracy(model: str, paths: list[str], labels: np.ndarray) -> tuple[float, list[str]]:
    """Share of pictures read right (a refused picture counts as wrong) and the mistakes: each
    picture prepared as ``predict`` prepares it, all classified in one call."""
    from convcli.errors import ConvcliError
    from convcli.models.build import load_model
    from convcli.models.metadata import read_meta
    from convcli.prediction.predict import predict_digits, prepared_inputs

    meta, inputs, refused = read_meta(model), [], {}
    for i, path in enumerate(paths):
        try:
            inputs.append(prepared_inputs([path], meta, None)[0])
        except ConvcliError as exc:
            inputs.append(np.zeros_like(inputs[0]) if inputs else np.zeros((28, 28), np.uint8))
            refused[i] = exc.message[-40:]
    results = predict_digits(load_model(model), np.stack(inputs), paths)
    wrong = []
    for i, (result, label) in enumerate(zip(results, labels)):
        if i in refused or result.prediction != label:
            wrong.append(f"{i} {label}→{refused.get(i) or result.prediction} {result.probability:.2f}")
    return 1 - len(wrong) / len(paths), wrong


def numbers_exact(model: str, paths: list[str], texts: list[str]) -> tuple[float, list[str]]:
    """Share of numbers read exactly (separators as the reader reports them) and the mistakes."""
    from convcli.errors import ConvcliError
    from convcli.prediction.predict import predict_number_files

    right, wrong = 0, []
    for path, text in zip(paths, texts):
        try:
            read = predict_number_files(model, [path])[0].number
        except ConvcliError as exc:
            read = f"error ({exc.message[-30:]})"
        right += int(read == text)
        if read != text:
            wrong.append(f"{Path(path).name} {text}→{read}")
    return right / len(paths), wrong


def read_alone(model: str, images: np.ndarray, labels: np.ndarray, picked: list[list[int]]) -> list[bool]:
    """For each number, whether the model reads every one of its MNIST digits right from the
    dataset's own 28×28 (no photo, no paper): the most that reading the photo can reach."""
    from convcli.models.build import load_model
    from convcli.prediction.predict import predict_digits

    flat = [k for indices in picked for k in indices]
    right = iter(
        r.prediction == labels[k]
        for r, k in zip(predict_digits(load_model(model), images[flat], ["mnist"] * len(flat)), flat)
    )
    return [all([next(right) for _ in indices]) for indices in picked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="A trained digit model (see above)")
    parser.add_argument("--seed", type=int, default=TUNING_SEED)
    parser.add_argument("--count", type=int, default=120, help="digits per sheet kind")
    parser.add_argument("--numbers", type=int, default=30, help="numbers per kind")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (training digits are used)")
    parser.add_argument("--only", default=None, help="Comma-separated set names to run")
    parser.add_argument("--test-digits", action="store_true", help="numbers from MNIST's test digits")
    args = parser.parse_args()

    from convcli.datasets.idx import load_dataset

    data = load_dataset("mnist", args.data_dir)
    only = set(args.only.split(",")) if args.only else None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for offset, kind in enumerate(("plain", "clean", "light", "photo")):
            if (only and kind not in only) or not args.count:
                continue
            photos, labels = ruled_digit_set(args.count, args.seed + offset, data.x_train, data.y_train, kind)
            started = time.perf_counter()
            acc, wrong = digits_accuracy(args.model, write_all(folder, kind, photos), labels)
            secs = (time.perf_counter() - started) / len(photos)
            print(f"digits on {kind:<6} sheets: {acc * 100:6.2f}% of {len(photos)}  ({secs * 1000:.0f} ms/picture)")
            if wrong:
                print("    wrong:", "; ".join(wrong[:12]))
        right, alone = [], []
        for offset, kind in enumerate(("slanted", "phone", "long", "dates")):
            if (only and kind not in only) or not args.numbers:
                continue
            picked: list[list[int]] = []
            images, labels = (data.x_test, data.y_test) if args.test_digits else (data.x_train, data.y_train)
            photos, texts = number_set(args.numbers, args.seed + 10 + offset, images, labels, kind, picked)
            exact, wrong = numbers_exact(args.model, write_all(folder, kind, photos), texts)
            right.append((exact, len(photos)))
            alone += read_alone(args.model, images, labels, picked)
            print(f"numbers {kind:<8}: {exact * 100:6.2f}% of {len(photos)} read exactly")
            if wrong:
                print("    wrong:", "; ".join(wrong[:12]))
        if right:
            total = sum(e * n for e, n in right) / sum(n for _, n in right)
            print(f"numbers, all kinds: {total * 100:6.2f}% of {len(alone)} read exactly; the model alone reads")
            print(f"    every digit of {np.mean(alone) * 100:.2f}% of them right from MNIST's own 28x28 (the ceiling)")


if __name__ == "__main__":
    main()
