"""Real photographs in, faithful pictures out: EXIF orientation, alpha, 16-bit depth, one rounding
rule, and errors that name their file (issue 12). Every input is a crafted file written here."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convcli.filtering.pipeline import filter_images
from convcli.imaging.color import gray_pixels
from convcli.imaging.decoding import open_picture
from convcli.imaging.encoding import to_pixels
from convcli.imaging.images import read_picture
from convcli.jobs import channels_file, gray_file

# --------------------------------------------------------------------------- crafted files


def png16(array: np.ndarray) -> bytes:
    """A 16-bit PNG written by hand (filter 0, no Pillow): gray, gray+alpha, RGB or RGBA."""
    array = np.asarray(array, dtype=">u2")
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    raw = b"".join(b"\x00" + array[row].tobytes() for row in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def with_orientation(path: Path, stored: np.ndarray, tag: int, fmt: str = "PNG") -> Path:
    """Save ``stored`` pixels with EXIF orientation ``tag`` (what phones write)."""
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = tag
    image.save(path, format=fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))
    return path


UPRIGHT = {  # how a viewer shows pixels stored with each EXIF orientation (TIFF/EXIF 2.3, table 4)
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: np.swapaxes(a, 0, 1),
    6: lambda a: np.rot90(a, k=-1),
    7: lambda a: np.swapaxes(a[::-1, ::-1], 0, 1),
    8: lambda a: np.rot90(a, k=1),
}


def luma_half_up(rgb: np.ndarray, scale: int = 1) -> np.ndarray:
    """0.3R + 0.59G + 0.11B (÷ ``scale``) rounded half up, exactly in integers."""
    rgb = rgb.astype(np.int64)
    num = 30 * rgb[..., 0] + 59 * rgb[..., 1] + 11 * rgb[..., 2]
    return (2 * num + 100 * scale) // (200 * scale)


# --------------------------------------------------------------------------- orientation


@pytest.mark.parametrize("tag", range(1, 9))
def test_every_exif_orientation_is_applied_on_reading(tmp_path, rng, tag) -> None:
    stored = rng.integers(0, 256, (5, 8, 3)).astype(np.uint8)
    path = with_orientation(tmp_path / "o.png", stored, tag)
    expected = UPRIGHT[tag](stored)
    np.testing.assert_array_equal(read_picture(str(path)).colour, expected)
    np.testing.assert_array_equal(
        read_picture(str(path)).values(), expected.astype(np.float32)
    )  # predict, feature-maps


def test_phone_jpeg_tag_6_comes_out_upright_everywhere(cli, tmp_path) -> None:
    """Stored 300 wide × 451 tall, tag 6: every viewer shows it 451 wide × 300 tall."""
    upright = np.zeros((300, 451, 3), np.uint8)
    upright[:100, :, 0] = 255  # a red band along the top of the upright picture
    path = with_orientation(tmp_path / "phone.jpg", np.rot90(upright, k=1).copy(), 6, "JPEG")
    assert Image.open(path).size == (300, 451)
    assert cli("gray", path, "-o", tmp_path / "g.png").exit_code == 0
    assert cli("filter", path, "-k", "identity", "--padding", "same", "-o", tmp_path / "f.jpg").exit_code == 0
    (tmp_path / "planes").mkdir()
    assert cli("channels", path, "--out-dir", tmp_path / "planes").exit_code == 0
    for out in (tmp_path / "g.png", tmp_path / "f.jpg", tmp_path / "planes" / "phone-red.png"):
        image = Image.open(out)
        assert image.size == (451, 300), out
        assert image.getexif().get(0x0112) is None, out  # no stale tag
        top, bottom = np.asarray(image.convert("L"))[:90].mean(), np.asarray(image.convert("L"))[110:].mean()
        assert top > bottom + 50, out  # the red band is at the top
    assert open_picture(path.read_bytes(), "phone.jpg").values().shape == (300, 451, 3)  # explain's uploads


# --------------------------------------------------------------------------- alpha


def rgba_with_hidden(rng, hidden: tuple[int, int, int]) -> np.ndarray:
    """A picture with a fully transparent hole whose stored colour is ``hidden``."""
    rgba = rng.integers(0, 256, (21, 26, 4)).astype(np.uint8)
    rgba[..., 3] = np.clip(rgba[..., 3], 1, 255)  # visible, some half transparent
    rgba[6:14, 9:18, 3] = 0
    rgba[6:14, 9:18, :3] = hidden
    return rgba


@pytest.mark.parametrize(
    ("kernel", "options"),
    [
        ("gaussian3", ["--padding", "same"]),
        ("edges", ["--stride", "2"]),
        ("sobel-x", ["--padding", "same", "--border", "reflect", "--gray"]),
        ("diag", []),
    ],
)
def test_colour_hidden_under_transparency_changes_no_visible_pixel(cli, tmp_path, kernel, options) -> None:
    outs = []
    for name, hidden in (("red", (255, 0, 0)), ("green", (0, 255, 0))):
        source = tmp_path / f"{name}.png"
        Image.fromarray(rgba_with_hidden(np.random.default_rng(5), hidden)).save(source)
        out = tmp_path / f"{name}-out.png"
        result = cli("filter", source, "-k", kernel, *options, "-o", out)
        assert result.exit_code == 0, result.stderr
        outs.append(np.asarray(Image.open(out)))
    red, green = outs
    assert red.shape[-1] in (2, 4)  # alpha kept
    visible = red[..., -1] > 0
    assert visible.any() and (~visible).any()
    np.testing.assert_array_equal(red[visible], green[visible])


@pytest.mark.parametrize(("stride", "padding"), [(1, "valid"), (2, "valid"), (3, "same"), (2, "same")])
def test_output_alpha_is_the_input_alpha_on_the_output_grid(tmp_path, rng, stride, padding) -> None:
    rgba = rng.integers(0, 256, (17, 23, 4)).astype(np.uint8)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    filter_images([str(tmp_path / "a.png")], ["edges"], output=str(tmp_path / "o.png"), stride=stride, padding=padding)
    out = np.asarray(Image.open(tmp_path / "o.png"))
    # the kernel's centre: row t·S + 1 for valid; for same, Keras pads (ceil(N/S)−1)·S + 3 − N rows, half before
    offsets = []
    for n in (17, 23):
        pad = max((-(-n // stride) - 1) * stride + 3 - n, 0) // 2 if padding == "same" else 0
        offsets.append(1 - pad)
    t, u = out.shape[:2]
    rows = offsets[0] + stride * np.arange(t)
    cols = offsets[1] + stride * np.arange(u)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3][np.ix_(rows, cols)])


def test_alpha_filtering_is_premultiplied(tmp_path, rng) -> None:
    """Colour out = (kernel ⋆ colour·α) / α at the anchor, against scipy."""
    from scipy import ndimage

    rgba = rng.integers(0, 256, (12, 14, 4)).astype(np.uint8)
    rgba[..., 3] = rng.choice([0, 64, 128, 255], (12, 14))
    Image.fromarray(rgba).save(tmp_path / "a.png")
    filter_images([str(tmp_path / "a.png")], ["box3"], output=str(tmp_path / "o.npy"), padding="same")
    alpha = rgba[..., 3] / 255.0
    box = np.full((3, 3), 1 / 9)
    for c in range(3):
        premultiplied = ndimage.correlate(rgba[..., c] * alpha, box, mode="constant")
        expected = np.divide(premultiplied, alpha, out=np.zeros_like(alpha), where=alpha > 0)
        np.testing.assert_allclose(np.load(tmp_path / "o.npy")[..., c], expected, atol=1e-3)


def test_opaque_alpha_gives_the_rgb_result(tmp_path, rng) -> None:
    rgb = rng.integers(0, 256, (15, 16, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(np.dstack([rgb, np.full((15, 16), 255, np.uint8)])).save(tmp_path / "rgba.png")
    for name in ("rgb", "rgba"):
        filter_images([str(tmp_path / f"{name}.png")], ["sharpen"], output=str(tmp_path / f"{name}.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "rgb.npy"), np.load(tmp_path / "rgba.npy"))


def test_gray_keeps_alpha_and_converts_the_colour(cli, tmp_path, rng) -> None:
    rgba = rng.integers(0, 256, (9, 11, 4)).astype(np.uint8)
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    Image.fromarray(rgba[..., [0, 3]].copy(), "LA").save(tmp_path / "la.png")
    for name, colour in (("rgba", luma_half_up(rgba[..., :3])), ("la", rgba[..., 0])):
        assert cli("gray", tmp_path / f"{name}.png", "-o", tmp_path / f"{name}-g.png").exit_code == 0
        out = Image.open(tmp_path / f"{name}-g.png")
        assert out.mode == "LA", name
        np.testing.assert_array_equal(np.asarray(out)[..., 0], colour)
        np.testing.assert_array_equal(np.asarray(out)[..., 1], rgba[..., 3])
    # JPEG holds no alpha: the gray alone
    assert cli("gray", tmp_path / "rgba.png", "-o", tmp_path / "g.jpg").exit_code == 0
    assert Image.open(tmp_path / "g.jpg").mode == "L"


def test_palette_transparency_becomes_alpha(tmp_path) -> None:
    image = Image.new("P", (4, 3))
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putdata([1, 0, 1, 1] * 3)
    image.info["transparency"] = 0
    image.save(tmp_path / "p.png", transparency=0)
    picture = read_picture(str(tmp_path / "p.png"))
    assert picture.alpha is not None
    np.testing.assert_array_equal(picture.alpha, np.array([[255, 0, 255, 255]] * 3))


def test_channels_keeps_alpha(tmp_path, rng) -> None:
    rgba = rng.integers(0, 256, (6, 7, 4)).astype(np.uint8)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    (tmp_path / "out").mkdir()
    channels_file(str(tmp_path / "a.png"), str(tmp_path / "out"))
    red = np.asarray(Image.open(tmp_path / "out" / "a-red.png"))
    np.testing.assert_array_equal(red, rgba[..., [0, 3]])
    assert np.asarray(Image.open(tmp_path / "out" / "a-red-Reds.png")).shape == (6, 7, 4)


# --------------------------------------------------------------------------- 16 bits


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16_bit_png_is_read_at_full_depth(tmp_path, rng, channels) -> None:
    shape = (7, 9) if channels == 1 else (7, 9, channels)
    values = rng.integers(0, 65536, shape).astype(np.uint16)
    picture = open_picture(png16(values), "deep.png")
    assert picture.depth == 16
    colour = values if channels in (1, 3) else values[..., :-1].squeeze()
    np.testing.assert_array_equal(picture.colour, colour)
    if channels in (2, 4):
        np.testing.assert_array_equal(picture.alpha, values[..., -1])


def test_16_bit_tiff_is_read_at_full_depth(tmp_path, rng) -> None:
    import tifffile

    values = rng.integers(0, 65536, (6, 5, 3)).astype(np.uint16)
    for order in ("<", ">"):
        tifffile.imwrite(tmp_path / "deep.tif", values, photometric="rgb", byteorder=order)
        picture = read_picture(str(tmp_path / "deep.tif"))
        assert picture.depth == 16
        np.testing.assert_array_equal(picture.colour, values)


def test_gray_keeps_16_bits_unless_depth_8(cli, tmp_path, rng) -> None:
    rgb = rng.integers(0, 65536, (8, 10, 3)).astype(np.uint16)
    (tmp_path / "deep.png").write_bytes(png16(rgb))
    assert cli("gray", tmp_path / "deep.png", "-o", tmp_path / "g16.png").exit_code == 0
    assert cli("gray", tmp_path / "deep.png", "-o", tmp_path / "g8.png", "--depth", "8").exit_code == 0
    g16, g8 = Image.open(tmp_path / "g16.png"), Image.open(tmp_path / "g8.png")
    assert g16.mode == "I;16" and g8.mode == "L"
    np.testing.assert_array_equal(np.asarray(g16), luma_half_up(rgb))
    np.testing.assert_array_equal(np.asarray(g8), luma_half_up(rgb, scale=257))


def test_filter_keeps_16_bits_in_png_and_tiff_and_8_elsewhere(cli, tmp_path, rng) -> None:
    import tifffile

    rgb = rng.integers(0, 65536, (9, 12, 3)).astype(np.uint16)
    (tmp_path / "deep.png").write_bytes(png16(rgb))
    same = ["-k", "identity", "--padding", "same"]
    for out in ("id.png", "id.tif", "id8.png", "id.jpg", "id.npy"):
        extra = ["--depth", "8"] if out == "id8.png" else []
        result = cli("filter", tmp_path / "deep.png", *same, *extra, "-o", tmp_path / out)
        assert result.exit_code == 0, result.stderr
    np.testing.assert_array_equal(read_picture(str(tmp_path / "id.png")).colour, rgb)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "id.tif"), rgb)
    eight = (2 * rgb.astype(np.int64) + 257) // (2 * 257)  # v / 257 rounded half up
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "id8.png")), eight)
    assert Image.open(tmp_path / "id.jpg").mode == "RGB"
    np.testing.assert_array_equal(np.load(tmp_path / "id.npy"), rgb.astype(np.float32))  # raw: the input's scale
    result = cli("filter", tmp_path / "deep.png", *same, "--depth", "16", "-o", tmp_path / "x.jpg")
    assert result.exit_code == 2 and "x.jpg: JPEG holds 8 bits" in result.stderr
    (tmp_path / "o").mkdir()
    for command in (["filter", *same], ["gray"]):  # a folder: named as given, never a made-up file name
        result = cli(*command, tmp_path / "deep.png", "--depth", "16", "--format", "jpg", "-d", tmp_path / "o")
        assert result.exit_code == 2 and f"{tmp_path / 'o'} (format jpg): JPEG holds 8 bits" in result.stderr
        assert "x.jpg" not in result.stderr and not any((tmp_path / "o").iterdir())


def test_16_bit_clip_clamps_to_the_inputs_own_range(tmp_path, rng) -> None:
    gray = rng.integers(0, 65536, (10, 11)).astype(np.uint16)
    (tmp_path / "g.png").write_bytes(png16(gray))
    for out in ("s.png", "s.npy"):
        filter_images([str(tmp_path / "g.png")], ["sharpen"], output=str(tmp_path / out))
    raw = np.load(tmp_path / "s.npy")
    assert raw.max() > 65535 and raw.min() < 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "s.png")), np.clip(np.floor(raw + 0.5), 0, 65535))


def test_16_bit_alpha_png_round_trips_through_filter(tmp_path, rng) -> None:
    rgba = rng.integers(1, 65536, (7, 8, 4)).astype(np.uint16)
    rgba[..., 3] = 65535
    (tmp_path / "a.png").write_bytes(png16(rgba))
    filter_images([str(tmp_path / "a.png")], ["identity"], output=str(tmp_path / "o.png"), padding="same")
    back = read_picture(str(tmp_path / "o.png"))
    assert back.depth == 16
    np.testing.assert_array_equal(back.colour, rgba[..., :3])
    np.testing.assert_array_equal(back.alpha, rgba[..., 3])


# --------------------------------------------------------------------------- rounding


def test_gray_and_identity_filter_agree_on_every_pixel(cli, tmp_path) -> None:
    """One rule (half up): gray X == filter X -k identity --gray --padding same (the astronaut
    differed in 1,238 pixels when filter rounded half to even from float32 sums)."""
    from skimage import data

    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.png")
    assert cli("gray", tmp_path / "astronaut.png", "-o", tmp_path / "g.png").exit_code == 0
    args = ["-k", "identity", "--gray", "--padding", "same", "-o", tmp_path / "f.png"]
    assert cli("filter", tmp_path / "astronaut.png", *args).exit_code == 0
    gray = np.asarray(Image.open(tmp_path / "g.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "f.png")), gray)
    np.testing.assert_array_equal(gray, luma_half_up(data.astronaut()))


def test_gray_and_identity_filter_agree_at_16_bits(cli, tmp_path, rng) -> None:
    rgb = rng.integers(0, 65536, (40, 50, 3)).astype(np.uint16)
    rgb[0, :3] = [[207 * 257, 202 * 257, 202 * 257], [1, 0, 0], [65535, 65535, 65534]]  # exact halves
    (tmp_path / "deep.png").write_bytes(png16(rgb))
    for depth in ("16", "8"):
        assert cli("gray", tmp_path / "deep.png", "--depth", depth, "-o", tmp_path / "g.png").exit_code == 0
        args = ["-k", "identity", "--gray", "--padding", "same", "--depth", depth, "-o", tmp_path / "f.png"]
        assert cli("filter", tmp_path / "deep.png", *args).exit_code == 0
        np.testing.assert_array_equal(
            np.asarray(Image.open(tmp_path / "f.png")), np.asarray(Image.open(tmp_path / "g.png"))
        )


def test_pixels_round_half_up() -> None:
    values = np.array([0.5, 1.5, 2.5, 2.4999, 254.5, 255.5, -0.5, 300.0], np.float32)
    assert to_pixels(values).tolist() == [1, 2, 3, 2, 255, 255, 0, 255]
    assert to_pixels(values, "abs").tolist() == [1, 2, 3, 2, 255, 255, 1, 255]
    assert gray_pixels(np.array([[[1, 0, 2]]]), "average").tolist() == [[1]]  # exactly 1.0
    assert gray_pixels(np.array([[[1, 1, 2]]]), "average").tolist() == [[1]]  # 1.333…
    assert gray_pixels(np.array([[[207, 202, 202]]])).tolist() == [[204]]  # exactly 203.5


# --------------------------------------------------------------------------- smaller points


def test_channels_on_a_gray_picture_names_the_file(cli, tmp_path, rng) -> None:
    Image.fromarray(rng.integers(0, 256, (8, 8)).astype(np.uint8)).save(tmp_path / "camera.png")
    (tmp_path / "out").mkdir()
    result = cli("channels", tmp_path / "camera.png", "--out-dir", tmp_path / "out")
    assert result.exit_code == 2
    assert f"{tmp_path / 'camera.png'}: expected a colour (RGB) image" in result.stderr


def npy(shape: tuple[int, ...]):
    return lambda path: np.save(path, np.zeros(shape, np.float32))


@pytest.mark.parametrize(
    ("name", "make", "args"),
    [
        ("two.npy", npy((5, 5, 2)), ["filter", "-k", "edges", "--gray", "-o", "o.npy"]),
        ("two.npy", npy((5, 5, 2)), ["gray", "-o", "o.png"]),
        ("tiny.npy", npy((2, 2)), ["filter", "-k", "gaussian5", "-o", "o.png"]),
        ("broken.png", lambda path: path.write_bytes(b"\x89PNG\r\n\x1a\nbroken"), ["gray", "-o", "o.png"]),
    ],
)
def test_errors_name_their_file(cli, tmp_path, name, make, args) -> None:
    path = tmp_path / name
    make(path)
    command, rest = args[0], [str(tmp_path / a) if a.startswith("o.") else a for a in args[1:]]
    result = cli(command, path, *rest)
    assert result.exit_code == 2, result.stderr
    assert str(path) in result.stderr, result.stderr


def test_stdout_png_honours_png_level(cli, tmp_path, rng) -> None:
    rgb = (np.arange(64 * 64 * 3).reshape(64, 64, 3) % 7 * 30).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "x.png")
    sizes = {}
    for level in ("0", "9"):
        result = cli(
            "filter", tmp_path / "x.png", "-k", "identity", "--padding", "same", "--png-level", level, "-o", "-"
        )
        assert result.exit_code == 0, result.stderr
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(result.stdout_bytes))), rgb)
        sizes[level] = len(result.stdout_bytes)
    assert sizes["0"] > 64 * 64 * 3 > 10 * sizes["9"]  # level 0 stores, level 9 compresses


def test_stdout_png_keeps_range_alpha_and_depth(cli, tmp_path, rng) -> None:
    rgba = rng.integers(0, 65536, (6, 7, 4)).astype(np.uint16)
    (tmp_path / "a.png").write_bytes(png16(rgba))
    result = cli("filter", tmp_path / "a.png", "-k", "edges", "--range", "abs", "-o", "-")
    assert result.exit_code == 0, result.stderr
    back = open_picture(result.stdout_bytes, "stdout")
    filter_images([str(tmp_path / "a.png")], ["edges"], output=str(tmp_path / "e.npy"))
    raw = np.load(tmp_path / "e.npy")
    assert back.depth == 16 and back.alpha is not None
    np.testing.assert_array_equal(back.colour, np.clip(np.floor(np.abs(raw) + 0.5), 0, 65535))


def test_gray_of_an_8_bit_file_stays_in_pillow_with_alpha(tmp_path, rng) -> None:
    rgba = rng.integers(0, 256, (5, 6, 4)).astype(np.uint8)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    result = gray_file(str(tmp_path / "a.png"), str(tmp_path / "g.png"))
    assert result.image is not None and result.image.mode == "LA"  # the Pillow path


def test_cli_choices_are_the_librarys(cli) -> None:
    from convcli.cli import options
    from convcli.imaging.encoding import DEPTHS

    assert tuple(int(d) for d in options.DEPTHS) == DEPTHS  # the rest: test_cli_help's walk of the choices
    help_text = cli("filter", "--help").stdout
    assert "--border [zero|reflect|edge|wrap|symmetric]" in help_text and "--depth [8|16]" in help_text
    assert "the border is zeros, as Keras pads" in " ".join(help_text.split())


@pytest.mark.parametrize("command", [["gray"], ["filter", "-k", "box3", "--padding", "same"]])
def test_alpha_into_a_format_without_alpha_is_laid_on_white(cli, tmp_path, command) -> None:
    """A BMP or JPEG cannot keep alpha: the colour hidden under transparent pixels must not show."""
    from PIL import Image

    outputs = []
    for hidden in ((255, 0, 0), (0, 255, 0)):
        rgba = np.zeros((12, 16, 4), np.uint8)
        rgba[..., :3] = hidden  # stored under alpha 0
        rgba[3:9, 4:12] = (40, 80, 120, 255)  # an opaque block
        src = tmp_path / f"hidden-{hidden[0]}.png"
        Image.fromarray(rgba, "RGBA").save(src)
        out = tmp_path / f"{command[0]}-{hidden[0]}.bmp"
        result = cli(*command[:1], src, *command[1:], "-o", out)
        assert result.exit_code == 0, result.stderr
        outputs.append(np.asarray(Image.open(out)))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert (outputs[0][0, 0] == 255).all()  # transparent paper is white, not the hidden colour
