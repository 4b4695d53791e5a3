"""Pen-stroke digits and numbers on ruled notebook paper, built in code as a student photographs them.

Used by tests/test_ruled_paper.py (MNIST *test* digits, one seed) and benchmarks/ruled_paper.py
(MNIST *training* digits, another seed). A sheet has blue ruled lines about one digit height apart
(sometimes a red margin line), drawn before the ink; the digit sits on a line and is crossed by
the next, so the lines touch it. Numbers are MNIST digits side by side, slanted by a shear so that
neighbours overlap in columns without touching, with separators drawn as pen strokes (``/``, ``-``,
``.``), under a light shadow gradient. Everything comes from a seeded ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from digit_photos import INKS, PAPERS, jpeg_round_trip, mnist_glyph
from PIL import Image, ImageDraw

BLUE_LINE = np.array([95, 135, 205])
RED_MARGIN = np.array([205, 70, 70])


@dataclass
class Sheet:
    """How one lined sheet is written on and photographed."""

    strength: float = 0.9  # how dark the ruled lines are (0: invisible, 1: full blue)
    margin: bool = False  # a red vertical margin line through the writing
    paper: str = "white"
    ink: str = "black"
    shadow: float = 0.0  # a lighting gradient: the darkest corner loses this fraction of light
    noise: float = 2.0
    angle: float = 0.0
    jpeg: int | None = None

    @classmethod
    def clean(cls, rng: np.random.Generator) -> Sheet:
        """A clean scan of a lined sheet: dark lines, plain light, little noise."""
        return cls(strength=float(rng.uniform(0.75, 1.0)), margin=bool(rng.random() < 0.3))

    @classmethod
    def light(cls, rng: np.random.Generator) -> Sheet:
        """A sheet with light lines."""
        return cls(strength=float(rng.uniform(0.25, 0.5)), margin=bool(rng.random() < 0.3))

    @classmethod
    def photo(cls, rng: np.random.Generator) -> Sheet:
        """A phone photo of a lined sheet: tinted paper, ink colour, shadow, tilt, noise, JPEG."""
        return cls(
            strength=float(rng.uniform(0.3, 1.0)),
            margin=bool(rng.random() < 0.3),
            paper=str(rng.choice(["white", "cream", "gray", "blue"])),
            ink=str(rng.choice(list(INKS))),
            shadow=float(rng.uniform(0.1, 0.4)),
            noise=float(rng.uniform(2, 10)),
            angle=float(rng.uniform(-6, 6)),
            jpeg=int(rng.integers(50, 92)) if rng.random() < 0.7 else None,
        )


def write_on_sheet(coverage: np.ndarray, sheet: Sheet, rng: np.random.Generator, line_height: int) -> np.ndarray:
    """An RGB uint8 photo of ``coverage`` (ink 0–1) written on a lined sheet whose lines are about
    ``line_height`` px apart, the writing's bottom resting on one line and crossed by others."""
    gh, gw = coverage.shape
    height = round(gh * rng.uniform(1.8, 2.6))
    width = max(gw + 2 * gh // 3, round(height * rng.uniform(1.1, 1.6)))
    top = int(rng.integers(gh // 3, height - gh - 2))
    left = int(rng.integers(gh // 4, width - gw - gh // 4))
    spacing = max(8, line_height)
    thick = max(1, round(spacing / 40))
    base = top + gh - 1 - thick // 2  # the line under the writing
    paper = np.empty((height, width, 3))
    paper[:] = np.array(PAPERS[sheet.paper]) + rng.uniform(-6, 6, 3)
    for row in range(base % spacing, height, spacing):
        paper[row : row + thick] = paper[row : row + thick] * (1 - sheet.strength) + BLUE_LINE * sheet.strength
    if sheet.margin:
        column = int(np.clip(left + rng.uniform(-0.1, 0.3) * gw, 1, width - 3))
        paper[:, column : column + thick + 1] = paper[:, column : column + thick + 1] * 0.2 + RED_MARGIN * 0.8
    full = np.zeros((height, width))
    full[top : top + gh, left : left + gw] = coverage
    ink = np.array(INKS[sheet.ink]) + rng.uniform(-8, 8, 3)
    rgb = paper * (1 - full[..., None]) + ink * full[..., None]
    if sheet.angle:
        fill = tuple(int(v) for v in PAPERS[sheet.paper])
        image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
        rgb = np.asarray(image.rotate(sheet.angle, Image.Resampling.BICUBIC, fillcolor=fill), dtype=np.float64)
    if sheet.shadow:
        rgb = rgb * shadow_gradient((height, width), sheet.shadow, rng)[..., None]
    rgb = rgb + rng.normal(0, sheet.noise, rgb.shape)
    out = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return jpeg_round_trip(out, sheet.jpeg) if sheet.jpeg else out


def shadow_gradient(shape: tuple[int, int], depth: float, rng: np.random.Generator) -> np.ndarray:
    """A multiplicative light field falling linearly by ``depth`` across the picture, random direction."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (xx / shape[1]) * np.cos(theta) + (yy / shape[0]) * np.sin(theta)
    return 1 - depth * (ramp - ramp.min()) / (np.ptp(ramp) or 1)


def ruled_digit_set(
    count: int, seed: int, images: np.ndarray, labels: np.ndarray, kind: str
) -> tuple[list[np.ndarray], np.ndarray]:
    """``count`` MNIST digits on lined sheets of one ``kind`` (clean, light or photo; plain: no
    lines, the same digits' reference), and their labels."""
    rng = np.random.default_rng(seed)
    make = {"plain": lambda rng: Sheet(strength=0.0), "clean": Sheet.clean, "light": Sheet.light, "photo": Sheet.photo}[
        kind
    ]
    photos, truth = [], []
    for _ in range(count):
        k = int(rng.integers(len(images)))
        height = int(rng.integers(30, 100))
        glyph = mnist_glyph(images[k], height)
        photos.append(write_on_sheet(glyph, make(rng), rng, round(height * rng.uniform(0.55, 0.95))))
        truth.append(int(labels[k]))
    return photos, np.array(truth)


# --------------------------------------------------------------------------- numbers


def separator_glyph(char: str, height: int, stroke: int) -> np.ndarray:
    """A pen-drawn separator at a digit height of ``height`` px: ``/`` a slanted stroke as tall as
    a digit, ``-`` a short bar at mid height, ``.`` a dot on the baseline (ink coverage 0–1)."""
    width = {"/": round(height * 0.6), "-": height // 3, ".": stroke + 2}[char] + stroke
    image = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(image)
    half = stroke / 2
    if char == "/":
        draw.line([(half, height - 1 - half), (width - 1 - half, half)], fill=255, width=stroke)
    elif char == "-":
        draw.line([(half, height * 0.5), (width - 1 - half, height * 0.48)], fill=255, width=stroke)
    else:
        draw.ellipse([0, height - stroke - 2, stroke + 1, height - 1], fill=255)
    return np.asarray(image, dtype=np.float64) / 255


def slant(coverage: np.ndarray, shear: float) -> np.ndarray:
    """``coverage`` sheared so its tops lean right by ``shear`` px per px of height (italic writing)."""
    height = coverage.shape[0]
    extra = int(np.ceil(abs(shear) * height))
    image = Image.fromarray(np.pad(coverage * 255, ((0, 0), (0, extra))).astype(np.float32), mode="F")
    offset = -shear * (height - 1) if shear > 0 else 0.0
    sheared = image.transform(
        image.size, Image.Transform.AFFINE, (1, shear, offset, 0, 1, 0), resample=Image.Resampling.BICUBIC
    )
    return np.clip(np.asarray(sheared, dtype=np.float64) / 255, 0, 1)


def written_number(
    text: str,
    rng: np.random.Generator,
    images: np.ndarray,
    labels: np.ndarray,
    height: int,
    shear: float,
    picked: list[int] | None = None,
) -> np.ndarray:
    """``text`` (digits and separators) written with MNIST digits of one height, each slanted by
    ``shear`` and set as close to the last as a pen's gap allows: slanted neighbours overlap in
    columns but never touch (at least ``height // 12`` px of paper between their inks). The index
    of each MNIST digit used is appended to ``picked`` when given."""
    by_digit = [np.nonzero(labels == d)[0] for d in range(10)]
    stroke = max(2, round(0.11 * height))
    gap = max(2, height // 12)
    line = np.zeros((height, 0))
    for char in text:
        if char.isdigit():
            index = int(rng.choice(by_digit[int(char)]))
            if picked is not None:
                picked.append(index)
            piece = mnist_glyph(images[index], height)
        else:
            piece = separator_glyph(char, height, stroke)
        piece = slant(piece, shear) if shear else piece
        line = _set_beside(line, piece, gap + int(rng.integers(0, max(1, height // 10))))
    return line


def _set_beside(line: np.ndarray, piece: np.ndarray, gap: int) -> np.ndarray:
    """``piece`` (bottom-aligned) placed right of ``line``'s ink, as far left as keeps ``gap`` px
    of paper between the two inks."""
    from scipy import ndimage

    height = line.shape[0]
    h, w = piece.shape
    if line.shape[1] == 0:
        out = np.zeros((height, w))
        out[height - h :] = piece
        return out
    padded = np.pad(line > 0.05, ((0, 0), (0, w + gap + 1)))
    grown = ndimage.binary_dilation(padded, iterations=gap)
    ink = np.zeros((height, w), dtype=bool)
    ink[height - h :] = piece > 0.05
    right = int(np.nonzero(line.max(axis=0) > 0.05)[0][-1])
    x = max(0, right - w // 2)
    while (grown[:, x : x + w] & ink).any():
        x += 1
    out = np.zeros((height, max(line.shape[1], x + w)))
    out[:, : line.shape[1]] = line
    out[height - h :, x : x + w] = np.maximum(out[height - h :, x : x + w], piece)
    return out


def number_set(
    count: int,
    seed: int,
    images: np.ndarray,
    labels: np.ndarray,
    kind: str,
    picked: list[list[int]] | None = None,
) -> tuple[list[np.ndarray], list[str]]:
    """``count`` photos of numbers and what is written. Kinds: ``slanted`` (six digits, sheared),
    ``phone`` (ten digits on a lined sheet), ``long`` (ten digits under a shadow), ``dates``
    (dd/mm/yyyy, dd.mm.yyyy or a phone number with a hyphen, slanted and shadowed). ``picked``,
    when given, receives each number's MNIST indices (what the model alone reads of them is the
    ceiling of reading the number)."""
    rng = np.random.default_rng(seed)
    photos, texts = [], []
    for _ in range(count):
        digits = "".join(str(d) for d in rng.integers(0, 10, 10))
        if kind == "slanted":
            text, sheet = digits[:6], Sheet(strength=0.0)
        elif kind == "phone":
            text, sheet = digits, Sheet.clean(rng)
            sheet.margin = False
        elif kind == "long":
            text, sheet = digits, Sheet(strength=0.0, shadow=float(rng.uniform(0.15, 0.35)), noise=4)
        else:
            sep = str(rng.choice(["/", ".", "-"]))
            text = f"{digits[:2]}{sep}{digits[2:4]}{sep}{digits[4:8]}" if sep != "-" else f"{digits[:3]}-{digits[3:7]}"
            sheet = Sheet(strength=0.0, shadow=float(rng.uniform(0.1, 0.3)), noise=4)
        height = int(rng.integers(36, 72))
        shear = float(rng.uniform(0.2, 0.4)) if kind in ("slanted", "dates") else float(rng.uniform(0, 0.15))
        indices: list[int] = []
        glyph = written_number(text, rng, images, labels, height, shear, indices)
        if picked is not None:
            picked.append(indices)
        photos.append(write_on_sheet(glyph, sheet, rng, round(height * rng.uniform(0.8, 1.0))))
        texts.append(text)
    return photos, texts


# --------------------------------------------------------------------------- scans


def optdigit(digit: np.ndarray, side: int = 64) -> np.ndarray:
    """An optdigits-like scan: the digit's bitmap fit to 32×32, counted in 4×4 blocks (0–16),
    and shown at ``side``×``side``, light on dark, soft-edged and touching the border."""
    rows, cols = np.nonzero(digit.max(axis=1) > 0)[0], np.nonzero(digit.max(axis=0) > 0)[0]
    crop = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] > 127
    bits = np.asarray(Image.fromarray(crop.astype(np.uint8) * 255).resize((32, 32), Image.Resampling.NEAREST)) > 0
    counts = bits.reshape(8, 4, 8, 4).sum(axis=(1, 3))
    small = Image.fromarray((counts * 255 // 16).astype(np.uint8))
    return np.asarray(small.resize((side, side), Image.Resampling.BICUBIC))
