"""Borders (zero, reflect, edge, wrap) against numpy.pad + scipy and ImageMagick, bands of rows
equal to the whole-image result, and the streaming PNG writer against an independent decoder."""

from __future__ import annotations

import io
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, IMAGEMAGICK, requires_imagemagick
from PIL import Image
from scipy import ndimage

from convcli.filtering.convolution import BORDERS, Convolver
from convcli.filtering.kernels import Kernel, load_kernel
from convcli.filtering.pipeline import filter_images
from convcli.imaging.decoding import open_picture
from convcli.imaging.pngstream import encode_png

NUMPY_MODE = {"zero": "constant", "reflect": "reflect", "edge": "edge", "wrap": "wrap", "symmetric": "symmetric"}
SCIPY_MODE = {"zero": "constant", "reflect": "mirror", "edge": "nearest", "wrap": "wrap", "symmetric": "reflect"}
"""scipy.ndimage's names for the same borders (odd kernels, stride 1)."""
CONVERT = IMAGEMAGICK


def same_padding(n: int, k: int, stride: int) -> tuple[int, int]:
    """Keras's ``same``: ⌈n/S⌉ outputs; (T − 1)·S + K − n rows of padding, the odd one after."""
    total = max((-(-n // stride) - 1) * stride + k - n, 0)
    return total // 2, total - total // 2


def reference(image: np.ndarray, weights: np.ndarray, stride: int, padding: str, border: str) -> np.ndarray:
    """numpy.pad, then scipy.ndimage.correlate over the valid positions, every S-th."""
    kh, kw = weights.shape
    if padding == "same":
        pads = [same_padding(image.shape[0], kh, stride), same_padding(image.shape[1], kw, stride)]
        image = np.pad(image, pads, mode=NUMPY_MODE[border])  # type: ignore[call-overload]
    full = ndimage.correlate(image.astype(np.float64), weights.astype(np.float64), mode="constant")
    top, left = kh // 2, kw // 2  # scipy centres a kernel of size K at index K // 2
    valid = full[top : top + image.shape[0] - kh + 1, left : left + image.shape[1] - kw + 1]
    return valid[::stride, ::stride]


def kernel(weights: np.ndarray, name: str = "k") -> Kernel:
    return Kernel(name, np.asarray(weights, dtype=np.float32), None, "")


KERNELS = {
    "3×3": np.array([[1, 2, 0], [-1, 5, 3], [0, -2, 1]]),
    "2×2": np.array([[1, -2], [3, 1]]),
    "4×4": np.arange(16).reshape(4, 4) % 5 - 2,
    "5×3": np.arange(15).reshape(5, 3) % 4 - 1,
}


# --------------------------------------------------------------------------- borders


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_border_matches_numpy_pad_and_scipy(border, name, stride) -> None:
    image = np.random.default_rng(7).integers(0, 256, (13, 11)).astype(np.float32)
    weights = KERNELS[name]
    out = Convolver([kernel(weights)], stride=stride, padding="same", border=border).apply(image)[0]
    expected = reference(image, weights, stride, "same", border)
    assert out.shape == (-(-13 // stride), -(-11 // stride))
    np.testing.assert_allclose(out, expected, atol=1e-3)


@pytest.mark.parametrize("border", BORDERS)
def test_odd_kernels_match_scipys_own_border_modes(border) -> None:
    image = np.random.default_rng(8).integers(0, 256, (9, 12)).astype(np.float32)
    for name in ("gaussian5", "sobel-x", "emboss"):
        weights = load_kernel(name).weights
        out = Convolver([load_kernel(name)], padding="same", border=border).apply(image)[0]
        expected = ndimage.correlate(image.astype(np.float64), weights.astype(np.float64), mode=SCIPY_MODE[border])
        np.testing.assert_allclose(out, expected, atol=1e-3, err_msg=f"{name} {border}")


def test_zero_is_the_default_and_frames_a_blur() -> None:
    flat = np.full((10, 12), 200.0, np.float32)
    blur = load_kernel("gaussian5")
    default = Convolver([blur], padding="same").apply(flat)[0]
    np.testing.assert_array_equal(default, Convolver([blur], padding="same", border="zero").apply(flat)[0])
    assert default[0, 0] < 200 - 80  # zero padding darkens the corner
    for border in ("reflect", "edge", "wrap"):
        np.testing.assert_allclose(Convolver([blur], padding="same", border=border).apply(flat)[0], 200, atol=1e-3)


def test_border_is_checked_by_parameter_name() -> None:
    from convcli.errors import ConvcliError

    expected = r"^unknown border 'mirror': use zero or reflect or edge or wrap or symmetric$"
    with pytest.raises(ConvcliError, match=expected):
        Convolver([load_kernel("edges")], border="mirror")


def test_a_border_without_same_padding_is_refused(cli, tmp_path) -> None:
    """``--border reflect`` with the default valid padding used to be ignored with exit 0."""
    out = tmp_path / "o.npy"
    result = cli("filter", EXAMPLES / "lecture-5x5.txt", "-k", "sharpen", "--border", "reflect", "-o", out)
    assert result.exit_code == 2 and "border 'reflect'" in result.stderr and "padding 'same'" in result.stderr
    assert not out.exists()
    assert cli("filter", EXAMPLES / "lecture-5x5.txt", "-k", "sharpen", "--border", "zero", "-o", out).exit_code == 0


@requires_imagemagick
@pytest.mark.parametrize("name", ["sobel-x", "edges", "3×3", "2×2", "4×4", "5×3"])
def test_edge_border_equals_imagemagicks_default_virtual_pixels(cli, tmp_path, name) -> None:
    """``--border edge`` = ImageMagick's ``-morphology Correlate`` (virtual pixels: edge), on the
    interior and the border, even kernels included; ``-morphology Convolve`` turns the kernel
    180° first (a true convolution), so it equals convcli with the turned kernel."""
    weights = load_kernel(name).weights if name in ("sobel-x", "edges") else KERNELS[name]
    weights = np.asarray(weights, dtype=int)
    image = np.random.default_rng(9).integers(0, 256, (17, 21)).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "in.png")
    (tmp_path / "k.txt").write_text("\n".join(" ".join(map(str, row)) for row in weights) + "\n")
    (tmp_path / "turned.txt").write_text("\n".join(" ".join(map(str, row)) for row in weights[::-1, ::-1]) + "\n")
    spec = f"{weights.shape[1]}x{weights.shape[0]}: " + " ".join(",".join(map(str, row)) for row in weights)
    for method, kfile in (("Correlate", "k.txt"), ("Convolve", "turned.txt")):
        subprocess.run([CONVERT, tmp_path / "in.png", "-morphology", method, spec, tmp_path / "im.png"], check=True)
        out = tmp_path / f"ours-{method}.png"
        args = ["-k", tmp_path / kfile, "--padding", "same", "--border", "edge", "-o", out]
        assert cli("filter", tmp_path / "in.png", *args).exit_code == 0
        theirs = np.asarray(Image.open(tmp_path / "im.png").convert("L"))
        ours = np.asarray(Image.open(out))
        if method == "Convolve" and weights.shape[0] % 2 == 0:
            continue  # a turned even kernel's anchor moves to the other side of the centre
        np.testing.assert_array_equal(ours, theirs, err_msg=f"{name} {method}")


# --------------------------------------------------------------------------- bands


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("name", ["3×3", "2×2", "4×4"])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_bands_equal_the_whole_image_on_random_floats(padding, name, stride) -> None:
    rng = np.random.default_rng(stride)
    weights = rng.normal(size=KERNELS[name].shape)
    for shape in ((29, 23), (29, 23, 3)):
        image = rng.uniform(-100, 300, shape).astype(np.float32)
        for border in BORDERS if padding == "same" else ("zero",):  # valid padding has no border
            conv = Convolver([kernel(weights)], stride=stride, padding=padding, border=border)
            whole = conv.apply(image)[0]
            grid = conv.grid(image.shape)
            for rows in (1, 2, 5):
                bands = grid.bands(1, rows=rows)
                assert len(bands) > 1
                parts = np.concatenate([conv.apply_band(image, grid, a, b)[0] for a, b in bands])
                np.testing.assert_array_equal(parts, whole, err_msg=f"{border} {shape} rows={rows}")


def rgba_picture(path: Path, rng: np.random.Generator) -> Path:
    rgba = rng.integers(0, 256, (19, 25, 4)).astype(np.uint8)
    rgba[4:9, 6:15, 3] = 0
    Image.fromarray(rgba).save(path)
    return path


@pytest.mark.parametrize(("padding", "border"), [("valid", "zero"), *(("same", border) for border in BORDERS)])
@pytest.mark.parametrize(("name", "stride"), [("3×3", 1), ("2×2", 2), ("4×4", 3), ("3×3", 2)])
def test_filter_in_bands_writes_the_whole_image_result(tmp_path, border, padding, name, stride) -> None:
    """Every output kind (streamed PNG and .npy, gathered TIFF), alpha, both range mappings."""
    source = str(rgba_picture(tmp_path / "in.png", np.random.default_rng(3)))
    (tmp_path / "k.txt").write_text("\n".join(" ".join(map(str, row)) for row in KERNELS[name]) + "\n")
    options = {"stride": stride, "padding": padding, "border": border}
    for range_mode in ("clip", "rescale"):
        for suffix in (".png", ".npy", ".tif"):
            if suffix == ".npy" and range_mode == "rescale":
                continue
            outs = {}
            for band_rows in (None, 1, 2):
                out = tmp_path / f"o-{band_rows}{suffix}"
                args = {"range_mode": "raw" if suffix == ".npy" else range_mode, "band_rows": band_rows}
                filter_images([source], [str(tmp_path / "k.txt")], output=str(out), **options, **args)
                outs[band_rows] = np.load(out) if suffix == ".npy" else np.asarray(Image.open(out))
            np.testing.assert_array_equal(outs[1], outs[None], err_msg=f"{range_mode} {suffix}")
            np.testing.assert_array_equal(outs[2], outs[None], err_msg=f"{range_mode} {suffix}")


def test_bands_keep_gray_several_kernels_and_records(tmp_path, rng) -> None:
    source = str(rgba_picture(tmp_path / "in.png", rng))
    whole = filter_images([source], ["sobel-x", "sobel-y"], output=str(tmp_path / "w.npy"), gray=True)
    banded = filter_images([source], ["sobel-x", "sobel-y"], output=str(tmp_path / "b.npy"), gray=True, band_rows=3)
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), np.load(tmp_path / "w.npy"))
    assert np.load(tmp_path / "b.npy").shape == (17, 23, 2)
    (w,), (b,) = whole.records, banded.records
    assert (b.shape, b.min, b.max, b.kernels) == (w.shape, w.min, w.max, w.kernels)
    for name in ("sobel-x", "sobel-y"):
        filter_images([source], [name], out_dir=str(tmp_path), fmt="jpg", band_rows=4)
        assert Image.open(tmp_path / f"in-{name}.jpg").size == (23, 17)


def test_default_bands_bound_the_layers_input() -> None:
    from convcli.filtering.convolution import BAND_VALUES

    conv = Convolver([load_kernel("edges")], padding="same")
    grid = conv.grid((4000, 6000, 3))
    bands = grid.bands(len(grid.cols) * 3)
    assert len(bands) > 1 and bands[-1][1] == 4000
    rows = max(b - a for a, b in bands) + 2
    assert rows * 6002 * 3 <= BAND_VALUES + 6002 * 3 * 2


# --------------------------------------------------------------------------- the PNG writer


def decode_png(data: bytes) -> tuple[dict, np.ndarray]:
    """A minimal, independent PNG decoder (no interlace): IHDR fields and the unfiltered bytes."""
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    width, height, bits, colour, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
    channels = {0: 1, 4: 2, 2: 3, 6: 4}[colour]
    bpp = channels * bits // 8
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * bpp
    rows, previous = [], [0] * stride
    for r in range(height):
        kind, line = raw[r * (stride + 1)], list(raw[r * (stride + 1) + 1 : (r + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = previous[i], previous[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            paeth = a if pa <= pb and pa <= pc else b if pb <= pc else c
            line[i] = (line[i] + [0, a, b, (a + b) // 2, paeth][kind]) % 256
        rows.append(line)
        previous = line
    array = np.array(rows, dtype=np.uint8)
    if bits == 16:
        array = array.view(">u2").astype(np.uint16)
    return {"bits": bits, "channels": channels}, array.reshape(height, width, channels).squeeze(
        axis=2 if channels == 1 else ()
    )


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_writer_against_an_independent_decoder(rng, channels, dtype) -> None:
    shape = (13, 10) if channels == 1 else (13, 10, channels)
    smooth = np.cumsum(rng.integers(0, 9, shape), axis=1) * (
        3 if dtype == np.uint8 else 999
    )  # every filter wins somewhere
    pixels = (smooth % (np.iinfo(dtype).max + 1)).astype(dtype)
    data = encode_png(pixels, 6)
    header, decoded = decode_png(data)
    assert header == {"bits": 8 * np.dtype(dtype).itemsize, "channels": channels}
    np.testing.assert_array_equal(decoded, pixels)
    picture = open_picture(data, "w.png")  # and convcli's own reader, through Pillow
    colour = pixels if channels in (1, 3) else pixels[..., :-1].squeeze()
    np.testing.assert_array_equal(picture.colour, colour)
    if dtype == np.uint8:
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)


def test_png_writer_filters_as_libpng_would(rng) -> None:
    """Its files are no larger than Pillow's (libpng's heuristic) at the same zlib level."""
    from skimage import data

    photo = data.astronaut()
    ours = encode_png(photo, 6)
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="PNG", compress_level=6)
    assert len(ours) <= 1.02 * len(buffer.getvalue())


def test_bands_make_mirrored_folders_and_report_files_in_place(tmp_path, rng) -> None:
    nested = tmp_path / "in" / "sub"
    nested.mkdir(parents=True)
    source = rgba_picture(nested / "a.png", rng)
    seen = []

    def report(event) -> None:
        seen.append((event.output, Path(event.output).exists()))

    out = tmp_path / "out"
    out.mkdir()
    filter_images([str(source)], ["edges", "sobel-x"], out_dir=str(out), parents=True, band_rows=2, report=report)
    assert len(seen) == 2 and all(exists for _, exists in seen)
    assert {Path(p).name for p, _ in seen} == {"a-edges.png", "a-sobel-x.png"}
    assert all(Path(p).parent.name == "sub" for p, _ in seen)


def test_several_kernels_in_bands_to_tiff_wait_on_disk_and_equal_the_whole(tmp_path, rng, monkeypatch) -> None:
    """Outputs written at once (TIFF here) from a banded picture with several kernels wait in
    temporary files (one in memory at a time) and come out as the one-band run's; none is left."""
    import tempfile

    folders, real = [], tempfile.TemporaryFile
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda **kw: folders.append(kw["dir"]) or real(**kw))
    source = str(rgba_picture(tmp_path / "in.png", rng))
    kernels = ["edges", "sobel-x", "emboss"]
    for name, band_rows in (("whole", None), ("bands", 2)):
        (tmp_path / name).mkdir()
        filter_images([source], kernels, out_dir=str(tmp_path / name), fmt="tif", band_rows=band_rows)
    for kernel in kernels:
        banded = np.asarray(Image.open(tmp_path / "bands" / f"in-{kernel}.tif"))
        np.testing.assert_array_equal(banded, np.asarray(Image.open(tmp_path / "whole" / f"in-{kernel}.tif")))
    assert sorted(p.name for p in (tmp_path / "bands").iterdir()) == [f"in-{k}.tif" for k in sorted(kernels)]
    assert [str(f) for f in folders] == [str(tmp_path / "bands")] * 3  # the banded run's three outputs
