"""A fingerprint of the digit preparation: sha256 of what ``predict`` feeds the model for 200
photographed digits, 20 photographed numbers and 20 large photos (shrunk before the ink is found).

    PYTHONPATH=src python benchmarks/preparation_digest.py [--data DIR]

Run it on two checkouts (``PYTHONPATH=<checkout>/src``): equal digests mean the two preparations
are identical bit for bit on these pictures. The photos are built in code (tests/digit_photos.py:
machine fonts and MNIST test digits, seed 14 as tests/test_prediction.py uses); it needs the fonts
of ``make test`` and the MNIST files (``CONVCLI_DATA_DIR`` or ``--data``).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from digit_photos import Look, machine_fonts, mnist_glyph, number_glyph, photo_set, photograph

SEED = 14


def digests(data_dir: str | None) -> dict[str, str]:
    """sha256 of the prepared 28×28s (digits), of each number's boxes and 28×28s, of the large photos."""
    from PIL import Image

    from convcli.datasets.idx import load_dataset
    from convcli.prediction.predict import prepare_digit, prepare_number

    data = load_dataset("mnist", data_dir)
    photos, _ = photo_set(200, SEED, data.x_test, data.y_test, machine_fonts())
    digits = hashlib.sha256(b"".join(prepare_digit(p, str(i)).tobytes() for i, p in enumerate(photos)))
    rng = np.random.default_rng(SEED)
    numbers = hashlib.sha256()
    for i in range(20):
        picks = rng.integers(len(data.x_test), size=int(rng.integers(2, 6)))
        glyphs = [mnist_glyph(data.x_test[k], int(rng.integers(40, 80))) for k in picks]
        photo = photograph(number_glyph(glyphs, int(rng.integers(6, 16))), Look.random(rng), rng)
        found = prepare_number(photo, f"number {i}")
        found = found[0] if isinstance(found, tuple) else found  # (digits, separators) since 2026-12-03
        for box, digit in found:
            numbers.update(np.asarray(box, dtype=np.int64).tobytes() + digit.tobytes())
    large = hashlib.sha256()
    for i, photo in enumerate(photos[:20]):
        side = int(rng.integers(1100, 2600))
        scale = side / max(photo.shape[:2])
        size = (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
        big = np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.BICUBIC))
        large.update(prepare_digit(big, f"large {i}").tobytes())
    return {"digits": digits.hexdigest(), "numbers": numbers.hexdigest(), "large": large.hexdigest()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="the folder holding the MNIST files (default: CONVCLI_DATA_DIR)")
    args = parser.parse_args()
    for name, digest in digests(args.data).items():
        print(f"{name:8s} {digest}")


if __name__ == "__main__":
    main()
