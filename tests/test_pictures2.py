"""Pictures, round 2 (issue 24): exact ties, chosen quality, bt601 gray, border names, every
frame of an animation, float TIFFs and one-line usage errors. Every input is made here."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
import tifffile
from PIL import Image

from convcli.filtering.pipeline import filter_images

EDGES = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float64)

# --------------------------------------------------------------------------- 1. exact ties


def exact_gray_edges(rgb: np.ndarray, mode: str = "constant", bias: int = 0, relu: bool = False) -> np.ndarray:
    """The exact ``edges`` result on the lecture's luma gray: integer numerators correlated in
    float64 (exact), divided by 100 once, so every tie is exactly k + 0.5."""
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    num = (30 * r + 59 * g + 11 * b).astype(np.float64)
    out = ndi.correlate(num, EDGES, mode=mode)[1:-1, 1:-1] / 100.0 + bias
    return np.maximum(out, 0) if relu else out


def half_up(values: np.ndarray, peak: int) -> np.ndarray:
    return np.clip(np.floor(values + 0.5), 0, peak)


@pytest.mark.parametrize(("band_rows", "bias", "activation"), [(None, 0, "linear"), (7, 3, "relu")])
def test_gray_ties_round_half_up_exactly(tmp_path, rng, band_rows, bias, activation) -> None:
    rgb = rng.integers(0, 256, (60, 70, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "in.png")
    exact = exact_gray_edges(rgb, bias=bias, relu=activation == "relu")
    ties = (exact * 2 == np.round(exact * 2)) & (exact != np.round(exact))
    assert ties.sum() > 10  # the test has ties to get wrong
    for name in ("out.png", "out.npy"):
        filter_images(
            [str(tmp_path / "in.png")],
            ["edges"],
            output=str(tmp_path / name),
            gray=True,
            band_rows=band_rows,
            bias=bias,
            activation=activation,
        )
    values = np.load(tmp_path / "out.npy").astype(np.float64)
    np.testing.assert_array_equal(values[ties], exact[ties])
    np.testing.assert_allclose(values, exact, atol=1e-3)
    pixels = np.asarray(Image.open(tmp_path / "out.png")).astype(np.float64)
    np.testing.assert_array_equal(pixels, half_up(exact, 255))


def test_gray_ties_at_16_bits(tmp_path, rng) -> None:
    rgb = rng.integers(0, 65536, (80, 90, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", rgb, photometric="rgb")  # Pillow writes no 16-bit RGB
    filter_images([str(tmp_path / "in.tif")], ["edges"], output=str(tmp_path / "out.png"), gray=True)
    exact = exact_gray_edges(rgb)
    pixels = np.asarray(Image.open(tmp_path / "out.png")).astype(np.float64)
    np.testing.assert_array_equal(pixels, half_up(exact, 65535))


# --------------------------------------------------------------------------- 2. quality


def photo(rng, height: int = 48, width: int = 64) -> np.ndarray:
    """A smooth colour picture with some noise (what lossy codecs are made for)."""
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 3, yy * 4, (xx + yy) * 2], axis=-1) % 256
    return np.clip(base + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)


def test_webp_is_lossless_by_default_and_at_quality_100(cli, tmp_path, rng) -> None:
    pixels = photo(rng)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    for args, name in (([], "default.webp"), (["--quality", "100"], "q100.webp")):
        result = cli("filter", tmp_path / "in.png", "-k", "identity", "--padding", "same", "-o", tmp_path / name, *args)
        assert result.exit_code == 0, result.output
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / name).convert("RGB")), pixels)
    result = cli(
        "filter",
        tmp_path / "in.png",
        "-k",
        "identity",
        "--padding",
        "same",
        "-o",
        tmp_path / "q50.webp",
        "--quality",
        "50",
    )
    assert result.exit_code == 0, result.output
    lossy = np.asarray(Image.open(tmp_path / "q50.webp").convert("RGB")).astype(int)
    assert np.abs(lossy - pixels).max() > 2


@pytest.mark.parametrize("quality", [None, 40, 95])
def test_jpeg_quality_is_pillows(cli, tmp_path, rng, quality) -> None:
    """Each quality gives Pillow's JPEG at that quality (95 when none is given), for filter
    and for gray (whose pixels are compared with its own lossless PNG)."""
    pixels = photo(rng)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    args = [] if quality is None else ["--quality", str(quality)]
    assert (
        cli(
            "filter", tmp_path / "in.png", "-k", "identity", "--padding", "same", "-o", tmp_path / "f.jpg", *args
        ).exit_code
        == 0
    )
    Image.fromarray(pixels).save(tmp_path / "ref.jpg", quality=quality or 95)
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "f.jpg")), np.asarray(Image.open(tmp_path / "ref.jpg"))
    )
    assert cli("gray", tmp_path / "in.png", "-o", tmp_path / "g.png").exit_code == 0
    assert cli("gray", tmp_path / "in.png", "-o", tmp_path / "g.jpg", *args).exit_code == 0
    Image.open(tmp_path / "g.png").save(tmp_path / "gref.jpg", quality=quality or 95)
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "g.jpg")), np.asarray(Image.open(tmp_path / "gref.jpg"))
    )


def test_gray_webp_lossless_and_bad_quality(cli, tmp_path, rng) -> None:
    Image.fromarray(photo(rng)).save(tmp_path / "in.png")
    assert cli("gray", tmp_path / "in.png", "-o", tmp_path / "g.png").exit_code == 0
    assert cli("gray", tmp_path / "in.png", "-o", tmp_path / "g.webp").exit_code == 0
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "g.webp").convert("L")), np.asarray(Image.open(tmp_path / "g.png"))
    )
    result = cli(
        "filter", tmp_path / "in.png", "-k", "identity", "--padding", "same", "-o", tmp_path / "x.jpg", "--quality", "0"
    )
    assert result.exit_code == 2


# --------------------------------------------------------------------------- 3. gray --method bt601


def every_colour() -> np.ndarray:
    c = np.arange(1 << 24, dtype=np.uint32)
    return np.stack([(c >> 16) & 255, (c >> 8) & 255, c & 255], axis=-1).astype(np.uint8).reshape(4096, 4096, 3)


def test_bt601_is_pillows_l_except_at_its_fixed_point_halves(tmp_path) -> None:
    """On all 2^24 colours, ``gray --method bt601`` equals Pillow's ``convert("L")`` except where
    the exact sum 299R + 587G + 114B is within 1 of a half (…500 in thousandths): 9,040 colours,
    each off by one; the lecture's luma differs on about 31%."""
    from convcli.jobs import gray_file

    rgb = every_colour()
    Image.fromarray(rgb).save(tmp_path / "all.png", compress_level=1)
    gray_file(str(tmp_path / "all.png"), str(tmp_path / "g601.png"), method="bt601")
    got = np.asarray(Image.open(tmp_path / "g601.png")).astype(np.int64)
    pillow = np.asarray(Image.fromarray(rgb).convert("L")).astype(np.int64)
    ints = rgb.astype(np.int64)
    thousandths = 299 * ints[..., 0] + 587 * ints[..., 1] + 114 * ints[..., 2]
    np.testing.assert_array_equal(got, (2 * thousandths + 1000) // 2000)  # exact, half up
    differ = got != pillow
    assert differ.sum() == 9040
    assert np.abs(thousandths[differ] % 1000 - 500).max() <= 1
    assert np.abs(got - pillow).max() == 1
    gray_file(str(tmp_path / "all.png"), str(tmp_path / "luma.png"))
    luma = np.asarray(Image.open(tmp_path / "luma.png")).astype(np.int64)
    assert 0.30 < (luma != pillow).mean() < 0.32


# --------------------------------------------------------------------------- 4. border names


@pytest.mark.parametrize(
    ("border", "numpy_mode", "scipy_mode"), [("reflect", "reflect", "mirror"), ("symmetric", "symmetric", "reflect")]
)
def test_reflect_and_symmetric_are_numpys_and_scipys(cli, tmp_path, rng, border, numpy_mode, scipy_mode) -> None:
    """``reflect`` is numpy 'reflect' = scipy 'mirror' (OpenCV BORDER_REFLECT_101); ``symmetric``
    is numpy 'symmetric' = scipy 'reflect' (OpenCV BORDER_REFLECT). Strides and even kernels:
    tests/test_bands.py, which covers every mode of BORDERS."""
    image = rng.integers(0, 256, (9, 12)).astype(np.float32)
    weights = rng.integers(-3, 4, (3, 3)).astype(np.float64)
    np.savetxt(tmp_path / "k.txt", weights, fmt="%d")
    np.save(tmp_path / "in.npy", image)
    result = cli(
        "filter",
        tmp_path / "in.npy",
        "-k",
        tmp_path / "k.txt",
        "--padding",
        "same",
        "--border",
        border,
        "-o",
        tmp_path / "out.npy",
    )
    assert result.exit_code == 0, result.output
    out = np.load(tmp_path / "out.npy")
    np.testing.assert_array_equal(out, ndi.correlate(image.astype(np.float64), weights, mode=scipy_mode))
    padded = np.pad(image, 1, mode=numpy_mode).astype(np.float64)
    np.testing.assert_array_equal(out, ndi.correlate(padded, weights, mode="constant")[1:-1, 1:-1])


def test_help_names_the_other_tools_borders_and_keras_grid(cli) -> None:
    text = " ".join(cli("filter", "--help").output.split())
    assert "numpy 'reflect', OpenCV BORDER_REFLECT_101, scipy 'mirror'" in text
    assert "numpy 'symmetric', OpenCV BORDER_REFLECT, scipy 'reflect'" in text
    assert "Keras's grid" in text


# --------------------------------------------------------------------------- 5. frames


def three_frame_gif(path, rng) -> list[np.ndarray]:
    frames = [np.full((6, 8, 3), value, np.uint8) for value in (10, 120, 230)]
    frames[1][2, 3] = (255, 0, 0)
    Image.fromarray(frames[0]).save(
        path, save_all=True, append_images=[Image.fromarray(f) for f in frames[1:]], duration=100, loop=0
    )
    return frames


def two_page_tiff(path, rng) -> list[np.ndarray]:
    pages = [rng.integers(0, 256, (5, 7, 3), dtype=np.uint8) for _ in range(2)]
    Image.fromarray(pages[0]).save(path, save_all=True, append_images=[Image.fromarray(pages[1])])
    return pages


@pytest.mark.parametrize(
    "command",
    [["gray", "-o", "OUT.png"], ["channels", "--out-dir", "."], ["filter", "-k", "identity", "-o", "OUT.png"]],
)
@pytest.mark.parametrize(("make", "count"), [(three_frame_gif, 3), (two_page_tiff, 2)])
def test_several_frames_are_refused_without_frame(cli, tmp_path, rng, monkeypatch, command, make, count) -> None:
    monkeypatch.chdir(tmp_path)
    name = "anim.gif" if make is three_frame_gif else "pages.tif"
    make(tmp_path / name, rng)
    result = cli(command[0], name, *command[1:])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: {name}: holds {count} frames (an animation or a multi-page file) and one picture is read: "
        f"choose it with --frame N (0 to {count - 1})"
    )
    assert not (tmp_path / "OUT.png").exists()


def test_frame_picks_the_frame(cli, tmp_path, rng) -> None:
    frames = three_frame_gif(tmp_path / "anim.gif", rng)
    pages = two_page_tiff(tmp_path / "pages.tif", rng)
    for index, frame in enumerate(frames):
        args = ["--padding", "same", "-o", tmp_path / f"f{index}.png", "--frame", str(index)]
        assert cli("filter", tmp_path / "anim.gif", "-k", "identity", *args).exit_code == 0
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / f"f{index}.png").convert("RGB")), frame)
    assert cli("gray", tmp_path / "pages.tif", "-o", tmp_path / "p1.npy", "--frame", "1").exit_code == 0
    r, g, b = (pages[1][..., i].astype(np.float64) for i in range(3))
    np.testing.assert_allclose(np.load(tmp_path / "p1.npy"), 0.3 * r + 0.59 * g + 0.11 * b, atol=1e-4)
    result = cli("gray", tmp_path / "pages.tif", "-o", tmp_path / "p.png", "--frame", "2")
    assert result.exit_code == 2 and "--frame must be 0 to 1, got 2" in result.stderr


# --------------------------------------------------------------------------- 6. float TIFF


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_tiffs_are_read_as_values(cli, tmp_path, rng, channels, dtype) -> None:
    """A float TIFF (tifffile; Pillow reads none in colour, nor float64) is read as its values,
    like a .npy: gray and filter keep them in .npy outputs."""
    shape = (6, 9) if channels == 1 else (6, 9, 3)
    values = rng.random(shape).astype(dtype) * 2 - 0.5
    tifffile.imwrite(tmp_path / "f.tif", values, photometric="minisblack" if channels == 1 else "rgb")
    result = cli("filter", tmp_path / "f.tif", "-k", "identity", "--padding", "same", "-o", tmp_path / "id.npy")
    assert result.exit_code == 0, result.stderr
    np.testing.assert_allclose(np.load(tmp_path / "id.npy"), values.astype(np.float32), atol=1e-6)
    if channels == 3:
        assert cli("gray", tmp_path / "f.tif", "-o", tmp_path / "g.npy").exit_code == 0
        r, g, b = (values[..., i].astype(np.float64) for i in range(3))
        np.testing.assert_allclose(np.load(tmp_path / "g.npy"), 0.3 * r + 0.59 * g + 0.11 * b, atol=1e-6)


def test_float_tiff_with_alpha_is_refused_clearly(cli, tmp_path, rng) -> None:
    tifffile.imwrite(tmp_path / "f.tif", rng.random((4, 5, 4)).astype(np.float32), photometric="rgb")
    result = cli("gray", tmp_path / "f.tif", "-o", tmp_path / "g.png")
    assert result.exit_code == 2
    assert "float TIFF of shape (4, 5, 4) is not supported" in result.stderr


# --------------------------------------------------------------------------- 7. usage errors


@pytest.mark.parametrize(
    ("args", "error", "hint"),
    [
        (
            ["filter", "x.png", "-k", "edges", "--bogus"],
            "Error: No such option '--bogus'. Did you mean '--bias'?",
            "filter",
        ),
        (["filter", "x.png"], "Error: Missing option '-k' / '--kernel'.", "filter"),
        (["kernels", "show"], "Error: Missing argument 'NAME'.", "kernels show"),
        (
            ["filter", "x.png", "-k", "edges", "-a", "tanh"],
            "Error: Invalid value for '--activation' / '-a': 'tanh' is not one of 'linear', 'relu'.",
            "filter",
        ),
        (
            ["filter", "x.png", "-k", "edges", "--verbose"],
            "Error: --verbose is a global option: put it before the command (convcli --verbose filter …)",
            "filter",
        ),
        (["grey"], "Error: No such command 'grey'. Did you mean 'gray'?", None),
        (["--bogus", "gray"], "Error: No such option '--bogus'. Did you mean '--verbose'?", None),
    ],
)
def test_usage_errors_are_one_error_line_and_a_hint(args, error, hint) -> None:
    """Click's usage errors used to print four lines (Usage, Try, blank, Error)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "convcli", *args], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and result.stdout == ""
    command = f"convcli {hint}" if hint else "convcli"
    assert result.stderr.splitlines() == [error, f"Try '{command} --help' for help."]


def test_filter_help_fits_80_columns() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "80"}
    text = subprocess.run(
        [sys.executable, "-m", "convcli", "filter", "--help"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert [line for line in text.splitlines() if len(line) > 80] == []


# --------------------------------------------------------------------------- 8. memory (channels)


def test_channels_in_bands_of_rows_equal_the_whole_planes(rng, tmp_path, monkeypatch) -> None:
    """``channels`` writes each plane in bands of rows (5 here, the last one shorter): the gray
    and colour-mapped pixels are the whole plane's, alpha kept; a flat plane maps as imshow does."""
    from convcli import jobs
    from convcli.imaging.color import colormap_plane

    monkeypatch.setattr(jobs, "CHANNEL_ROWS", 5)
    rgba = rng.integers(3, 200, (37, 23, 4)).astype(np.uint8)
    rgba[..., 2] = 7  # a flat blue plane
    Image.fromarray(rgba, "RGBA").save(tmp_path / "in.png")
    (tmp_path / "out").mkdir()
    jobs.channels_file(str(tmp_path / "in.png"), str(tmp_path / "out"))
    for i, (name, cmap) in enumerate((("red", "Reds"), ("green", "Greens"), ("blue", "Blues"))):
        gray = np.asarray(Image.open(tmp_path / "out" / f"in-{name}.png"))
        np.testing.assert_array_equal(gray, np.dstack([rgba[..., i], rgba[..., 3]]))
        mapped = np.asarray(Image.open(tmp_path / "out" / f"in-{name}-{cmap}.png"))
        expected = colormap_plane(rgba[..., i].astype(np.float32), cmap)
        np.testing.assert_array_equal(mapped, np.dstack([expected, rgba[..., 3]]))
