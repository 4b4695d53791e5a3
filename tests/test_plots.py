"""The pictures convcli draws keep their texts apart."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("count", [1, 4, 12, 23])
def test_the_mistakes_grids_title_clears_its_captions(monkeypatch, tmp_path, count) -> None:
    """``evaluate --plot``'s grid of misclassified pictures: the figure's title sits above every
    tile's two-line caption (before: one row of 4 mistakes had the title printed over them)."""
    from convcli import plots

    boxes: dict[str, object] = {}
    save = plots._save

    def measure(fig, path):  # type: ignore[no-untyped-def]
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes["title"] = fig.get_suptitle() and fig._suptitle.get_window_extent(renderer)
        boxes["captions"] = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.get_title()]
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", measure)
    images = np.random.default_rng(0).integers(0, 256, (count, 28, 28)).astype(np.uint8)
    captions = [f"#{k} true 1\npred 0" for k in range(count)]
    path = plots.plot_digit_grid(images, captions, tmp_path / "mistakes.png", "cnn: 4 misclassified test images")
    assert path.stat().st_size > 0
    title, tiles = boxes["title"], boxes["captions"]
    assert len(tiles) == count  # type: ignore[arg-type]
    assert title.y0 >= max(box.y1 for box in tiles)  # type: ignore[union-attr]
