"""Gray conversions against their formulas and skimage; colour round trips; channel planes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import write_png
from PIL import Image

from convcli import read_image, to_gray, write_array
from convcli.imaging.color import channel_planes


def test_luma_and_average_formulas(rng) -> None:
    rgb = rng.integers(0, 256, (6, 7, 3)).astype(np.float32)
    r, g, b = rgb[..., 0].astype(np.float64), rgb[..., 1], rgb[..., 2]
    np.testing.assert_allclose(to_gray(rgb, "luma"), 0.3 * r + 0.59 * g + 0.11 * b, rtol=1e-6)
    np.testing.assert_allclose(to_gray(rgb, "average"), (r + g + b) / 3, rtol=1e-6)


def test_bt709_matches_skimage(rng) -> None:
    from skimage.color import rgb2gray

    rgb = rng.integers(0, 256, (8, 5, 3)).astype(np.uint8)
    np.testing.assert_allclose(to_gray(rgb.astype(np.float32), "bt709"), rgb2gray(rgb) * 255, rtol=1e-5, atol=1e-3)


def test_lecture_pixel_examples() -> None:
    pixel = np.array([[[200, 100, 50]]], dtype=np.float32)
    assert to_gray(pixel, "luma")[0, 0] == np.float32(0.3 * 200 + 0.59 * 100 + 0.11 * 50)
    assert to_gray(pixel, "average")[0, 0] == np.float32(350 / 3)


def test_gray_cli_writes_formula_values(cli, color_png, tmp_path) -> None:
    out = tmp_path / "g.png"
    result = cli("gray", color_png, "-o", out, "--method", "average")
    assert result.exit_code == 0, result.stderr
    rgb = np.asarray(Image.open(color_png), dtype=np.int64)
    expected = (2 * rgb.sum(axis=2) + 3) // 6  # (R+G+B)/3 rounded half up, exactly
    got = np.asarray(Image.open(out))
    assert got.shape == rgb.shape[:2] and got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)


def test_gray_default_is_luma(cli, color_png, tmp_path) -> None:
    out = tmp_path / "g.png"
    assert cli("gray", color_png, "-o", out).exit_code == 0
    rgb = np.asarray(Image.open(color_png), dtype=np.int64)
    # 0.3R + 0.59G + 0.11B rounded half up, in exact integer arithmetic
    expected = (2 * (30 * rgb[..., 0] + 59 * rgb[..., 1] + 11 * rgb[..., 2]) + 100) // 200
    np.testing.assert_array_equal(np.asarray(Image.open(out)), expected)


def test_gray_to_stdout_is_png(cli, color_png) -> None:
    result = cli("gray", color_png, "-o", "-")
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\x89PNG")


def test_colour_round_trip_keeps_shape_and_dtype(tmp_path, rng) -> None:
    rgb = rng.integers(0, 256, (13, 9, 3)).astype(np.float32)
    path = tmp_path / "rt.png"
    write_array(path, rgb)
    back = read_image(path)
    assert back.shape == rgb.shape and back.dtype == np.float32
    np.testing.assert_array_equal(back, rgb)
    npy = tmp_path / "rt.npy"
    write_array(npy, rgb)
    assert np.load(npy).dtype == np.float32 and np.load(npy).shape == rgb.shape


def test_colour_filter_output_stays_colour(cli, color_png, tmp_path) -> None:
    out = tmp_path / "id.png"
    result = cli("filter", color_png, "-k", "identity", "--padding", "same", "-o", out)
    assert result.exit_code == 0, result.stderr
    np.testing.assert_array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(color_png)))


def test_channels_writes_planes(cli, color_png, tmp_path) -> None:
    out = tmp_path / "planes"
    out.mkdir()
    result = cli("channels", color_png, "--out-dir", out)
    assert result.exit_code == 0, result.stderr
    rgb = np.asarray(Image.open(color_png))
    for i, name in enumerate(("red", "green", "blue")):
        np.testing.assert_array_equal(np.asarray(Image.open(out / f"color-{name}.png")), rgb[..., i])
    reds = np.asarray(Image.open(out / "color-red-Reds.png"))
    assert reds.shape == (*rgb.shape[:2], 3)
    # The Reds map: the brightest red pixel is drawn darkest, and red dominates the colour.
    hi = np.unravel_index(np.argmax(rgb[..., 0]), rgb.shape[:2])
    lo = np.unravel_index(np.argmin(rgb[..., 0]), rgb.shape[:2])
    assert reds[hi].sum() < reds[lo].sum()
    assert reds[hi][0] >= reds[hi][1]


def test_channel_planes_requires_colour() -> None:
    import pytest

    from convcli.errors import ConvcliError

    with pytest.raises(ConvcliError, match="3 channels"):
        channel_planes(np.zeros((4, 4), np.float32))


def test_image_modes_are_normalised(tmp_path) -> None:
    base = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    Image.fromarray(base).convert("P").save(tmp_path / "p.png")
    Image.fromarray(np.dstack([base] * 3 + [base])).save(tmp_path / "rgba.png")
    Image.fromarray(base.astype(np.uint16) * 257).save(tmp_path / "16.png")
    Image.fromarray(np.dstack([base] * 3)).convert("CMYK").save(tmp_path / "cmyk.jpg")
    assert read_image(tmp_path / "p.png").shape == (8, 8)
    assert read_image(tmp_path / "rgba.png").shape == (8, 8, 3)
    np.testing.assert_allclose(read_image(tmp_path / "16.png"), base, atol=1e-3)
    assert read_image(tmp_path / "cmyk.jpg").shape == (8, 8, 3)
    write_png(tmp_path / "one.png", np.array([[7]]))
    assert read_image(tmp_path / "one.png").tolist() == [[7.0]]


def test_gray_raw_output_keeps_float_values(cli, color_png, tmp_path) -> None:
    out = tmp_path / "g.npy"
    assert cli("gray", color_png, "-o", out, "--method", "bt709").exit_code == 0
    rgb = np.asarray(Image.open(color_png), dtype=np.float64)
    expected = 0.2125 * rgb[..., 0] + 0.7154 * rgb[..., 1] + 0.0721 * rgb[..., 2]
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-6)


@pytest.mark.parametrize("method", ["luma", "average", "bt709", "bt601"])
def test_pillow_gray_equals_numpy_gray_on_a_sample_of_colours(method, rng) -> None:
    """The quick form of the check below: 65,536 random colours and the 8 corners of the cube."""
    from convcli.imaging.color import gray_image, gray_pixels

    rgb = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    rgb[0, :8] = [[r, g, b] for r in (0, 255) for g in (0, 255) for b in (0, 255)]
    np.testing.assert_array_equal(np.asarray(gray_image(Image.fromarray(rgb), method)), gray_pixels(rgb, method))


def test_pillow_gray_in_strips_equals_the_whole(rng, monkeypatch) -> None:
    """A large picture is converted in strips of rows (bounded memory): 7 rows a strip here, the
    last one shorter, give the whole picture's pixels."""
    from convcli.imaging import color

    rgb = rng.integers(0, 256, (45, 33, 3), dtype=np.uint8)
    whole = np.asarray(color.gray_image(Image.fromarray(rgb)))
    monkeypatch.setattr(color, "GRAY_STRIP_PIXELS", 7 * 33 + 5)
    strips = np.asarray(color.gray_image(Image.fromarray(rgb)))
    np.testing.assert_array_equal(strips, whole)
    np.testing.assert_array_equal(strips, color.gray_pixels(rgb))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["luma", "average", "bt709", "bt601"])
def test_pillow_gray_equals_numpy_gray_on_every_colour(method) -> None:
    """`convcli gray`'s Pillow-only path gives gray_pixels' values for all 2^24 RGB colours."""
    from convcli.imaging.color import gray_image, gray_pixels

    c = np.arange(1 << 24, dtype=np.uint32)
    rgb = np.stack([(c >> 16) & 255, (c >> 8) & 255, c & 255], axis=-1).astype(np.uint8).reshape(4096, 4096, 3)
    got = np.asarray(gray_image(Image.fromarray(rgb), method))
    np.testing.assert_array_equal(got, gray_pixels(rgb, method))
    alpha = np.dstack([rgb[:64, :64], np.full((64, 64), 9, np.uint8)])  # alpha is dropped
    np.testing.assert_array_equal(np.asarray(gray_image(Image.fromarray(alpha), method)), got[:64, :64])


def test_gray_file_paths_agree(tmp_path, rng) -> None:
    """Image outputs (Pillow path), stdin-style sources and other modes (numpy path) agree."""
    from convcli.imaging.color import gray_pixels
    from convcli.jobs import gray_file

    rgb = rng.integers(0, 256, (31, 17, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")  # palette: the numpy path
    Image.fromarray(rgb[..., 1]).save(tmp_path / "l.png")  # gray input stays as it is
    result = gray_file(str(tmp_path / "c.png"), str(tmp_path / "g.png"))
    np.testing.assert_array_equal(result.pixels, gray_pixels(rgb))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "g.png")), gray_pixels(rgb))
    palette = np.asarray(Image.open(tmp_path / "p.png").convert("RGB"))
    np.testing.assert_array_equal(gray_file(str(tmp_path / "p.png"), "-").pixels, gray_pixels(palette))
    np.testing.assert_array_equal(gray_file(str(tmp_path / "l.png"), "-").pixels, rgb[..., 1])
    np.save(tmp_path / "c.npy", rgb.astype(np.float32))
    np.testing.assert_array_equal(gray_file(str(tmp_path / "c.npy"), "-").pixels, gray_pixels(rgb))


def test_gray_on_an_image_file_does_not_import_numpy(color_png, tmp_path) -> None:
    """Start-up is the cost of one-image commands: gray stays in Pillow (issue 5's target)."""
    code = (
        "import sys\n"
        "from convcli.cli import app\n"
        f"try:\n    app(['gray', {str(color_png)!r}, '-o', {str(tmp_path / 'g.png')!r}])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'numpy' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "g.png").stat().st_size > 0
