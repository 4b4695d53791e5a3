"""Every picture convcli draws (matplotlib, headless Agg backend), written atomically as PNG.

Training curves, the confusion-matrix heat map, a grid of misclassified digits, feature-map
grids and kernel grids. Signed values get a diverging colour map and a colour bar.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .i18n import N_, retranslate
from .i18n import tr as _
from .imaging.color import colormap_plane, stretch
from .outputs import atomic_path


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    plt = _pyplot()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


LOSS_LABELS = (N_("cross-entropy"), N_("cross-entropy with label smoothing {epsilon}"))
"""What the run record's ``loss_label`` says (:func:`convcli.training.objective.loss_label`), in
English there; the curves' axis shows it in the reader's language."""


def plot_history(
    record: dict[str, Any], model_path: str | os.PathLike[str] | None, path: str | os.PathLike[str] | None = None
) -> Path:
    """Loss and accuracy per epoch (train and validation) beside the model: NAME-curves.png."""
    plt = _pyplot()
    history = record.get("history", [])
    if path is None:
        base = Path(model_path or "model.keras")
        path = base.with_name(f"{base.stem}-curves.png")
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, style in (("loss", "-o"), ("val_loss", "--s")):
        if any(key in h for h in history):
            ax_loss.plot(epochs, [h.get(key, np.nan) for h in history], style, label=key.replace("_", " "))
    for key, style in (("accuracy", "-o"), ("val_accuracy", "--s")):
        if any(key in h for h in history):
            ax_acc.plot(epochs, [h.get(key, np.nan) for h in history], style, label=key.replace("_", " "))
    loss = retranslate(record.get("loss_label", LOSS_LABELS[0]), LOSS_LABELS)
    ax_loss.set(title=_("Loss"), xlabel=_("epoch"), ylabel=loss)
    ax_acc.set(title=_("Accuracy"), xlabel=_("epoch"), ylabel="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    name = record.get("preset") or "custom"
    test = record.get("test", {})
    suffix = _(" — test accuracy {percent:.2f}%").format(percent=test["accuracy"] * 100) if "accuracy" in test else ""
    fig.suptitle(_("{model} on {dataset}").format(model=name, dataset=record.get("dataset", "mnist")) + suffix)
    return _save(fig, path)


def plot_confusion(
    confusion: np.ndarray,
    path: str | os.PathLike[str],
    class_names: Sequence[str] | None = None,
    title: str = N_("Confusion matrix"),
) -> Path:
    """The confusion matrix as an annotated heat map (rows: true class, columns: predicted)."""
    plt = _pyplot()
    n = confusion.shape[0]
    names = list(class_names or [str(i) for i in range(n)])
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(confusion, cmap="Blues")
    fig.colorbar(image, ax=ax, label=_("images"))
    ax.set_xticks(range(n), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right")
    ax.set_yticks(range(n), names)
    ax.set(xlabel=_("predicted class"), ylabel=_("true class"), title=_(title))
    threshold = confusion.max() / 2 if confusion.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                str(int(confusion[i, j])),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if confusion[i, j] > threshold else "black",
            )
    return _save(fig, path)


def plot_digit_grid(
    images: np.ndarray, titles: Sequence[str], path: str | os.PathLike[str], title: str, columns: int = 10
) -> Path:
    """A grid of small gray images, each with a caption (e.g. misclassified digits)."""
    plt = _pyplot()
    count = max(1, len(images))
    cols = min(columns, count)
    rows = math.ceil(count / cols)
    # constrained: the title is laid out above the two-line captions, not printed over them
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.5 * rows), squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, titles):
        ax.imshow(image, cmap="gray_r" if image.max() > 1 else "gray", interpolation="nearest")
        ax.set_title(caption, fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def plot_evaluation(
    result: Any,
    x_test: np.ndarray,
    y_test: np.ndarray,
    folder: str | os.PathLike[str],
    *,
    stem: str,
    class_names: Sequence[str] | None = None,
    max_mistakes: int = 50,
) -> list[Path]:
    """Write ``STEM-confusion.png`` (the heat map) and ``STEM-mistakes.png`` (the first
    misclassified test images ``x_test``, with labels ``y_test``) into ``folder``; both name
    the classes by ``class_names``."""
    out = Path(folder)
    written = [
        plot_confusion(
            result.confusion,
            out / f"{stem}-confusion.png",
            class_names,
            _("{stem}: confusion matrix, accuracy {percent:.2f}%").format(stem=stem, percent=result.accuracy * 100),
        )
    ]
    mistakes = result.predictions != y_test
    wrong = np.nonzero(mistakes)[0][:max_mistakes]
    names = list(class_names or [str(i) for i in range(result.confusion.shape[0])])
    caption = _("#{index} true {true}\npred {predicted}")
    captions = [caption.format(index=i, true=names[y_test[i]], predicted=names[result.predictions[i]]) for i in wrong]
    images = x_test[wrong] if len(wrong) else np.zeros((1, *x_test.shape[1:]), np.uint8)
    if images.ndim == 4 and images.shape[3] == 1:  # gray pictures of a folder: (N, H, W, 1)
        images = images[:, :, :, 0]
    written.append(
        plot_digit_grid(
            images,
            captions or [_("no mistakes")],
            out / f"{stem}-mistakes.png",
            _("{stem}: {count} misclassified test images (first {shown})").format(
                stem=stem, count=int(mistakes.sum()), shown=len(wrong)
            ),
        )
    )
    return written


# --------------------------------------------------------------------------- exact tile grids


class GridLayout:
    """Where each tile of a :func:`render_tiles` grid lies, so tests and tools can find it."""

    def __init__(
        self, count: int, tile_h: int, tile_w: int, scale: int, columns: int, header: int, label: int, pad: int
    ) -> None:
        self.count, self.tile_h, self.tile_w, self.scale = count, tile_h, tile_w, scale
        self.columns, self.header, self.label, self.pad = columns, header, label, pad
        self.rows = math.ceil(count / columns)

    def box(self, index: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) pixel bounds of tile ``index`` (bottom/right exclusive)."""
        row, col = divmod(index, self.columns)
        cell_h = self.label + self.tile_h * self.scale + self.pad
        cell_w = self.tile_w * self.scale + self.pad
        top = self.header + row * cell_h + self.label
        left = self.pad + col * cell_w
        return top, left, top + self.tile_h * self.scale, left + self.tile_w * self.scale


def tile_pixels(maps: np.ndarray, signed: bool) -> tuple[np.ndarray, float, float]:
    """Map values to RGB: gray from min (black) to max (white), or, for signed values, a
    diverging blue–white–red map symmetric around zero. Returns (H, W, N, 3) uint8, lo, hi."""
    arr = np.asarray(maps, dtype=np.float64)
    if signed:
        hi = float(np.abs(arr).max()) or 1.0
        return colormap_plane(arr, "RdBu_r", (-hi, hi)), -hi, hi
    lo, hi = float(arr.min()), float(arr.max())
    gray = np.rint(stretch(arr) * 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1), lo, hi


def _ascii(text: str) -> str:
    """Pillow's default font has no '×' or '−' (and a tiny '…'): spell them in ASCII."""
    return text.replace("×", "x").replace("…", "...").replace("−", "-")


@functools.cache
def _font(ascii_only: bool) -> Any:
    """The font for ASCII text (``ascii_only``) or any other: Pillow's default (its bundled
    Aileron, ASCII only: English pictures keep their pixels), else DejaVu Sans of the same size,
    which matplotlib (a dependency) ships, as Aileron draws a box for á é í ó ú ñ ¿. None when no
    DejaVu Sans file is found."""
    from PIL import ImageFont

    if ascii_only:
        return ImageFont.load_default()
    for path in _dejavu_paths():
        try:
            return ImageFont.truetype(path, 10)
        except OSError:
            continue
    return None


def _dejavu_paths() -> list[str]:
    """matplotlib's own DejaVu Sans (found without importing matplotlib), then Debian's."""
    import importlib.util

    spec = importlib.util.find_spec("matplotlib")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    found = [os.path.join(f, "mpl-data", "fonts", "ttf", "DejaVuSans.ttf") for f in folders]
    return [*found, "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"]


def _draw_text(draw: Any, xy: tuple[int, int], text: str, fill: tuple[int, int, int]) -> None:
    """Draw ``text`` in a font that has its letters; without DejaVu Sans, accents are dropped
    (``dígito`` → ``digito``) rather than drawn as boxes."""
    import unicodedata

    font = _font(text.isascii())
    if font is None:
        folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        text = folded.replace("¿", "").replace("¡", "").encode("ascii", "replace").decode("ascii")
        font = _font(True)
    draw.text(xy, text, fill=fill, font=font)


def render_tiles(
    maps: np.ndarray,
    title: str,
    *,
    signed: bool | None = None,
    tile_titles: list[str] | None = None,
    columns: int | None = None,
    min_tile: int = 56,
) -> tuple[np.ndarray, GridLayout]:
    """Compose one tile per channel of ``maps`` (H, W, N) into a labelled RGB image.

    Tiles are upscaled by a whole factor (nearest neighbour) so every pixel stays exact; the
    header states the value range, and signed values get a colour bar under the grid.
    """
    from PIL import Image, ImageDraw
    from skimage.util import montage

    title = _ascii(title)
    arr = np.asarray(maps, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[..., None]
    h, w, n = arr.shape
    signed = bool(arr.min() < 0) if signed is None else signed
    colours, lo, hi = tile_pixels(arr, signed)
    scale = max(1, math.ceil(min_tile / max(h, w)))
    cols = columns or min(n, 8 if n <= 64 else 16)
    header, label, pad = 34, 12, 4
    layout = GridLayout(n, h, w, scale, cols, header, label, pad)
    width = pad + cols * (w * scale + pad)
    width = max(width, 420)
    bar = 30 if signed else 0
    height = header + layout.rows * (label + h * scale + pad) + bar + pad
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    tiles = np.repeat(np.repeat(np.moveaxis(colours, 2, 0), scale, axis=1), scale, axis=2)
    tiles = np.pad(tiles, ((0, 0), (label, 0), (0, 0), (0, 0)), constant_values=255)  # room for each caption
    grid = montage(tiles, fill=(255, 255, 255), grid_shape=(layout.rows, cols), padding_width=pad, channel_axis=-1)
    canvas[header - pad : header - pad + grid.shape[0], : grid.shape[1]] = grid  # tiles where layout.box says
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    _draw_text(draw, (pad, 4), title, (0, 0, 0))
    low, high = f"{lo:.3g}", f"{hi:.3g}"
    if signed:
        legend = _("blue {low} ... white 0 ... red {high}").format(low=low, high=high)
    else:
        legend = _("black {low} ... white {high}").format(low=low, high=high)
    _draw_text(draw, (pad, 18), _("{n} maps of {h}x{w}; {legend}").format(n=n, h=h, w=w, legend=legend), (60, 60, 60))
    for i in range(n):
        top, left, _bottom, _right = layout.box(i)
        _draw_text(draw, (left, top - label), tile_titles[i] if tile_titles else f"#{i}", (0, 0, 0))
    out = np.asarray(image).copy()
    if signed:
        y0 = height - bar - pad + 6
        strip = colormap_plane(np.linspace(lo, hi, width - 2 * pad), "RdBu_r", (lo, hi))
        out[y0 : y0 + 10, pad : width - pad] = strip[None, :, :]
        image = Image.fromarray(out)
        draw = ImageDraw.Draw(image)
        _draw_text(draw, (pad, y0 + 11), low, (0, 0, 0))
        _draw_text(draw, (width // 2 - 3, y0 + 11), "0", (0, 0, 0))
        _draw_text(draw, (width - pad - 40, y0 + 11), high, (0, 0, 0))
        out = np.asarray(image).copy()
    return out, layout


def save_tiles(maps: np.ndarray, path: str | os.PathLike[str], title: str, **kwargs: Any) -> GridLayout:
    """Render a tile grid and write it atomically as PNG; returns its layout."""
    from .imaging.images import encode_image
    from .outputs import write_bytes

    image, layout = render_tiles(maps, title, **kwargs)
    write_bytes(path, encode_image(image))
    return layout
