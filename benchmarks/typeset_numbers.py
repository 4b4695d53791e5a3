"""Whole numbers typeset from the system's fonts, a check that ``predict --digits`` is not fitted
to tests/ruled_sheets.py's pen-stroke numbers.

Each number (six digits, a phone number on a ruled sheet, ten digits under a shadow, a date with
``/``, ``.`` or ``-``, a decimal like ``3.141``) is set character by character from one font
(DejaVu Sans and its oblique, Liberation Sans, URW Gothic, Nimbus Sans italic, Z003 where
installed), some sheared, neighbours a pen's gap apart, and photographed on a sheet as the
benchmark's numbers are. Reports the share read exactly and the share whose *structure* is right
(as many digits and the separators as written): an MNIST model reads printed digits poorly, so
the structure is the figure that measures the splitting and the separators.

    python benchmarks/typeset_numbers.py /tmp/cnn.keras --seed 4242 --count 150
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from PIL import Image, ImageDraw, ImageFont
from ruled_sheets import Sheet, _set_beside, slant, write_on_sheet

FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/opentype/urw-base35/URWGothic-Book.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSans-Italic.otf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Oblique.ttf",
    "/usr/share/fonts/opentype/urw-base35/Z003-MediumItalic.otf",
]


def char_glyph(font: ImageFont.FreeTypeFont, char: str) -> np.ndarray:
    """``char``'s ink (0–1) between the top of the font's "0" and its baseline, cropped to its
    columns: a "-" keeps its height above the baseline, a "." sits on it."""
    size = 200
    image, zero = Image.new("L", (2 * size, 2 * size), 0), Image.new("L", (2 * size, 2 * size), 0)
    ImageDraw.Draw(image).text((size // 2, size // 2), char, font=font, fill=255, anchor="ls")
    ImageDraw.Draw(zero).text((size // 2, size // 2), "0", font=font, fill=255, anchor="ls")
    rows = np.nonzero((np.asarray(zero) > 0).any(axis=1))[0]
    ink = np.asarray(image, dtype=np.float64) / 255
    cols = np.nonzero(ink.any(axis=0))[0]
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def typeset(text: str, font_path: str, height: int, shear: float, rng: np.random.Generator) -> np.ndarray:
    """``text`` in one font, digits ``height`` px tall, sheared by ``shear``, a pen's gap apart."""
    font = ImageFont.truetype(font_path, 150)
    line = np.zeros((height, 0))
    for char in text:
        glyph = char_glyph(font, char)
        width = max(1, round(glyph.shape[1] * height / glyph.shape[0]))
        resized = Image.fromarray((glyph * 255).astype(np.uint8)).resize((width, height), Image.Resampling.LANCZOS)
        piece = np.asarray(resized, dtype=np.float64) / 255
        piece = slant(piece, shear) if shear else piece
        line = _set_beside(line, piece, max(2, height // 12) + int(rng.integers(0, max(1, height // 10))))
    return line


def number_text(kind: str, rng: np.random.Generator) -> str:
    digits = "".join(str(d) for d in rng.integers(0, 10, 10))
    sep = str(rng.choice(["/", ".", "-"]))
    if kind == "date":
        return f"{digits[:3]}-{digits[3:7]}" if sep == "-" else f"{digits[:2]}{sep}{digits[2:4]}{sep}{digits[4:8]}"
    return {"six": digits[:6], "phone": digits, "long": digits, "decimal": f"{digits[:1]}.{digits[1:4]}"}[kind]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="A trained digit model")
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--count", type=int, default=150)
    args = parser.parse_args()

    from convcli.prediction.predict import predict_number_files

    fonts = [f for f in FONTS if Path(f).exists()]
    if not fonts:
        sys.exit("none of the fonts is installed")
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        paths, texts = [], []
        for i in range(args.count):
            kind = ["six", "phone", "long", "date", "decimal"][i % 5]
            text = number_text(kind, rng)
            font = fonts[int(rng.integers(len(fonts)))]
            height = int(rng.integers(36, 72))
            shear = float(rng.uniform(0.15, 0.35)) if rng.random() < 0.4 else 0.0
            glyph = typeset(text, font, height, shear, rng)
            sheet = (
                Sheet.clean(rng)
                if kind == "phone"
                else Sheet(strength=0.0, shadow=float(rng.uniform(0.1, 0.35)), noise=4)
            )
            sheet.margin = False
            paths.append(str(Path(tmp) / f"{kind}-{i}-{Path(font).stem}.png"))
            Image.fromarray(write_on_sheet(glyph, sheet, rng, round(height * rng.uniform(0.8, 1.0)))).save(paths[-1])
            texts.append(text)
        results = predict_number_files(args.model, paths)
    exact = [r.number == t for r, t in zip(results, texts)]
    shaped = [
        len(r.digits) == sum(c.isdigit() for c in t)
        and "".join(c for _, c, _ in r.separators) == "".join(c for c in t if not c.isdigit())
        for r, t in zip(results, texts)
    ]
    print(f"typeset numbers: {np.mean(exact) * 100:.1f}% read exactly, {np.mean(shaped) * 100:.1f}% with the")
    print(f"    digits and separators as written, of {len(texts)} ({len(fonts)} fonts)")
    for path, text, result, ok in zip(paths, texts, results, shaped):
        if not ok:
            print(f"    {Path(path).name} {text}→{result.number}")


if __name__ == "__main__":
    main()
