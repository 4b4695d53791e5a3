"""Draw docs/predict-steps.png: what ``predict`` does to a photographed digit, step by step.

Three photo-like digits built in code (tests/digit_photos.py: a printed "2" under a lighting
gradient on ruled paper, a handwritten MNIST *training* digit small in a dim, vignetted photo,
a blue "7" on tinted paper saved as JPEG), each shown as the photo, the ink found (paper's
fitted brightness minus the picture), the digit's components, and the 28×28 the model sees.

    PYTHONPATH=src python docs/predict_steps.py          # writes docs/predict-steps.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from digit_photos import Look, font_glyph, machine_fonts, mnist_glyph, photograph

from convcli.prediction.digits import digit_ink, ink_map
from convcli.prediction.predict import gray_picture, prepare_digit

ROOT = Path(__file__).resolve().parents[1]
SEED = 7


def examples() -> list[tuple[str, np.ndarray]]:
    """(caption, RGB photo) for the three pictures."""
    from convcli.datasets.idx import load_dataset

    rng = np.random.default_rng(SEED)
    fonts = machine_fonts()
    train = load_dataset("mnist")
    four = int(np.nonzero(train.y_train == 4)[0][0])
    return [
        (
            "printed 2: gradient, ruled lines, noise",
            photograph(font_glyph("2", fonts[0], 70), Look(lighting="gradient", lines=True, noise=8, frame=1.8), rng),
        ),
        (
            "handwritten 4: small, vignette, gray paper",
            photograph(
                mnist_glyph(train.x_train[four], 50), Look("gray", "pencil", "vignette", False, 10, 4, None, 4.0), rng
            ),
        ),
        (
            "blue 7 on cream paper, JPEG q=40",
            photograph(font_glyph("7", fonts[6], 70), Look("cream", "blue", "none", True, 5, -5, 40, 2.0), rng),
        ),
    ]


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = examples()
    fig, axes = plt.subplots(len(rows), 4, figsize=(11, 2.9 * len(rows)))
    titles = ["photo", "ink: fitted paper − picture", "the digit's components", "28×28 the model sees"]
    for row, (caption, photo) in zip(axes, rows):
        gray = gray_picture(photo)
        panels = [photo, ink_map(gray).ink, digit_ink(gray), prepare_digit(photo)]
        for ax, title, panel in zip(row, titles, panels):
            ax.imshow(panel, cmap=None if panel.ndim == 3 else "gray", interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(caption, fontsize=9)
    fig.tight_layout()
    out = ROOT / "docs" / "predict-steps.png"
    fig.savefig(out, dpi=80)
    print(out)


if __name__ == "__main__":
    main()
