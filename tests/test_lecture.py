"""The lecture's worked examples, to the exact printed numbers, through the library and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import EXAMPLES

from convcli import convolve, load_kernel, output_size, read_matrix
from convcli.imaging.textformat import parse_matrix_text

pytestmark = pytest.mark.backend  # run under every Keras backend by `make test-backends`

SHARPEN_VALID = [[266, -61, -30], [116, -47, 295], [-135, 256, -128]]
SHARPEN_SAME = [
    [114, 328, -26, 470, 158],
    [53, 266, -61, -30, 344],
    [403, 116, -47, 295, 244],
    [108, -135, 256, -128, 344],
    [314, 346, 279, 153, 421],
]
X_RELU = {
    "x-cross": [[2, 0, 2, 0, 2], [0, 3, 0, 3, 0], [2, 0, 5, 0, 2], [0, 3, 0, 3, 0], [2, 0, 2, 0, 2]],
    "x-diag": [[2, 0, 0, 0, 0], [0, 3, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 3, 0], [0, 0, 0, 0, 2]],
    "x-antidiag": [[0, 0, 0, 0, 2], [0, 0, 0, 3, 0], [0, 0, 1, 0, 0], [0, 3, 0, 0, 0], [2, 0, 0, 0, 0]],
}
# The feature maps before ReLU, as the lecture prints them (interior of its 7×7 grids).
X_LINEAR_CROSS = [[2, -2, 2, -2, 2], [-2, 3, -3, 3, -2], [2, -3, 5, -3, 2], [-2, 3, -3, 3, -2], [2, -2, 2, -2, 2]]
RGB_O0 = [[2, 3, 3], [3, 7, 3], [8, 10, -3]]
RGB_O1 = [[-8, -8, -3], [-3, 1, 0], [-3, -8, -5]]


def test_sharpen_valid_library() -> None:
    out = convolve(read_matrix(EXAMPLES / "lecture-5x5.txt"), load_kernel("sharpen"))[0]
    np.testing.assert_array_equal(out, SHARPEN_VALID)


def test_sharpen_same_library() -> None:
    x = read_matrix(EXAMPLES / "lecture-5x5.txt")
    out = convolve(x, load_kernel("sharpen"), padding="same")[0]
    np.testing.assert_array_equal(out, SHARPEN_SAME)


def test_first_value_is_the_lectures_sum() -> None:
    # 60*0 + 113*(-1) + 56*0 + 73*(-1) + 121*5 + 54*(-1) + 131*0 + 99*(-1) + 70*0 = 266
    x = read_matrix(EXAMPLES / "lecture-5x5.txt")
    k = load_kernel("sharpen").weights
    assert float((x[:3, :3] * k).sum()) == 266


def test_sharpen_cli_prints_the_matrix(cli) -> None:
    result = cli("filter", EXAMPLES / "lecture-5x5.txt", "-k", "sharpen")
    assert result.exit_code == 0, result.stderr
    assert parse_matrix_text(result.stdout).array.tolist() == SHARPEN_VALID
    assert result.stdout.splitlines()[0].split() == ["266", "-61", "-30"]


def test_sharpen_same_cli(cli) -> None:
    result = cli("filter", EXAMPLES / "lecture-5x5.txt", "-k", "sharpen", "--padding", "same")
    assert result.exit_code == 0, result.stderr
    assert parse_matrix_text(result.stdout).array.tolist() == SHARPEN_SAME


def test_x_detectors_relu_library() -> None:
    x = read_matrix(EXAMPLES / "x.txt")
    names = list(X_RELU)
    outs = convolve(x, [load_kernel(n) for n in names], padding="same", activation="relu")
    for name, out in zip(names, outs):
        np.testing.assert_array_equal(out, X_RELU[name], err_msg=name)


def test_x_detector_before_relu() -> None:
    x = read_matrix(EXAMPLES / "x.txt")
    out = convolve(x, load_kernel("x-cross"), padding="same")[0]
    np.testing.assert_array_equal(out, X_LINEAR_CROSS)


def test_x_detectors_relu_cli_json(cli) -> None:
    result = cli(
        "filter",
        EXAMPLES / "x.txt",
        "-k",
        "x-cross",
        "-k",
        "x-diag",
        "-k",
        "x-antidiag",
        "--padding",
        "same",
        "--activation",
        "relu",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    volume = np.array(record["values"])  # (5, 5, 3): one map per filter, as Keras outputs
    assert record["shape"] == [5, 5, 3]
    for i, name in enumerate(X_RELU):
        np.testing.assert_array_equal(volume[:, :, i], X_RELU[name])


def test_three_channel_stride2_two_filters_library() -> None:
    x = read_matrix(EXAMPLES / "rgb-5x5x3.txt")
    assert x.shape == (5, 5, 3)
    o0, o1 = convolve(x, [load_kernel("lecture-w0"), load_kernel("lecture-w1")], stride=2, padding="same")
    np.testing.assert_array_equal(o0, RGB_O0)
    np.testing.assert_array_equal(o1, RGB_O1)


def test_three_channel_example_cli(cli, tmp_path) -> None:
    out = tmp_path / "o.txt"
    result = cli(
        "filter",
        EXAMPLES / "rgb-5x5x3.txt",
        "-k",
        "lecture-w0",
        "-k",
        "lecture-w1",
        "--stride",
        "2",
        "--padding",
        "same",
        "-o",
        out,
    )
    assert result.exit_code == 0, result.stderr
    volume = read_matrix(out)
    assert volume.shape == (3, 3, 2)
    np.testing.assert_array_equal(volume[:, :, 0], RGB_O0)
    np.testing.assert_array_equal(volume[:, :, 1], RGB_O1)


def test_bias_option_overrides_file_bias(cli) -> None:
    # W0 with bias 0 instead of its file's bias 1: every value one lower.
    result = cli(
        "filter", EXAMPLES / "rgb-5x5x3.txt", "-k", "lecture-w0", "--stride", "2", "--padding", "same", "--bias", "0"
    )
    assert result.exit_code == 0, result.stderr
    np.testing.assert_array_equal(parse_matrix_text(result.stdout).array, np.array(RGB_O0) - 1)


@pytest.mark.parametrize(
    ("n", "k", "s", "p", "expected"),
    [(5, 3, 2, 1, 3), (28, 3, 1, 0, 26), (5, 3, 1, 0, 3), (5, 3, 1, 1, 5), (13, 3, 1, 0, 11), (11, 2, 2, 0, 5)],
)
def test_output_size_formula(n: int, k: int, s: int, p: int, expected: int) -> None:
    """T = (N + 2P − K)/S + 1, including the lecture's (5 + 2·1 − 3)/2 + 1 = 3."""
    assert output_size(n, k, s, p) == expected


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize(
    ("size", "kernel"), [((9, 9), "edges"), ((10, 7), "edges"), ((10, 7), "box5"), ((7, 6), "diag")]
)
def test_keras_output_shape_matches_formula(padding: str, stride: int, size: tuple[int, int], kernel: str) -> None:
    """Keras's output shapes are the formula's, P = 0 for ``valid`` and ⌈N / S⌉ for ``same``."""
    k = load_kernel(kernel)
    out = convolve(np.ones(size, dtype=np.float32), k, stride=stride, padding=padding)[0]
    kh, kw = k.weights.shape
    assert out.shape == (output_size(size[0], kh, stride, padding), output_size(size[1], kw, stride, padding))
    if padding == "valid":  # the lecture's P = 0
        assert out.shape == (output_size(size[0], kh, stride, 0), output_size(size[1], kw, stride, 0))
    else:
        assert out.shape == (-(-size[0] // stride), -(-size[1] // stride))
