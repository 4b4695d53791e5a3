"""The lecture's own code and notation: its Keras calls as layer specs, model.add(...) lines
pasted into --layers-from, its padding P as a number and rectangular strides (issue 23)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import EXAMPLES, MNIST, requires_mnist

from convcli.errors import ConvcliError
from convcli.imaging.textformat import parse_matrix_text
from convcli.models.build import build_model
from convcli.models.kerascode import spec_from_code
from convcli.models.layerspec import parse_spec
from convcli.models.speccheck import spec_shapes

# The slides' code, as printed (seed lines 1049-1054, 1160-1165, 1200-1207, 1225-1234).
SLIDE_CONV64 = """\
model = Sequential()
model.add(Conv2D(64, kernel_size=3, activation="relu",
                 input_shape=input_shape))
model.add(Flatten())
model.add(Dense(10, activation='softmax'))
model.summary()
"""
SLIDE_TANH = """\
model = Sequential()
model.add(Conv2D(64, kernel_size=3, activation="relu", input_shape=input_shape))
model.add(Flatten())
model.add(Dense(15, activation='tanh'))
model.add(Dense(10, activation='softmax'))
model.summary()
"""
SLIDE_POOL = SLIDE_TANH.replace(
    "model.add(Flatten())", "model.add(MaxPooling2D(pool_size=(2,2)))\nmodel.add(Flatten())"
)
SLIDE_FINAL = """\
model = Sequential()
model.add(Input(shape=(28, 28, 1)))
model.add(Conv2D(32, kernel_size=3, strides=(1,1), activation='relu'))
model.add(MaxPooling2D(pool_size=(2,2), name='max_pool_1'))
model.add(Conv2D(16, kernel_size=3, strides=(1,1), activation='relu'))
model.add(MaxPooling2D(pool_size=(2,2), name='max_pool_2'))
model.add(Flatten())
model.add(Dense(10, activation='softmax'))
model.summary()
"""


@pytest.mark.parametrize(
    ("code", "total", "params"),
    [
        (SLIDE_CONV64, 433_290, [640, 0, 432_650]),
        (SLIDE_TANH, 649_775, [640, 0, 648_975, 160]),
        (SLIDE_POOL, 163_055, [640, 0, 0, 162_255, 160]),
        (SLIDE_FINAL, 8_954, [320, 0, 4_624, 0, 0, 4_010]),
    ],
)
def test_slide_code_from_a_file_gives_the_slides_parameters(cli, tmp_path, code, total, params) -> None:
    """The code as pasted from the slides: before, --layers refused it ("no argument
    'kernel_size'", "nested parentheses") and there was no --layers-from."""
    path = tmp_path / "slide.py"
    path.write_text(code)
    result = cli("summary", "--layers-from", path, "--image-size", "28", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["total_params"] == total
    assert [layer["params"] for layer in data["layers"]] == params
    if code is SLIDE_FINAL:
        assert [layer["name"] for layer in data["layers"]][1::2][:2] == ["max_pool_1", "max_pool_2"]


@pytest.mark.parametrize(
    "spec",
    [
        'Conv2D(64, kernel_size=3, activation="relu", input_shape=input_shape), Flatten(), '
        "Dense(10, activation='softmax')",
        "Conv2D(64, 3, activation='relu'), Flatten, Dense(10)",
        "keras.layers.Conv2D(filters=64, kernel_size=(3, 3), strides=(1,1), padding='valid'), layers.Flatten(), "
        "layers.Dense(units=10)",
    ],
)
def test_keras_call_syntax_in_layers(cli, spec) -> None:
    result = cli("summary", "--layers", spec, "--image-size", "28", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["total_params"] == 433_290


def test_the_compact_syntax_still_works_and_agrees() -> None:
    keras_spec = "Conv2D(32, kernel_size=3, strides=(1,1)), MaxPooling2D(pool_size=(2,2)), Flatten(), Dense(10)"
    assert build_model(keras_spec).count_params() == build_model("conv(32,3),pool(2),flatten,dense(10)").count_params()


def test_an_unknown_name_takes_the_input_or_says_what_it_assumed(cli, tmp_path) -> None:
    path = tmp_path / "slide.py"
    path.write_text(SLIDE_CONV64)
    wide = cli("summary", "--layers-from", path, "--image-size", "64", "--color", "rgb", "--json")
    assert wide.exit_code == 0, wide.stderr
    assert json.loads(wide.stdout)["layers"][0]["params"] == 64 * 3 * 3 * 3 + 64  # 3 channels in
    plain = cli("summary", "--layers-from", path)
    assert plain.exit_code == 0, plain.stderr
    assert "input_shape=input_shape" in plain.stderr and "28x28x1" in plain.stderr and "--image-size" in plain.stderr


def test_a_file_assignment_resolves_the_name() -> None:
    spec = spec_from_code("input_shape = (32, 32, 3)\n" + SLIDE_CONV64)
    assert build_model(spec, input_shape=(32, 32, 3)).layers[0].output.shape[1:] == (30, 30, 64)


def test_a_declared_shape_that_disagrees_is_refused(cli) -> None:
    result = cli(
        "summary", "--layers", "Input(shape=(28, 28, 1)), Flatten(), Dense(10)", "--image-size", "32", "--color", "rgb"
    )
    assert result.exit_code == 2
    assert "(28, 28, 1)" in result.stderr and "--image-size (--color) is 32x32x3" in result.stderr


def test_code_that_must_run_is_refused_with_its_line(tmp_path) -> None:
    code = "model = Sequential()\nmodel.add(Flatten())\nmodel.add(Dense(10, activation=pick('softmax')))\n"
    with pytest.raises(ConvcliError) as info:
        spec_from_code(code, "net.py")
    assert info.value.message.startswith("net.py, line 3: ") and "pick('softmax')" in info.value.message
    with pytest.raises(ConvcliError, match="no layers found"):
        spec_from_code("print('hello')\n", "net.py")
    with pytest.raises(ConvcliError, match=r"net.py, line 2: unknown activation 'relux'"):
        spec_from_code("model = Sequential()\nmodel.add(Dense(10, activation='relux'))\n", "net.py")


def test_a_sequential_list_is_read_too() -> None:
    spec = spec_from_code(
        "import keras\nmodel = keras.Sequential([\n    keras.Input(shape=(28, 28, 1)),\n"
        "    keras.layers.Conv2D(32, kernel_size=3),\n    keras.layers.Flatten(),\n    keras.layers.Dense(10),\n])\n"
    )
    assert [s.kind for s in parse_spec(spec)] == ["conv", "flatten", "dense"]


@pytest.mark.parametrize(
    "spec",
    [
        "conv(8,3,strides=2x1,padding=1),pool(2),flatten,dense(10)",
        "Conv2D(8, kernel_size=(3,5), strides=(2,1), padding=1), MaxPooling2D(pool_size=(2,1)), Flatten(), Dense(10)",
        "conv(4,3,padding=2),conv(4,5,strides=(1,3),padding=same),flatten,dense(10)",
    ],
)
def test_numeric_padding_and_rectangular_strides_build_as_the_spec_says(spec) -> None:
    model = build_model(spec)
    built = [tuple(layer.output.shape[1:]) for layer in model.layers if type(layer).__name__ != "ZeroPadding2D"]
    assert spec_shapes(parse_spec(spec)) == built


def test_summary_writes_the_lectures_formula_with_its_p(cli) -> None:
    """(5 + 2·1 − 3)/2 + 1 = 3, for both padding=1 and padding=same, instead of ⌈5/2⌉ = 3."""
    for padding in ("1", "same"):
        spec = f"Conv2D(2, kernel_size=3, strides=(2,2), padding={padding}), Flatten(), Dense(10)"
        result = cli("summary", "--layers", spec, "--image-size", "5", "--color", "rgb", "--json")
        assert result.exit_code == 0, result.stderr
        conv = next(layer for layer in json.loads(result.stdout)["layers"] if layer["type"] == "Conv2D")
        assert conv["shape_formula"] == "(5 + 2·1 − 3)/2 + 1 = 3"
        assert conv["params_formula"] == "2·3·3·3 + 2 = 56"


RGB_O0 = [[2, 3, 3], [3, 7, 3], [8, 10, -3]]
RGB_O1 = [[-8, -8, -3], [-3, 1, 0], [-3, -8, -5]]


def test_filter_padding_one_gives_the_lectures_volume(cli, tmp_path) -> None:
    """The lecture's 3-channel example, written as the slide writes it: P = 1, S = 2."""
    out = tmp_path / "o.txt"
    args = ("-k", "lecture-w0", "-k", "lecture-w1", "--stride", "2", "--padding", "1", "-o", out)
    result = cli("filter", EXAMPLES / "rgb-5x5x3.txt", *args)
    assert result.exit_code == 0, result.stderr
    volume = parse_matrix_text(out.read_text()).array
    np.testing.assert_array_equal(volume[:, :, 0], RGB_O0)
    np.testing.assert_array_equal(volume[:, :, 1], RGB_O1)


def test_filter_rectangular_stride_against_numpy(cli) -> None:
    """--stride 2x1 --padding 1: rows every 2, columns every 1, against a plain numpy sum."""
    result = cli("filter", EXAMPLES / "lecture-5x5.txt", "-k", "sharpen", "--stride", "2x1", "--padding", "1")
    assert result.exit_code == 0, result.stderr
    x = np.pad(parse_matrix_text((EXAMPLES / "lecture-5x5.txt").read_text()).array.astype(float), 1)
    k = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float)
    expected = [[(x[r : r + 3, c : c + 3] * k).sum() for c in range(5)] for r in range(0, 5, 2)]
    assert parse_matrix_text(result.stdout).array.tolist() == expected


@pytest.mark.parametrize(("stride", "padding", "fragment"), [("0x1", "1", "stride"), ("2", "-1", "padding")])
def test_filter_refuses_bad_numbers(cli, stride, padding, fragment) -> None:
    result = cli("filter", EXAMPLES / "lecture-5x5.txt", "-k", "sharpen", "--stride", stride, "--padding", padding)
    assert result.exit_code == 2 and fragment in result.stderr


def test_the_explain_page_gets_the_formula_with_p(tmp_path) -> None:
    """The explain page's layer formula: (5 + 2·1 − 3)/2 + 1 = 3, not ⌈5/2⌉ = 3; a numeric P
    (ZeroPadding2D before the conv) is explained the same way, pixel by pixel."""
    from convcli.explain.probe import Explainer

    for padding in ("same", "1"):
        model = build_model(f"conv(2,3,strides=2,padding={padding}),flatten,dense(10)", input_shape=(5, 5, 1))
        model.save(tmp_path / "lecture.keras")
        explainer = Explainer.from_file(tmp_path / "lecture.keras")  # as `convcli explain` loads it
        conv = next(layer for layer in explainer.model_info()["layers"] if layer["type"] == "Conv2D")
        assert conv["shape_formula"] == "(5 + 2·1 − 3)/2 + 1 = 3"
        pixels = np.arange(25).reshape(5, 5) * 10
        answer = explainer.arithmetic(pixels=pixels.tolist(), layer=conv["name"], filter=0, row=0, col=0)
        assert answer["z"] == pytest.approx(answer["value"], abs=1e-5) or answer["value"] == 0  # relu


@pytest.mark.slow
@requires_mnist
def test_train_from_the_slides_code(cli, tmp_path) -> None:
    """input_shape=input_shape takes the data's 28×28×1; the record keeps the code's layers."""
    code = tmp_path / "slide.py"
    code.write_text(
        SLIDE_FINAL.replace("model.add(Input(shape=(28, 28, 1)))\n", "").replace(
            "Conv2D(32, kernel_size=3,", "Conv2D(32, kernel_size=3, input_shape=input_shape,"
        )
    )
    out = tmp_path / "slide.keras"
    args = ("--layers-from", code, "--epochs", "1", "--limit", "500", "--data-dir", MNIST, "-o", out, "--json")
    result = cli("train", *args)
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["params"] == 8_954 and "MaxPooling2D(pool_size=(2, 2), name='max_pool_1')" in record["spec"]
    wrong = cli(
        "train",
        "--layers",
        "Input(shape=(32, 32, 3)), Flatten(), Dense(10)",
        "--data-dir",
        MNIST,
        "-o",
        tmp_path / "w.keras",
    )
    assert wrong.exit_code == 2 and "(32, 32, 3)" in wrong.stderr and "the data is 28x28x1" in wrong.stderr
