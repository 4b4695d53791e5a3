"""Presets, the layer-spec parser and the summary's arithmetic, against the lecture's numbers."""

from __future__ import annotations

import json

import pytest

from convcli.errors import ConvcliError
from convcli.models.build import build_model
from convcli.models.layerspec import parse_spec, read_spec_argument
from convcli.models.presets import PRESETS
from convcli.models.summary import describe_model

pytestmark = pytest.mark.backend  # run under every Keras backend by `make test-backends`

LECTURE_SLIDES = {
    "conv(64,3),flatten,dense(10)": 433_290,
    "conv(64,3),flatten,dense(15,activation=tanh),dense(10)": 649_775,
    "conv(64,3),pool(2),flatten,dense(15,activation=tanh),dense(10)": 163_055,
    "conv(32,3),pool(2),conv(16,3),pool(2),flatten,dense(10)": 8_954,
    "flatten,dense(10)": 7_850,
}


@pytest.mark.parametrize(("spec", "params"), LECTURE_SLIDES.items())
def test_lecture_parameter_counts(spec: str, params: int) -> None:
    assert build_model(spec).count_params() == params


def test_presets() -> None:
    assert build_model(PRESETS["softmax"].spec).count_params() == 7_850
    assert build_model(PRESETS["lecture-cnn"].spec).count_params() == 8_954
    assert build_model(PRESETS["slide-conv64"].spec).count_params() == 433_290
    for preset in PRESETS.values():
        assert build_model(preset.spec).output_shape == (None, 10)


def test_lecture_cnn_rows_match_the_slide() -> None:
    rows = describe_model(build_model(PRESETS["lecture-cnn"].spec))
    assert [(r.name, r.output_shape, r.params) for r in rows] == [
        ("conv2d", (26, 26, 32), 320),
        ("max_pool_1", (13, 13, 32), 0),
        ("conv2d_1", (11, 11, 16), 4624),
        ("max_pool_2", (5, 5, 16), 0),
        ("flatten", (400,), 0),
        ("dense", (10,), 4010),
    ]
    assert rows[0].params_formula == "32·3·3·1 + 32 = 320"
    assert rows[0].shape_formula == "(28 + 2·0 − 3)/1 + 1 = 26"
    assert rows[2].params_formula == "16·3·3·32 + 16 = 4624"
    assert rows[4].shape_formula == "5·5·16 = 400"
    assert rows[5].params_formula == "400·10 + 10 = 4010"


def test_slide_dense_arithmetic() -> None:
    rows = describe_model(build_model("conv(64,3),flatten,dense(15,activation=tanh),dense(10)"))
    assert rows[1].shape_formula == "26·26·64 = 43264"
    assert rows[2].params_formula == "43264·15 + 15 = 648975"


@pytest.mark.parametrize(
    ("spec", "formula"),
    [
        ("conv(4,3,padding=same),flatten,dense(10)", "(28 + 2·1 − 3)/1 + 1 = 28"),
        # Keras's uneven 'same' with the zeros it adds (1 before, 2 after), not ⌈28/2⌉ = 14
        (
            "conv(4,5,strides=2,padding=same),flatten,dense(10)",
            "(28 + 1 + 2 − 5)/2 + 1 = 14 (same: the odd zero after)",
        ),
        # the lecture's P as a number: ZeroPadding2D(1) before the conv, written as its P
        ("conv(4,3,strides=2,padding=1),flatten,dense(10)", "⌊(28 + 2·1 − 3)/2⌋ + 1 = 14"),
        ("conv(4,4,strides=3),flatten,dense(10)", "(28 + 2·0 − 4)/3 + 1 = 9"),
        ("conv(4,5,strides=2),flatten,dense(10)", "⌊(28 + 2·0 − 5)/2⌋ + 1 = 12"),
        ("pool(3),flatten,dense(10)", "⌊(28 + 2·0 − 3)/3⌋ + 1 = 9"),
        ("avgpool(2,strides=1),flatten,dense(10)", "(28 + 2·0 − 2)/1 + 1 = 27"),
    ],
)
def test_shape_formula_gives_the_size_keras_builds(spec: str, formula: str) -> None:
    """T = (N + 2P − K)/S + 1 (floored; ⌈N/S⌉ for Keras's uneven 'same'), and Keras agrees."""
    rows = describe_model(build_model(spec))
    row = rows[1] if rows[0].type == "ZeroPadding2D" else rows[0]
    assert row.shape_formula == formula
    assert row.output_shape[:2] == (int(formula.split("= ")[1].split()[0]),) * 2


def test_spec_defaults() -> None:
    model = build_model("conv(8,3),flatten,dense(12),dense(10)")
    conv, _, hidden, last = model.layers
    assert conv.activation.__name__ == "relu" and conv.padding == "valid"
    assert hidden.activation.__name__ == "relu"
    assert last.activation.__name__ == "softmax"


def test_spec_keywords_and_layers() -> None:
    model = build_model(
        "conv(8,5,strides=2,padding=same,activation=tanh),batchnorm,avgpool(2),"
        "dropout(0.25),conv(4,1),gap,dense(10,activation=softmax,name=out)"
    )
    names = [type(layer).__name__ for layer in model.layers]
    assert names == [
        "Conv2D",
        "BatchNormalization",
        "AveragePooling2D",
        "Dropout",
        "Conv2D",
        "GlobalAveragePooling2D",
        "Dense",
    ]
    assert model.layers[0].output.shape[1:] == (14, 14, 8)
    assert model.layers[-1].name == "out"


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "empty"),
        ("conv(32,3),pool(2),convv(16,3)", "layer 3 'convv(16,3)' (column 20): unknown layer 'convv'"),
        ("conv(32)", "needs filters and kernel"),
        ("conv(32,3", "unclosed '('"),
        ("flatten)", "unmatched ')'"),
        ("flatten,,dense(10)", "layer 2"),
        ("conv(32,3,padding=x),flatten,dense(10)", "padding must be valid, same or a number P"),
        ("pool(2,padding=1),flatten,dense(10)", "padding must be valid or same"),
        ("conv(0,3),flatten,dense(10)", "filters must be between 1"),
        ("conv(2.5,3),flatten,dense(10)", "filters must be a whole number"),
        ("flatten,dense(10,activation=relux)", "did you mean 'relu'"),
        ("flatten,dropout(1.5),dense(10)", "dropout rate"),
        ("conv(8,3),dense(10)", "output has shape (26, 26, 10)"),
        ("flatten,dense(5)", "must end in dense(10)"),
        ("pool(2),pool(2),pool(2),pool(2),pool(2),flatten,dense(10)", "layer 5 'pool(2)'"),
        ("flatten,dense(10,units=3)", "given twice"),
        ("flatten(3),dense(10)", "flatten takes no arguments (only name=)"),
        (
            "conv(8,3),batchnorm(0.5),flatten,dense(10)",
            "batchnorm takes no positional arguments; name them (name=, momentum=)",
        ),
        ("conv(8,3,colour=red),flatten,dense(10)", "no argument 'colour'"),
        ("flatten,dense(10,name=a b)", "name must be"),
        ("dense(10,activation=relu)x", "expected NAME or NAME(args)"),
    ],
)
def test_bad_specs_point_at_the_token(spec: str, fragment: str) -> None:
    with pytest.raises(ConvcliError) as info:
        build_model(spec)
    assert fragment in info.value.message


def test_spec_file(tmp_path) -> None:
    path = tmp_path / "net.spec"
    path.write_text("# the lecture's CNN\nconv(32,3)\npool(2)\nconv(16,3),\npool(2)\nflatten\ndense(10)\n")
    spec = read_spec_argument(f"@{path}")
    assert [s.kind for s in parse_spec(spec)] == ["conv", "pool", "conv", "pool", "flatten", "dense"]
    assert build_model(spec).count_params() == 8_954


def test_summary_cli_json(cli) -> None:
    result = cli("summary", "lecture-cnn", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["total_params"] == 8954
    assert [layer["params"] for layer in data["layers"]] == [320, 0, 4624, 0, 0, 4010]
    assert data["layers"][3]["output_shape"] == [5, 5, 16]
    assert {"name", "type", "output_shape", "params"} <= set(data["layers"][0])


def test_summary_cli_table_shows_arithmetic(cli) -> None:
    result = cli("summary", "--layers", "conv(64,3),flatten,dense(10)")
    assert result.exit_code == 0
    assert "64·3·3·1 + 64 = 640" in result.stdout
    assert "26·26·64 = 43264" in result.stdout
    assert "Total params: 433,290" in result.stdout


def test_summary_cli_bad_spec(cli) -> None:
    result = cli("summary", "--layers", "conv(32,3),pol(2),flatten,dense(10)")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: layer spec, layer 2 'pol(2)'")
    assert "did you mean 'pool'" in result.stderr


def test_summary_unknown_preset(cli) -> None:
    result = cli("summary", "lecture_cnn")
    assert result.exit_code == 2 and "did you mean 'lecture-cnn'" in result.stderr


@pytest.mark.parametrize(
    ("keras_spec", "spec"),
    [
        ("Conv2D(8,3),MaxPooling2D(2),Flatten,Dense(10)", "conv(8,3),pool(2),flatten,dense(10)"),
        ("conv2d(8,3),maxpool(2),flatten,dense(10)", "conv(8,3),pool(2),flatten,dense(10)"),
        ("max_pooling2d(2),flatten,dense(10)", "pool(2),flatten,dense(10)"),
        (
            "Conv2D(8,3),AveragePooling2D(2),BatchNormalization,Dropout(0.1),GlobalAveragePooling2D,Dense(10)",
            "conv(8,3),avgpool(2),batchnorm,dropout(0.1),gap,dense(10)",
        ),
    ],
)
def test_keras_layer_names_are_aliases(keras_spec: str, spec: str) -> None:
    """`MaxPooling2D(2)` used to be refused with "did you mean 'avgpool'?"."""
    built, reference = build_model(keras_spec), build_model(spec)
    assert [type(layer).__name__ for layer in built.layers] == [type(layer).__name__ for layer in reference.layers]
    assert built.count_params() == reference.count_params()


def test_a_misspelt_keras_name_suggests_the_keras_name() -> None:
    with pytest.raises(ConvcliError) as info:
        parse_spec("MaxPoolin2D(2),flatten,dense(10)")
    assert "did you mean 'MaxPooling2D'?" in info.value.message and "avgpool'?" not in info.value.message
    assert "MaxPooling2D" in info.value.message.split("layers:")[1]  # the list names Keras's names too


@pytest.mark.parametrize(("typo", "hint"), [("flaten", "'flatten'"), ("Flaten", "'Flatten'"), ("dropot", "'dropout'")])
def test_a_lowercase_typo_suggests_the_specs_own_name(typo: str, hint: str) -> None:
    """``flaten`` used to suggest the Keras alias 'Flatten' rather than the spec's 'flatten'."""
    with pytest.raises(ConvcliError) as info:
        parse_spec(f"{typo},dense(10)")
    assert f"(did you mean {hint}?)" in info.value.message


def test_spaces_instead_of_commas_say_so() -> None:
    with pytest.raises(ConvcliError) as info:
        parse_spec("conv(32,3) pool(2) flatten dense(10)")
    message = info.value.message
    assert "layers are separated by commas" in message and "column 11" in message
    assert "'conv(32,3),pool(2),flatten,dense(10)'" in message  # the spec as it should read
    assert "kernel size" not in message
    # spaces inside a layer's arguments or after commas are fine
    assert [s.kind for s in parse_spec("conv(32, 3), pool(2), flatten, dense(10, activation = softmax)")] == [
        "conv",
        "pool",
        "flatten",
        "dense",
    ]


def test_an_empty_output_is_explained_in_the_specs_terms() -> None:
    """pool(3) four times: 28 → 9 → 3 → 1, then ⌊(1 − 3)/3⌋ + 1 = 0. Keras's own text
    ("Exception encountered when calling MaxPooling2D.call()") used to leak out."""
    with pytest.raises(ConvcliError) as info:
        build_model("pool(3),pool(3),pool(3),pool(3),flatten,dense(10)")
    message = info.value.message
    assert message.startswith("layer spec, layer 4 'pool(3)' (column 25): ")
    assert "the 1×1×1 output of layer 3 'pool(3)'" in message and "⌊(1 − 3)/3⌋ + 1 = 0" in message
    assert "empty" in message and "Exception" not in message and "call()" not in message
    with pytest.raises(ConvcliError) as info:  # 28 → 26 → 8 → 2, then nothing
        build_model("conv(8,3),pool(3),pool(3),pool(3),pool(3),flatten,dense(10)")
    assert info.value.message.startswith("layer spec, layer 4 'pool(3)' (column 27): ")
    assert "the 2×2×8 output of layer 3 'pool(3)': ⌊(2 − 3)/3⌋ + 1 = 0" in info.value.message
    with pytest.raises(ConvcliError) as info:
        build_model("conv(8,5),conv(8,5),conv(8,5),conv(8,5),conv(8,5),conv(8,5),conv(8,5),flatten,dense(10)")
    assert "layer 7 'conv(8,5)'" in info.value.message and "the 4×4×8 output of layer 6" in info.value.message


def test_spec_shapes_agree_with_keras() -> None:
    from convcli.models.speccheck import spec_shapes

    for spec in [
        *LECTURE_SLIDES,
        *(p.spec for p in PRESETS.values()),
        "conv(4,5,strides=2,padding=same),gap,dense(10)",
    ]:
        model = build_model(spec)
        assert spec_shapes(parse_spec(spec)) == [tuple(layer.output.shape[1:]) for layer in model.layers], spec


def test_a_map_layer_after_flatten_is_explained() -> None:
    with pytest.raises(ConvcliError) as info:
        build_model("flatten,conv(3,3),dense(10)")
    assert "needs a height×width×channels map, but gets the 784 output of layer 1 'flatten'" in info.value.message


def test_a_last_layer_that_is_not_softmax_is_a_warning(cli) -> None:
    from convcli.errors import ConvcliWarning

    with pytest.warns(ConvcliWarning, match=r"layer 3 'dense\(10, activation=relu\)'.*should be softmax"):
        build_model("conv(8,3),flatten,dense(10, activation=relu)")
    result = cli("summary", "--layers", "flatten,dense(32),dense(10,activation=relu)")
    assert result.exit_code == 0
    assert result.stderr.startswith("Warning: layer spec, layer 3 'dense(10,activation=relu)': the last layer")
    assert "Total params: 25,450" in result.stdout
    quiet = cli("summary", "--layers", "flatten,dense(32,activation=relu),dense(10,activation=softmax)")
    assert quiet.exit_code == 0 and quiet.stderr == ""
