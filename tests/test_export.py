"""``convcli export`` and running exported models: every format answers like the Keras model in
its own runtime (ONNX and LiteRT in a process that cannot import TensorFlow), the metadata
travels, ``predict``/``evaluate`` with an export equal the ``.keras`` answers without importing
TensorFlow, and models made elsewhere are taken with a warning saying what is assumed.

Tests needing the ``export`` extra skip when it is missing, except in CI (``CONVCLI_CI``), where
a missing package fails them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import MNIST, ROOT, requires_mnist, run_convcli, write_png
from digit_photos import Look, mnist_glyph, photograph
from folder_sets import colour_folders

IN_CI = bool(os.environ.get("CONVCLI_CI"))
TOLERANCE = 1e-5
BLOCKED = ("tensorflow", "keras", "jax", "torch", "tf2onnx")

NO_TENSORFLOW = """
import json, runpy, sys
BLOCKED = {blocked!r}
tried = []
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            tried.append(name)
            raise ImportError(name + " is blocked: this process must run without TensorFlow")
sys.meta_path.insert(0, Block())
report = sys.argv.pop(1)
def done():
    loaded = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
    with open(report, "w") as f:
        json.dump({{"tried": tried, "loaded": loaded}}, f)
import atexit
atexit.register(done)
{body}
"""
"""A script run with imports of TensorFlow, Keras (and other backends) refused; it records any
attempt and what ``sys.modules`` holds at exit in the JSON file named by its first argument."""

CLI_BODY = 'sys.argv[0] = "convcli"\nrunpy.run_module("convcli", run_name="__main__")'


def needs(*modules: str) -> None:
    """Skip when a module of the export extra is missing; in CI, fail instead."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing and IN_CI:
        pytest.fail(f"CONVCLI_CI: {', '.join(missing)} missing (install convcli[export])")
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install -e '.[export]')")


def without_tensorflow(
    tmp_path: Path, body: str, *args: str, blocked: tuple[str, ...] = BLOCKED
) -> tuple[subprocess.CompletedProcess[str], dict]:
    """Run ``body`` (Python) in a fresh process that cannot import TensorFlow or Keras (or the
    packages ``blocked`` names); its result and the record of blocked imports (``tried``) and
    blocked modules loaded (``loaded``)."""
    script = tmp_path / "no_tf.py"
    script.write_text(NO_TENSORFLOW.format(blocked=blocked, body=body))
    report = tmp_path / "no_tf.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, str(script), str(report), *args], capture_output=True, text=True, env=env, cwd=ROOT
    )
    return result, json.loads(report.read_text()) if report.exists() else {"tried": ["no report"], "loaded": []}


def export(model: Path, output: Path, *extra: str) -> dict:
    """``convcli export MODEL -o OUTPUT --json``, the way a user runs it; its JSON record."""
    result = run_convcli("export", model, "-o", output, "--json", *extra, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


# --------------------------------------------------------------------------- models trained for the tests


def trained(tmp_path_factory, name: str, *args: str) -> Path:
    """A model trained by ``convcli train ARGS -o NAME.keras`` (its run record beside it)."""
    out = tmp_path_factory.mktemp(name) / f"{name}.keras"
    result = run_convcli("train", *args, "-o", out, "--seed", "0", timeout=600)
    assert result.returncode == 0, result.stderr.decode()
    return out


@pytest.fixture(scope="module")
def cnn(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, "cnn", "cnn", "--epochs", "1", "--limit", "3000", "--data-dir", str(MNIST))


@pytest.fixture(scope="module")
def mlp(tmp_path_factory) -> Path:
    return trained(tmp_path_factory, "mlp", "mlp", "--epochs", "1", "--limit", "2000", "--data-dir", str(MNIST))


@pytest.fixture(scope="module")
def colours(tmp_path_factory) -> Path:
    """A colour model trained on a folder of red, green and blue shapes (20×30 RGB pictures)."""
    folder = colour_folders(tmp_path_factory.mktemp("pictures") / "colours", 15)
    layers = "conv(4,3),pool(2),flatten,dense(3)"
    return trained(tmp_path_factory, "colours", "--layers", layers, "--data", str(folder), "--epochs", "3")


@pytest.fixture(scope="module")
def exports(request) -> dict[str, tuple[Path, dict]]:
    """The model named by the test's parameter exported to the three formats by the CLI."""
    needs("tf2onnx", "onnx", "onnxruntime", "ai_edge_litert")
    model: Path = request.getfixturevalue(request.param)
    outputs = {"onnx": model.with_suffix(".onnx"), "litert": model.with_suffix(".tflite")}
    outputs["savedmodel"] = model.with_name(f"{model.stem}_savedmodel")
    return {fmt: (path, export(model, path)) for fmt, path in outputs.items()}


def sample_inputs(model: Path) -> np.ndarray:
    """Pictures of the model's own test data as it takes them (float32 in [0, 1]), 9 of them."""
    from convcli.models.metadata import read_meta

    meta = read_meta(model)
    if meta.preparation == "digit":
        from convcli.datasets.idx import load_dataset

        x = load_dataset("mnist", MNIST).x_test[100:109].astype(np.float32) / 255
        return x[..., None]
    from PIL import Image

    folder = Path(json.loads(model.with_suffix(".json").read_text())["data"]["folder"])
    files = sorted(folder.rglob("*.png"))[::5][:9]
    return np.stack([np.asarray(Image.open(f).convert("RGB"), np.float32) / 255 for f in files])


# --------------------------------------------------------------------------- the three formats, verified


@pytest.mark.slow
@requires_mnist
@pytest.mark.parametrize("exports", ["cnn", "mlp", "colours"], indirect=True)
def test_every_export_is_verified_and_carries_the_metadata(exports, request) -> None:
    from convcli.models.metadata import read_meta

    model: Path = request.getfixturevalue(request.node.callspec.params["exports"])
    meta = read_meta(model).as_json()
    for fmt, (path, record) in exports.items():
        check = record["verification"]
        assert record["format"] == fmt and Path(record["output"]) == path and path.exists()
        assert check["passed"] and check["max_abs_diff"] <= TOLERANCE, record
        assert check["top1_agree"] == check["samples"] and check["samples"] % 2 == 1
        assert check["batch_sizes"] == [1, check["samples"]]
        assert {k: record["meta"][k] for k in meta} == meta
    onnx_meta = exports["onnx"][1]["metadata"]
    assert onnx_meta == "metadata_props"
    assert json.loads(Path(exports["litert"][1]["metadata"]).read_text())["class_names"] == meta["class_names"]
    assert json.loads((exports["savedmodel"][0] / "convcli.json").read_text())["input_shape"] == meta["input_shape"]


ONNX_AND_LITERT = """
import numpy as np, onnxruntime, json
from ai_edge_litert.interpreter import Interpreter
onnx_path, tflite_path, x_path, out_path = sys.argv[1:5]
x = np.load(x_path)
session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
batch_axis = session.get_inputs()[0].shape[0]
one_by_one = [session.run(None, {name: x[i:i+1]})[0] for i in range(len(x))]
onnx_out = [session.run(None, {name: x})[0], np.concatenate(one_by_one)]
meta = json.loads(session.get_modelmeta().custom_metadata_map["convcli"])
interpreter = Interpreter(model_path=tflite_path)
detail = interpreter.get_input_details()[0]
signature = detail["shape_signature"].tolist()
def litert(batch):
    interpreter.resize_tensor_input(detail["index"], list(batch.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], batch)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()
litert_out = [litert(x), np.concatenate([litert(x[i:i+1]) for i in range(len(x))])]
np.save(out_path, np.stack(onnx_out + litert_out))
print(json.dumps({"batch_axis": str(batch_axis), "signature": signature, "meta": meta}))
"""


@pytest.mark.slow
@requires_mnist
@pytest.mark.parametrize("exports", ["cnn", "mlp", "colours"], indirect=True)
def test_exports_answer_like_keras_in_their_own_runtimes(exports, request, tmp_path) -> None:
    """ONNX (onnxruntime) and LiteRT (ai-edge-litert) in a process that cannot import TensorFlow,
    the SavedModel in TensorFlow, at batch 9 and batch 1: Keras's probabilities within 1e-5."""
    import keras

    from convcli.models.metadata import read_meta

    model_path: Path = request.getfixturevalue(request.node.callspec.params["exports"])
    x = sample_inputs(model_path)
    np.save(tmp_path / "x.npy", x)
    expected = keras.saving.load_model(model_path).predict(x, verbose=0)
    result, imports = without_tensorflow(
        tmp_path,
        ONNX_AND_LITERT,
        str(exports["onnx"][0]),
        str(exports["litert"][0]),
        str(tmp_path / "x.npy"),
        str(tmp_path / "out.npy"),
    )
    assert result.returncode == 0, result.stderr
    assert imports == {"tried": [], "loaded": []}
    seen = json.loads(result.stdout)
    assert not seen["batch_axis"].isdigit() and seen["signature"][0] == -1  # a dynamic batch in both
    assert seen["meta"]["class_names"] == read_meta(model_path).class_names
    import tensorflow as tf

    loaded = tf.saved_model.load(str(exports["savedmodel"][0]))  # kept: its serve function uses its variables
    saved = [
        np.asarray(loaded.serve(x)),
        np.concatenate([np.asarray(loaded.serve(x[i : i + 1])) for i in range(len(x))]),
    ]
    for got in [*np.load(tmp_path / "out.npy"), *saved]:
        assert np.abs(got - expected).max() <= TOLERANCE
        assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()


# --------------------------------------------------------------------------- predict and evaluate with exports


def digit_photos(folder: Path) -> list[Path]:
    """Three photographed MNIST test digits and a photographed number, as users take them."""
    from PIL import Image

    from convcli.datasets.idx import load_dataset

    data = load_dataset("mnist", MNIST)
    rng = np.random.default_rng(7)
    paths = []
    for i, index in enumerate((0, 1, 2)):
        photo = photograph(mnist_glyph(data.x_test[index], 60), Look(noise=6, lighting="gradient"), rng)
        paths.append(folder / f"photo{i}.png")
        Image.fromarray(photo).save(paths[-1])
    glyphs = [mnist_glyph(data.x_test[int(np.nonzero(data.y_test == d)[0][3])], 50) for d in (2, 0, 2, 6)]
    row = np.zeros((50, sum(g.shape[1] for g in glyphs) + 12 * 3))
    left = 0
    for glyph in glyphs:
        row[: glyph.shape[0], left : left + glyph.shape[1]] = glyph
        left += glyph.shape[1] + 12
    paths.append(folder / "year.png")
    Image.fromarray(photograph(row, Look(noise=4), rng)).save(paths[-1])
    return paths


def predictions(lines: str) -> list[dict]:
    """The ``--json`` records of predict, one per line."""
    return [json.loads(line) for line in lines.splitlines()]


def assert_same_answers(got: list[dict], expected: list[dict]) -> None:
    """Same classes, labels and inputs; every probability within the tolerance."""
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        a_digits, b_digits = a.get("digits", [a]), b.get("digits", [b])
        assert [d["prediction"] for d in a_digits] == [d["prediction"] for d in b_digits]
        assert [d["label"] for d in a_digits] == [d["label"] for d in b_digits]
        for da, db in zip(a_digits, b_digits):
            assert np.abs(np.array(da["probabilities"]) - np.array(db["probabilities"])).max() <= TOLERANCE


@pytest.mark.slow
@requires_mnist
@pytest.mark.parametrize("exports", ["cnn"], indirect=True)
def test_predict_with_an_export_equals_keras_without_tensorflow(exports, cnn, tmp_path) -> None:
    photos = digit_photos(tmp_path)
    runs = [[*map(str, photos[:3]), "--top", "3"], ["--index", "7"], [str(photos[3]), "--digits"]]
    for args in runs:
        started = time.perf_counter()
        keras_run = run_convcli("predict", cnn, *args, "--json")
        keras_seconds = time.perf_counter() - started
        assert keras_run.returncode == 0, keras_run.stderr.decode()
        expected = predictions(keras_run.stdout.decode())
        for fmt in ("onnx", "litert"):
            started = time.perf_counter()
            result, imports = without_tensorflow(tmp_path, CLI_BODY, "predict", str(exports[fmt][0]), *args, "--json")
            seconds = time.perf_counter() - started
            assert result.returncode == 0, result.stderr
            assert imports == {"tried": [], "loaded": []}, imports
            assert result.stderr == ""
            assert_same_answers(predictions(result.stdout), expected)
            assert seconds < keras_seconds, (fmt, seconds, keras_seconds)
    assert predictions(run_convcli("predict", exports["onnx"][0], "--index", "7", "--json").stdout)[0]["input"] == (
        "mnist:test[7]"
    )


@pytest.mark.slow
@requires_mnist
@pytest.mark.parametrize("exports", ["cnn", "colours"], indirect=True)
def test_evaluate_with_an_export_equals_keras(exports, request, tmp_path) -> None:
    """The whole test set (MNIST's 10,000; the colour run's own split, found through the run record
    beside the export) gives the same confusion matrix, without TensorFlow."""
    model: Path = request.getfixturevalue(request.node.callspec.params["exports"])
    expected = json.loads(run_convcli("evaluate", model, "--json").stdout)
    for fmt in ("onnx", "litert"):
        result, imports = without_tensorflow(tmp_path, CLI_BODY, "evaluate", str(exports[fmt][0]), "--json")
        assert result.returncode == 0, result.stderr
        assert imports == {"tried": [], "loaded": []}
        got = json.loads(result.stdout)
        assert got["confusion"] == expected["confusion"] and got["n"] == expected["n"]
        assert got["accuracy"] == expected["accuracy"] and abs(got["loss"] - expected["loss"]) <= TOLERANCE
        assert got["class_names"] == expected["class_names"]


# --------------------------------------------------------------------------- models made elsewhere


def dense_onnx(path: Path, input_shape: list[int], weights: np.ndarray, bias: np.ndarray) -> Path:
    """An ONNX file made by hand, as another tool would: (N, *input_shape) float32 → flatten →
    dense → softmax, with a symbolic batch axis and no convcli metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["pixels"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "W", "b"], ["scores"]),
            helper.make_node("Softmax", ["scores"], ["probabilities"], axis=1),
        ],
        "elsewhere",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", *input_shape])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", len(bias)])],
        [
            numpy_helper.from_array(weights.astype(np.float32), "W"),
            numpy_helper.from_array(bias.astype(np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max())
    return shifted / shifted.sum()


@requires_mnist
def test_a_channels_first_onnx_from_elsewhere_is_an_assumed_mnist_model(tmp_path, rng) -> None:
    """(N, 1, 28, 28) in, ten probabilities out: taken as MNIST digits, with a warning; its answer
    is numpy's softmax(x W + b) on the test image scaled to 0–1."""
    needs("onnx", "onnxruntime")
    from convcli.datasets.idx import load_dataset

    weights, bias = rng.normal(0, 0.05, (784, 10)), rng.normal(0, 0.1, 10)
    path = dense_onnx(tmp_path / "elsewhere.onnx", [1, 28, 28], weights, bias)
    result, imports = without_tensorflow(tmp_path, CLI_BODY, "predict", str(path), "--index", "4", "--json")
    assert result.returncode == 0, result.stderr
    assert imports == {"tried": [], "loaded": []}
    assert "no convcli metadata: taken as an MNIST digit model" in result.stderr
    x = load_dataset("mnist", MNIST).x_test[4].astype(np.float64).reshape(-1) / 255
    expected = softmax(x @ weights + bias)
    record = json.loads(result.stdout)
    assert np.abs(np.array(record["probabilities"]) - expected).max() <= TOLERANCE
    assert record["prediction"] == int(expected.argmax())


def test_predict_onnx_on_a_photo_imports_neither_scipy_nor_scikit_image(tmp_path, rng) -> None:
    """``predict model.onnx photo.png``, the issue's one-second case: the digit's ink is found
    without SciPy or scikit-image (their imports cost 0.45 s of CPU; refused here, with TensorFlow
    and Keras), and the answer is numpy's softmax(x W + b) of the library's preparation."""
    needs("onnx", "onnxruntime")
    from PIL import Image

    from convcli.prediction.predict import model_input

    weights, bias = rng.normal(0, 0.05, (784, 10)), rng.normal(0, 0.1, 10)
    path = dense_onnx(tmp_path / "dense.onnx", [28, 28, 1], weights, bias)
    glyph = np.zeros((60, 40))
    glyph[5:55, 16:24] = 1.0  # a "1", 50 px tall
    photo = tmp_path / "one.png"
    Image.fromarray(photograph(glyph, Look(noise=6, lighting="gradient"), rng)).save(photo)
    blocked = (*BLOCKED, "scipy", "skimage")
    result, imports = without_tensorflow(
        tmp_path, CLI_BODY, "predict", str(path), str(photo), "--json", blocked=blocked
    )
    assert result.returncode == 0, result.stderr
    assert imports == {"tried": [], "loaded": []}
    x = model_input(path, str(photo)).astype(np.float64).reshape(-1) / 255
    assert x.max() == 1.0 and (x > 0).sum() > 20  # a digit was found
    expected = softmax(x @ weights + bias)
    record = json.loads(result.stdout)
    assert np.abs(np.array(record["probabilities"]) - expected).max() <= TOLERANCE
    assert record["prediction"] == int(expected.argmax())


def test_an_rgb_onnx_from_elsewhere_gets_pictures_resized_to_its_input(tmp_path, rng) -> None:
    """(N, 6, 8, 3) in, four probabilities out: pictures resized to 6×8 RGB, classes by index."""
    needs("onnx", "onnxruntime")
    weights, bias = rng.normal(0, 0.3, (6 * 8 * 3, 4)), rng.normal(0, 0.1, 4)
    path = dense_onnx(tmp_path / "rgb.onnx", [6, 8, 3], weights, bias)
    colour = np.array([200, 30, 90])
    picture = write_png(tmp_path / "flat.png", np.broadcast_to(colour, (12, 16, 3)).copy())
    result = run_convcli("predict", path, picture, "--json")
    assert result.returncode == 0, result.stderr.decode()
    assert "pictures are resized to 6×8 rgb" in result.stderr.decode()
    x = np.broadcast_to(colour / 255, (6, 8, 3)).reshape(-1)
    record = json.loads(result.stdout)
    assert np.abs(np.array(record["probabilities"]) - softmax(x @ weights + bias)).max() <= TOLERANCE
    assert record["label"] == str(record["prediction"])


def test_layer_views_say_they_need_the_keras_file(tmp_path, rng) -> None:
    needs("onnx")
    path = dense_onnx(tmp_path / "m.onnx", [28, 28, 1], rng.normal(0, 0.1, (784, 10)), np.zeros(10))
    for args in (
        ["feature-maps", path, "--index", "0", "-o", tmp_path / "maps.png"],
        ["weights", path, "-o", tmp_path / "w.png"],
    ):
        result = run_convcli(*args)
        assert result.returncode == 2
        assert "needs the .keras file it was exported from" in result.stderr.decode()
    refused = run_convcli("export", path, "-o", tmp_path / "again.onnx")
    assert refused.returncode == 2 and "needs the .keras file" in refused.stderr.decode()


# --------------------------------------------------------------------------- usage and missing packages


def test_the_format_comes_from_the_suffix_unless_given() -> None:
    from convcli.errors import ConvcliError
    from convcli.models.export import export_format

    assert export_format("a/cnn.onnx", None) == "onnx"
    assert export_format("cnn.TFLITE", None) == "litert"
    assert export_format("cnn_savedmodel", None) == "savedmodel"
    assert export_format("cnn.bin", "onnx") == "onnx"
    with pytest.raises(ConvcliError, match=r"cannot tell the format from '\.pb'"):
        export_format("cnn.pb", None)
    assert export_format("cnn.tflite", "litert") == "litert"
    for output, fmt in (("y.onnx", "litert"), ("y.tflite", "onnx"), ("y.onnx", "savedmodel")):
        with pytest.raises(ConvcliError, match=r"format \w+ disagrees with the output's suffix"):
            export_format(output, fmt)  # before: a LiteRT file written as y.onnx, which predict then refused


def test_a_missing_package_names_the_extra(tmp_path, monkeypatch) -> None:
    import convcli.models.export
    from convcli.errors import ConvcliError
    from convcli.models.runtime import load_runner

    monkeypatch.setattr(convcli.models.export, "find_spec", lambda name: None if name == "tf2onnx" else object())
    with pytest.raises(ConvcliError, match=r"needs tf2onnx: pip install 'convcli\[export\]'"):
        convcli.models.export.check_export_tools("onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    (tmp_path / "m.onnx").write_bytes(b"onnx")
    with pytest.raises(ConvcliError, match=r"onnxruntime is not installed: pip install 'convcli\[runtime\]'"):
        load_runner(tmp_path / "m.onnx")


def test_export_refuses_before_any_work(tmp_path) -> None:
    """Bad usage is refused before Keras loads: a missing model, output folder or format."""
    import zipfile

    model = tmp_path / "m.keras"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("config.json", "{}")
    for args, message in [
        (["export", tmp_path / "none.keras", "-o", tmp_path / "m.onnx"], "no such model file"),
        (["export", model, "-o", tmp_path / "missing" / "m.onnx"], "does not exist"),
        (["export", model, "-o", tmp_path / "m.pb"], "give --format"),
        (["export", model, "-o", tmp_path / "m.onnx", "--samples", "0"], "--samples"),
    ]:
        result = run_convcli(*args)
        assert result.returncode == 2, args
        assert message in result.stderr.decode()


# --------------------------------------------------------------------------- plain Keras models, and mismatches


@pytest.fixture
def plain_keras(tmp_path) -> Path:
    """A model saved by plain Keras (no convcli metadata): 28×28×1 in, ten softmax outputs."""
    import keras

    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Conv2D(3, 3), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    )
    path = tmp_path / "plain.keras"
    model.save(path)
    return path


@pytest.mark.slow
@requires_mnist
def test_a_plain_keras_model_exports_with_what_is_assumed(plain_keras, tmp_path) -> None:
    needs("tf2onnx", "onnx", "onnxruntime")
    from convcli.errors import ConvcliWarning
    from convcli.models.export import export_model

    with pytest.warns(ConvcliWarning, match="no convcli metadata: taken as an MNIST digit model"):
        result = export_model(plain_keras, tmp_path / "plain.onnx", data_dir=MNIST)
    assert result.verification.passed and "mnist test set" in result.verification.data
    assert result.meta["class_names"] == [str(i) for i in range(10)]


@pytest.mark.slow
@requires_mnist
def test_an_export_that_answers_differently_is_an_error_and_not_kept(plain_keras, tmp_path, monkeypatch) -> None:
    """The exported file altered before verification (one weight scaled): exit status 1, the
    measured difference in the message, nothing left behind."""
    needs("tf2onnx", "onnx", "onnxruntime")
    import onnx
    from onnx import numpy_helper

    import convcli.models.export
    from convcli.errors import ConvcliError

    original = convcli.models.export.write_export

    def altered(model, path, fmt, stored):
        original(model, path, fmt, stored)
        proto = onnx.load(str(path))
        biggest = max(proto.graph.initializer, key=lambda t: numpy_helper.to_array(t).size)
        biggest.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(biggest) * 1.5, biggest.name))
        onnx.save(proto, str(path))

    monkeypatch.setattr(convcli.models.export, "write_export", altered)
    with pytest.warns(UserWarning), pytest.raises(ConvcliError, match=r"does not answer like .*max \|Δ\|") as caught:
        convcli.models.export.export_model(plain_keras, tmp_path / "bad.onnx", data_dir=MNIST)
    assert caught.value.exit_code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.keras"]


@pytest.mark.slow
def test_a_plain_keras_model_of_another_shape_predicts_with_what_is_assumed(tmp_path) -> None:
    """No convcli metadata, 8×8×3 in, four classes out: its shapes read from the file's
    config.json, pictures resized to 8×8 RGB, with a warning; the answer is Keras's own."""
    import keras

    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(4, "softmax")])
    model.save(tmp_path / "rgb.keras")
    colour = np.array([30, 160, 220])
    picture = write_png(tmp_path / "flat.png", np.broadcast_to(colour, (16, 24, 3)).copy())
    result = run_convcli("predict", tmp_path / "rgb.keras", picture, "--json")
    assert result.returncode == 0, result.stderr.decode()
    assert "no convcli metadata: pictures are resized to 8×8 rgb" in result.stderr.decode()
    expected = model.predict(np.broadcast_to(colour / 255, (1, 8, 8, 3)).astype(np.float32), verbose=0)[0]
    record = json.loads(result.stdout)
    assert np.abs(np.array(record["probabilities"]) - expected).max() <= TOLERANCE
    assert record["prediction"] == int(expected.argmax())


def test_an_existing_export_is_replaced_only_with_force(cli, tmp_path) -> None:
    """``export`` refuses an output that holds an export (file or SavedModel) before any work,
    naming --force through the CLI and ``force`` from the library; ``force`` lets it through."""
    import zipfile

    from convcli.errors import ConvcliError
    from convcli.models.export import check_export_output

    model = tmp_path / "m.keras"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("config.json", "{}")
    earlier = tmp_path / "m.onnx"
    earlier.write_bytes(b"an earlier export")
    result = cli("export", model, "-o", earlier)
    assert result.exit_code == 2 and "--force to replace it" in result.stderr, result.stderr
    assert earlier.read_bytes() == b"an earlier export"
    with pytest.raises(ConvcliError, match="pass force=True"):
        check_export_output(earlier, model, "onnx")
    assert check_export_output(earlier, model, "onnx", force=True) == earlier
    saved = tmp_path / "m_savedmodel"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ConvcliError, match="already exists"):
        check_export_output(saved, model, "savedmodel")
    assert check_export_output(saved, model, "savedmodel", force=True) == saved
