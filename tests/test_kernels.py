"""Every named kernel against scipy.ndimage.correlate, and the kernel file format."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
from scipy import ndimage

from convcli import Convolver, list_kernels, load_kernel, output_size, parse_kernel
from convcli.errors import ConvcliError
from convcli.filtering.kernels import named_kernel_files

pytestmark = pytest.mark.backend  # run under every Keras backend by `make test-backends`

REQUIRED = [
    "identity",
    "edges",
    "edges-h",
    "edges-v",
    "diag",
    "antidiag",
    "sharpen",
    "x-cross",
    "x-diag",
    "x-antidiag",
    "conv2-h",
    "conv2-diag",
    "conv2-antidiag",
    "box3",
    "box5",
    "gaussian3",
    "gaussian5",
    "sobel-x",
    "sobel-y",
    "prewitt-x",
    "prewitt-y",
    "emboss",
]
TWO_D = sorted(n for n in named_kernel_files() if load_kernel(n).weights.ndim == 2)


def reference(image: np.ndarray, kernel: np.ndarray, stride: int, padding: str) -> np.ndarray:
    """Keras Conv2D semantics built from scipy.ndimage.correlate (zero padding, no flip)."""
    kh, kw = kernel.shape
    h, w = image.shape
    if padding == "same":
        th, tw = -(-h // stride), -(-w // stride)
        ph = max((th - 1) * stride + kh - h, 0)
        pw = max((tw - 1) * stride + kw - w, 0)
        image = np.pad(image, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))
    full = ndimage.correlate(image.astype(np.float64), kernel.astype(np.float64), mode="constant", cval=0.0)
    vh, vw = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    valid = full[kh // 2 : kh // 2 + vh, kw // 2 : kw // 2 + vw]
    return valid[::stride, ::stride]


def test_all_required_kernels_exist() -> None:
    missing = set(REQUIRED) - set(named_kernel_files())
    assert not missing


def test_lecture_kernels_have_the_lectures_values() -> None:
    assert load_kernel("edges").weights.tolist() == [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]
    assert load_kernel("sharpen").weights.tolist() == [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]
    assert load_kernel("diag").weights.tolist() == [[-1, 0], [0, 1]]
    assert load_kernel("antidiag").weights.tolist() == [[0, -1], [1, 0]]
    assert load_kernel("edges-h").weights.tolist() == [[1, 1, 1], [0, 0, 0], [-1, -1, -1]]
    assert load_kernel("conv2-diag").weights.tolist() == [[-1, -1, 0], [-1, 0, 1], [0, 1, 1]]
    assert load_kernel("conv2-antidiag").weights.tolist() == [[1, 1, 0], [1, 0, -1], [0, -1, -1]]
    w0 = load_kernel("lecture-w0")
    assert w0.weights.shape == (3, 3, 3) and w0.bias == 1


def test_blurs_sum_to_one() -> None:
    for name in ("box3", "box5", "gaussian3", "gaussian5"):
        assert load_kernel(name).weights.sum() == pytest.approx(1.0, abs=1e-6), name


@pytest.mark.parametrize("name", TWO_D)
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_named_kernel_matches_scipy(name: str, padding: str, stride: int) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{name} {padding} {stride}".encode()))  # the same image every run
    image = rng.integers(0, 256, (23, 18)).astype(np.float32)
    kernel = load_kernel(name)
    out = Convolver([kernel], stride=stride, padding=padding).apply(image)[0]
    expected = reference(image, kernel.weights, stride, padding) + (kernel.bias or 0)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-3)


def test_colour_image_is_filtered_per_channel(rng: np.random.Generator) -> None:
    image = rng.integers(0, 256, (15, 12, 3)).astype(np.float32)
    k = load_kernel("sobel-x")
    out = Convolver([k], padding="same").apply(image)[0]
    assert out.shape == (15, 12, 3)
    for c in range(3):
        np.testing.assert_allclose(out[:, :, c], reference(image[:, :, c], k.weights, 1, "same"), atol=1e-3)


def test_volume_kernel_spans_channels(rng: np.random.Generator) -> None:
    image = rng.integers(0, 3, (9, 8, 3)).astype(np.float32)
    k = load_kernel("lecture-w0")
    out = Convolver([k]).apply(image)[0]
    expected = sum(reference(image[:, :, c], k.weights[:, :, c], 1, "valid") for c in range(3))
    np.testing.assert_allclose(out, expected + 1, atol=1e-4)


def test_list_kernels_parses_every_file() -> None:
    kernels = list_kernels()
    assert [k.name for k in kernels] == sorted(named_kernel_files())
    assert all(k.description for k in kernels)


def test_kernel_text_round_trip() -> None:
    for kernel in list_kernels():
        again = parse_kernel(kernel.to_text(), "roundtrip")
        np.testing.assert_allclose(again.weights, kernel.weights, rtol=1e-6)
        assert again.bias == kernel.bias
        assert again.name == kernel.name


def test_kernel_format_features() -> None:
    text = (
        "\ufeff# name: mine\r\n# description: test\r\n1, 2,\t3  # trailing comment\r\n"
        "4 5 6\r\n\r\n\r\n7 8 9\r\n1/2 -1e1 0\r\nbias: 0.5\r\n"
    )
    k = parse_kernel(text, "mine.txt")
    assert k.name == "mine" and k.description == "test" and k.bias == 0.5
    assert k.weights.shape == (2, 3, 2)
    assert k.weights[:, :, 1].tolist() == [[7, 8, 9], [0.5, -10, 0]]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "no numbers"),
        ("# only a comment\n", "no numbers"),
        ("1 2 3\n4 5\n", "line 2: row has 2 values, expected 3"),
        ("1 2\n3 x\n", "line 2: 'x' is not a number"),
        ("1 2\nnan 4\n", "line 2: 'nan' is not a finite number"),
        ("1 inf\n3 4\n", "line 1: 'inf' is not a finite number"),
        ("1 2\n3 1e400\n", "line 2"),
        ("1 2\n3 4\n\n5 6\n", "line 4: slice has 1 rows, expected 2"),
        ("1 2\n3 1/0\n", "division by zero"),
        ("1 2\nbias: 1\nbias: 2\n", "second bias"),
        ("1 1e39\n", "too large"),
    ],
)
def test_bad_kernel_text(text: str, fragment: str) -> None:
    with pytest.raises(ConvcliError) as info:
        parse_kernel(text, "k.txt")
    assert fragment in info.value.message
    assert info.value.message.startswith("k.txt")


def test_oversized_kernel_refused() -> None:
    text = "\n".join(" ".join(["1"] * 65) for _ in range(65))
    with pytest.raises(ConvcliError, match="over the 64×64 limit"):
        parse_kernel(text, "big.txt")


def test_unknown_kernel_suggests_closest() -> None:
    with pytest.raises(ConvcliError, match="did you mean 'sobel-x'"):
        load_kernel("sobelx")


def test_mixed_kernel_sizes_refused() -> None:
    with pytest.raises(ConvcliError, match="different sizes"):
        Convolver([load_kernel("edges"), load_kernel("diag")])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stride": 0}, "`stride` must be at least 1, got 0"),
        ({"padding": "full"}, "unknown padding 'full': use valid, same or a number P (zeros on each side)"),
        ({"activation": "tanh"}, "unknown activation 'tanh': use linear or relu"),
    ],
)
def test_layer_options_checked_by_parameter_name(options: dict, message: str) -> None:
    with pytest.raises(ConvcliError) as info:
        Convolver([load_kernel("edges")], **options)
    assert info.value.message == message


def test_output_size_checks_its_parameters() -> None:
    with pytest.raises(ConvcliError, match=r"^`stride` must be at least 1, got 0$"):
        output_size(5, 3, 0)
    with pytest.raises(ConvcliError, match=r"^unknown padding 'full'"):
        output_size(5, 3, 1, "full")
    with pytest.raises(ConvcliError, match="kernel of size 7 does not fit an input of 5 padded by 0"):
        output_size(5, 7, 1, "valid")


def test_cli_kernels_list_and_show(cli) -> None:
    result = cli("kernels")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "name\tsize\tdescription"
    assert any(line.startswith("sharpen\t3×3\t") for line in lines)
    shown = cli("kernels", "show", "sharpen")
    assert shown.exit_code == 0
    assert parse_kernel(shown.stdout).weights.tolist() == [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]


def test_cli_kernels_json_is_one_object_per_line(cli) -> None:
    """As its help says and as every other --json does (it used to print one JSON array)."""
    from convcli.filtering.kernels import list_kernels

    result = cli("kernels", "--json")
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["name"] for r in records] == [k.name for k in list_kernels()]
    sharpen = next(r for r in records if r["name"] == "sharpen")
    assert sharpen["size"] == [3, 3] and sharpen["bias"] is None
    assert "one object per line" in " ".join(cli("kernels", "--help").stdout.split())
