"""Photo-like digits built in code: machine fonts and MNIST digits as ink on photographed paper.

Used by tests/test_prediction.py (test-set MNIST digits, one seed) and by
benchmarks/photo_digits.py (training-set MNIST digits, another seed) to check that ``predict``
reads digits photographed on paper: tinted or gray paper, black or blue ink, a lighting
gradient or vignette, faint ruled lines, camera noise, a slight rotation, a JPEG round trip, and
the digit anywhere in a larger picture. Everything is drawn with Pillow and numpy from a seeded
``numpy.random.Generator``, so a set is the same on every run.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_ROOT = Path("/usr/share/fonts")
# Text faces with ordinary (lining) figures, in a fixed order. Every one is needed, so that the test
# set is the same on every machine: Debian's FONT_PACKAGES hold them (`make test` and .ci/run install
# them; the machine's other fonts are never used).
FONT_PACKAGES = "fonts-dejavu-core fonts-dejavu-extra fonts-liberation fonts-urw-base35 fonts-noto-mono"
FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansCondensed-Oblique.ttf",
    "LiberationSans-Regular.ttf",
    "LiberationSerif-Regular.ttf",
    "LiberationMono-Regular.ttf",
    "LiberationSansNarrow-Bold.ttf",
    "LiberationSerif-Italic.ttf",
    "NimbusSans-Regular.otf",
    "NimbusRoman-Bold.otf",
    "URWGothic-Book.otf",
    "URWBookman-Light.otf",
    "C059-Roman.otf",
    "NotoSansMono-Regular.ttf",
)

PAPERS = {
    "white": (246, 244, 238),
    "gray": (178, 178, 172),
    "cream": (242, 230, 190),
    "blue": (205, 222, 240),
    "pink": (245, 215, 215),
    "green": (212, 236, 208),
}
INKS = {"black": (25, 25, 30), "blue": (30, 50, 150), "dark-blue": (20, 30, 90), "pencil": (70, 70, 75)}


def machine_fonts(limit: int | None = None) -> list[Path]:
    """The fonts of :data:`FONT_FILES` installed under /usr/share/fonts, in that order."""
    found = {p.name: p for p in FONT_ROOT.rglob("*") if p.suffix in (".ttf", ".otf")} if FONT_ROOT.is_dir() else {}
    fonts = [found[name] for name in FONT_FILES if name in found]
    return fonts[:limit]


def font_glyph(text: str, font: Path, height: int) -> np.ndarray:
    """Ink coverage (0–1 float) of ``text`` in ``font``, cropped to the ink, about ``height`` px tall."""
    face = ImageFont.truetype(str(font), size=int(height * 1.4))
    left, top, right, bottom = face.getbbox(text)
    canvas = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(canvas).text((4 - left, 4 - top), text, fill=255, font=face)
    return _crop(np.asarray(canvas, dtype=np.float64) / 255)


def mnist_glyph(digit: np.ndarray, height: int) -> np.ndarray:
    """Ink coverage of an MNIST digit (light on black, 28×28) scaled so its ink is ``height`` px tall."""
    ink = _crop(np.asarray(digit, dtype=np.float64) / 255)
    scale = height / ink.shape[0]
    size = (max(1, round(ink.shape[1] * scale)), height)
    big = Image.fromarray((ink * 255).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float64) / 255


def _crop(ink: np.ndarray) -> np.ndarray:
    rows = np.nonzero(ink.max(axis=1) > 0.02)[0]
    cols = np.nonzero(ink.max(axis=0) > 0.02)[0]
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


@dataclass
class Look:
    """How one photo is taken: paper, ink, lighting, lines, noise, angle, JPEG, framing."""

    paper: str = "white"
    ink: str = "black"
    lighting: str = "none"  # none, gradient or vignette
    lines: bool = False
    noise: float = 0.0  # camera noise, standard deviation in 0–255 levels
    angle: float = 0.0  # degrees
    jpeg: int | None = None  # quality, or None for no JPEG round trip
    frame: float = 1.6  # picture height / glyph height (larger: the digit is a small part of the photo)

    @classmethod
    def random(cls, rng: np.random.Generator) -> Look:
        """A random but plausible photo of a sheet of paper."""
        return cls(
            paper=str(rng.choice(list(PAPERS))),
            ink=str(rng.choice(list(INKS))),
            lighting=str(rng.choice(["none", "gradient", "vignette"])),
            lines=bool(rng.random() < 0.4),
            noise=float(rng.uniform(2, 14)),
            angle=float(rng.uniform(-8, 8)),
            jpeg=int(rng.integers(35, 92)) if rng.random() < 0.7 else None,
            frame=float(rng.choice([1.4, 1.8, 2.5, 4.0, 6.0])),
        )


def photograph(glyph: np.ndarray, look: Look, rng: np.random.Generator) -> np.ndarray:
    """An RGB uint8 photo of ``glyph`` (ink coverage) written on paper, as ``look`` describes."""
    gh, gw = glyph.shape
    height = max(gh + 8, round(gh * look.frame))
    width = max(gw + gh // 2, round(height * rng.uniform(1.0, 1.5)))
    top, left = int(rng.integers(2, height - gh - 2)), int(rng.integers(2, width - gw - 2))
    coverage = np.zeros((height, width))
    coverage[top : top + gh, left : left + gw] = glyph
    paper = np.empty((height, width, 3))
    paper[:] = np.array(PAPERS[look.paper]) + rng.uniform(-8, 8, 3)
    if look.lines:
        paper = _ruled(paper, gh, rng)
    ink = np.array(INKS[look.ink]) + rng.uniform(-10, 10, 3)
    rgb = paper * (1 - coverage[..., None]) + ink * coverage[..., None]
    if look.angle:
        fill = tuple(int(v) for v in np.clip(np.array(PAPERS[look.paper]), 0, 255))
        pic = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
        rgb = np.asarray(pic.rotate(look.angle, Image.Resampling.BICUBIC, fillcolor=fill), dtype=np.float64)
    rgb = rgb * _lighting(look.lighting, (height, width), rng)[..., None]
    rgb = rgb + rng.normal(0, look.noise, rgb.shape)
    out = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return jpeg_round_trip(out, look.jpeg) if look.jpeg else out


def _ruled(paper: np.ndarray, glyph_height: int, rng: np.random.Generator) -> np.ndarray:
    """Faint light-blue ruled lines across the sheet, about one glyph height apart."""
    height = paper.shape[0]
    spacing = max(6, round(glyph_height * rng.uniform(0.5, 1.1)))
    offset = int(rng.integers(0, spacing))
    strength = rng.uniform(0.15, 0.35)
    line = np.array([120, 150, 200])
    out = paper.copy()
    for row in range(offset, height, spacing):
        thick = int(rng.integers(1, 3))
        out[row : row + thick] = out[row : row + thick] * (1 - strength) + line * strength
    return out


def _lighting(kind: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A multiplicative light field: flat, a linear gradient in a random direction, or a vignette."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    y, x = yy / shape[0] - 0.5, xx / shape[1] - 0.5
    if kind == "gradient":
        theta = rng.uniform(0, 2 * np.pi)
        ramp = x * np.cos(theta) + y * np.sin(theta)  # −0.7 … 0.7
        return 1 - rng.uniform(0.25, 0.5) * (ramp - ramp.min()) / (np.ptp(ramp) or 1)
    if kind == "vignette":
        return 1 - rng.uniform(0.3, 0.55) * (x**2 + y**2) / 0.5
    return np.ones(shape)


def jpeg_round_trip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """``rgb`` saved as JPEG at ``quality`` and read back (block and ringing artefacts)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def photo_set(
    count: int, seed: int, mnist_images: np.ndarray, mnist_labels: np.ndarray, fonts: list[Path]
) -> tuple[list[np.ndarray], np.ndarray]:
    """``count`` photos, half of font digits and half of MNIST digits, and their labels."""
    rng = np.random.default_rng(seed)
    photos, labels = [], []
    for i in range(count):
        height = int(rng.integers(28, 110))
        if i % 2 == 0:
            label = int(rng.integers(0, 10))
            glyph = font_glyph(str(label), fonts[int(rng.integers(len(fonts)))], height)
        else:
            k = int(rng.integers(len(mnist_images)))
            label, glyph = int(mnist_labels[k]), mnist_glyph(mnist_images[k], height)
        photos.append(photograph(glyph, Look.random(rng), rng))
        labels.append(label)
    return photos, np.array(labels)


def font_set(seed: int, fonts: list[Path], per_digit: int = 3) -> tuple[list[np.ndarray], np.ndarray]:
    """Every digit in every font ``per_digit`` times (12 fonts × 10 × 3 = 360, like the issue's set)."""
    rng = np.random.default_rng(seed)
    photos, labels = [], []
    for font in fonts:
        for label in range(10):
            for _ in range(per_digit):
                glyph = font_glyph(str(label), font, int(rng.integers(28, 110)))
                photos.append(photograph(glyph, Look.random(rng), rng))
                labels.append(label)
    return photos, np.array(labels)


def number_glyph(glyphs: list[np.ndarray], gap: int) -> np.ndarray:
    """Glyphs side by side on one line, bottoms aligned, ``gap`` px apart."""
    height = max(g.shape[0] for g in glyphs)
    width = sum(g.shape[1] for g in glyphs) + gap * (len(glyphs) - 1)
    line = np.zeros((height, width))
    x = 0
    for g in glyphs:
        line[height - g.shape[0] :, x : x + g.shape[1]] = np.maximum(line[height - g.shape[0] :, x : x + g.shape[1]], g)
        x += g.shape[1] + gap
    return line


def blank_paper(rng: np.random.Generator, look: Look, shape: tuple[int, int] = (120, 160)) -> np.ndarray:
    """A photo of paper with nothing written on it (lighting, lines, noise, JPEG as ``look`` says)."""
    return photograph(np.zeros((shape[0] // 2, shape[1] // 3)), Look(**{**look.__dict__, "frame": 2.0}), rng)
