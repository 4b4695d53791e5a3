"""``convcli explain``'s JSON API and server, against a server started on a free port in the test.

Every number the API returns is checked against an independent path: ``predict`` and
``feature-maps``' library functions (``model.predict``), SciPy's correlation, or the layer's own
output; bad requests, oversized bodies and path traversal get JSON errors and the server
keeps serving.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, requires_fashion, requires_mnist
from explain_support import b64, drawn_zero, png_bytes, post_json, request, running_server, trained_model

from convcli.errors import ConvcliError

pytestmark = [requires_mnist]
slow = pytest.mark.slow  # the tests that need a trained model; the server's own checks are fast
FASHION_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


@pytest.fixture(scope="module")
def mnist():
    from convcli.datasets.idx import load_dataset

    return load_dataset("mnist")


@pytest.fixture(scope="module")
def cnn_path(tmp_path_factory) -> Path:
    return trained_model(tmp_path_factory, "cnn")


@pytest.fixture(scope="module")
def cnn_model(cnn_path):
    from convcli.models.build import load_model

    return load_model(cnn_path)


@pytest.fixture(scope="module")
def server(cnn_path):
    with running_server(cnn_path) as srv:
        yield srv


@pytest.fixture(scope="module")
def bare_path(tmp_path_factory) -> Path:
    """The cnn preset untrained (built in seconds): enough for the server's protocol checks."""
    return trained_model(tmp_path_factory, "cnn-untrained")


@pytest.fixture(scope="module")
def bare_server(bare_path):
    with running_server(bare_path) as srv:
        yield srv


# --------------------------------------------------------------------------- the model and predictions


@slow
def test_model_info_carries_the_summary_arithmetic(server) -> None:
    status, headers, body = request(server, "GET", "/api/model")
    info = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert info["input_shape"] == [28, 28, 1] and info["class_names"] == [str(i) for i in range(10)]
    layers = {layer["name"]: layer for layer in info["layers"]}
    assert [layer["name"] for layer in info["layers"] if layer["maps"]] == [
        "conv2d",
        "max_pooling2d",
        "conv2d_1",
        "max_pooling2d_1",
    ]
    assert layers["conv2d"]["shape_formula"] == "(28 + 2·0 − 5)/1 + 1 = 24"
    assert layers["conv2d"]["params_formula"] == "16·5·5·1 + 16 = 416"
    assert layers["max_pooling2d"]["shape_formula"] == "(24 + 2·0 − 2)/2 + 1 = 12"
    assert layers["conv2d_1"]["output_shape"] == [8, 8, 32]
    assert layers["conv2d_1"]["params_formula"] == "32·5·5·16 + 32 = 12832"
    assert info["templates"] is None


@slow
def test_predict_pixels_agrees_with_predict_and_feature_maps(server, cnn_model, mnist) -> None:
    from convcli.models.inspection import feature_maps
    from convcli.prediction.predict import predict_digits

    digits = mnist.x_test[:4]
    reference = predict_digits(cnn_model, digits, ["a", "b", "c", "d"])
    for digit, expected in zip(digits, reference):
        status, answer = post_json(server, "/api/predict", {"pixels": digit.tolist()})
        assert status == 200
        assert answer["prediction"] == expected.prediction and answer["class_name"] == str(expected.prediction)
        np.testing.assert_allclose(answer["probabilities"], expected.probabilities, atol=1e-5)
        assert answer["input"] == digit.tolist()
        maps = feature_maps(cnn_model, digit)
        assert [layer["name"] for layer in answer["layers"]] == [m.name for m in maps]
        for layer, ref in zip(answer["layers"], maps):
            assert layer["shape"] == list(ref.maps.shape)
            np.testing.assert_allclose(np.transpose(layer["maps"], (1, 2, 0)), ref.maps, atol=2e-5)
            assert layer["max"] == pytest.approx(float(ref.maps.max()), abs=1e-5)
    assert sum(r.prediction == y for r, y in zip(reference, mnist.y_test[:4])) >= 3  # the model is trained


@slow
def test_predict_a_photo_as_predict_prepares_it(server, cnn_path, mnist, tmp_path) -> None:
    from PIL import Image

    from convcli.prediction.predict import predict_files

    big = Image.fromarray(255 - mnist.x_test[0]).resize((150, 150), Image.Resampling.BICUBIC)
    photo = Image.new("L", (240, 200), 255)
    photo.paste(big, (60, 20))
    path = tmp_path / "seven.jpg"
    photo.convert("RGB").save(path, quality=90)
    expected = predict_files(cnn_path, [str(path)])[0]
    data = path.read_bytes()
    status, _, body = request(server, "POST", "/api/predict", data, {"Content-Type": "image/jpeg"})
    raw = json.loads(body)
    status_b64, as_json = post_json(server, "/api/predict", {"image": b64(data)})
    assert status == status_b64 == 200
    for answer in (raw, as_json):
        assert answer["input"] == expected.digit.tolist()
        assert answer["prediction"] == expected.prediction == 7
        np.testing.assert_allclose(answer["probabilities"], expected.probabilities, atol=1e-5)


@slow
@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_a_transparent_upload_is_read_on_white_paper(server, cnn_path, mnist, tmp_path, mode) -> None:
    """Black ink on a fully transparent background: prepared as its white-flattened version."""
    from PIL import Image

    from convcli.prediction.predict import predict_files

    ink = Image.fromarray(mnist.x_test[0]).resize((84, 84), Image.Resampling.BICUBIC)
    picture = Image.new("LA", (120, 100), (0, 0))
    picture.paste(Image.merge("LA", (Image.new("L", ink.size, 0), ink)), (20, 8))
    picture = picture.convert(mode)
    path = tmp_path / f"seven-{mode}.png"
    picture.save(path)
    white = Image.new("RGBA", picture.size, "white")
    flat = tmp_path / f"seven-{mode}-white.png"
    Image.alpha_composite(white, picture.convert("RGBA")).convert("L").save(flat)
    expected = predict_files(cnn_path, [str(flat)])[0]
    assert predict_files(cnn_path, [str(path)])[0].digit.tolist() == expected.digit.tolist()
    status, _, body = request(server, "POST", "/api/predict", path.read_bytes(), {"Content-Type": "image/png"})
    answer = json.loads(body)
    assert status == 200, answer
    assert answer["input"] == expected.digit.tolist() and answer["prediction"] == expected.prediction == 7
    np.testing.assert_allclose(answer["probabilities"], expected.probabilities, atol=1e-5)


@slow
def test_predict_chosen_layers_only(server) -> None:
    status, answer = post_json(server, "/api/predict", {"pixels": np.zeros((28, 28)).tolist(), "layers": ["conv2d_1"]})
    assert status == 200 and [layer["name"] for layer in answer["layers"]] == ["conv2d_1"]
    assert answer["input"] == np.zeros((28, 28), int).tolist()


# --------------------------------------------------------------------------- the arithmetic panel


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


@slow
def test_arithmetic_matches_scipy_and_the_layer(server, cnn_model, mnist) -> None:
    from scipy.signal import correlate

    from convcli.models.inspection import conv_kernels, feature_maps

    digit = mnist.x_test[0]
    maps = {m.name: m.maps for m in feature_maps(cnn_model, digit)}
    volumes = {"conv2d": digit[:, :, None] / 255.0, "conv2d_1": maps["max_pooling2d"]}
    for kernels in conv_kernels(cnn_model):
        volume, out = volumes[kernels.name], maps[kernels.name]
        for f in (0, kernels.weights.shape[-1] - 1):
            w = kernels.weights[:, :, :, f]
            z = sum(correlate(volume[:, :, c], w[:, :, c], mode="valid") for c in range(w.shape[2])) + kernels.bias[f]
            np.testing.assert_allclose(relu(z), out[:, :, f], atol=1e-4)  # the reference is right
            strongest = np.unravel_index(int(out[:, :, f].argmax()), out.shape[:2])
            for row, col in [(0, 0), (out.shape[0] - 1, out.shape[1] - 1), (3, 5), strongest]:
                request_body = {"pixels": digit.tolist(), "layer": kernels.name, "filter": f, "row": int(row)}
                status, a = post_json(server, "/api/arithmetic", {**request_body, "col": int(col)})
                assert status == 200, a
                assert a["z"] == pytest.approx(z[row, col], abs=1e-4)
                assert a["sum"] + a["bias"] == pytest.approx(a["z"], abs=1e-12)
                assert a["value"] == pytest.approx(out[row, col, f], abs=1e-6)
                assert a["activation"] == "relu" and a["activated"] == pytest.approx(a["value"], abs=1e-4)
                patch = volume[row : row + 5, col : col + 5, :].transpose(2, 0, 1)
                np.testing.assert_allclose(a["patch"], patch, atol=1e-6)
                np.testing.assert_allclose(a["kernel"], w.transpose(2, 0, 1), atol=0)
                np.testing.assert_allclose(a["products"], patch * w.transpose(2, 0, 1), atol=1e-6)
                assert sum(a["channel_sums"]) == pytest.approx(a["sum"], abs=1e-9)
            _, default = post_json(
                server, "/api/arithmetic", {"pixels": digit.tolist(), "layer": kernels.name, "filter": f}
            )
            assert (default["row"], default["col"]) == tuple(int(i) for i in strongest)


@slow
def test_pooling_arithmetic_is_the_window_maximum(server, cnn_model, mnist) -> None:
    from convcli.models.inspection import feature_maps

    digit = mnist.x_test[1]
    maps = {m.name: m.maps for m in feature_maps(cnn_model, digit)}
    for row, col in [(0, 0), (5, 7), (11, 11)]:
        status, a = post_json(
            server,
            "/api/arithmetic",
            {"pixels": digit.tolist(), "layer": "max_pooling2d", "filter": 3, "row": row, "col": col},
        )
        window = maps["conv2d"][2 * row : 2 * row + 2, 2 * col : 2 * col + 2, 3]
        assert status == 200 and a["op"] == "max" and a["size"] == [2, 2]
        np.testing.assert_allclose(a["window"], window, atol=1e-6)
        assert a["pooled"] == pytest.approx(float(window.max()), abs=1e-6)
        assert a["value"] == pytest.approx(float(maps["max_pooling2d"][row, col, 3]), abs=1e-6)


@slow
def test_same_padding_strides_and_average_pooling(tmp_path, rng) -> None:
    """Keras's padding rule (total // 2 before) at every pixel, checked against the layers' outputs."""
    from convcli.explain import Explainer
    from convcli.models.build import build_model

    spec = (
        "conv(3,5,strides=2,padding=same,activation=linear),conv(2,4,padding=same,activation=linear),"
        "avgpool(3,strides=2,padding=same),flatten,dense(10)"
    )
    path = tmp_path / "same.keras"
    build_model(spec, name="same").save(path)
    explainer = Explainer.from_file(path)
    pixels = rng.integers(0, 256, (28, 28)).tolist()
    outputs = {layer["name"]: np.array(layer["maps"]) for layer in explainer.predict(pixels=pixels)["layers"]}
    assert {k: v.shape for k, v in outputs.items()} == {
        "conv2d": (3, 14, 14),
        "conv2d_1": (2, 14, 14),
        "average_pooling2d": (2, 7, 7),
    }
    for name, maps in outputs.items():
        for row in range(maps.shape[1]):
            for col in range(maps.shape[2]):
                a = explainer.arithmetic(pixels=pixels, layer=name, filter=1, row=row, col=col)
                got = a["z"] if name.startswith("conv") else a["pooled"]
                assert got == pytest.approx(maps[1, row, col], abs=2e-4), (name, row, col)
    corner = explainer.arithmetic(pixels=pixels, layer="conv2d_1", filter=0, row=0, col=0)
    assert corner["padded"][0] == [True] * 4 and corner["padded"][1] == [True, False, False, False]
    # 14 → 7 with a 3-wide window and stride 2 pads 1 in total: 0 before, 1 after
    last = explainer.arithmetic(pixels=pixels, layer="average_pooling2d", filter=0, row=6, col=6)["window"]
    assert last[2] == [None] * 3 and None not in last[0][:2]


# --------------------------------------------------------------------------- other models


@slow
def test_softmax_model_shows_its_weight_templates(tmp_path_factory) -> None:
    from convcli.explain import Explainer

    path = trained_model(tmp_path_factory, "softmax")
    explainer = Explainer.from_file(path)
    kernel = explainer.model.layers[-1].get_weights()[0]
    templates = np.array(explainer.model_info()["templates"])
    assert templates.shape == (10, 28, 28)
    for c in range(10):
        np.testing.assert_allclose(templates[c], kernel[:, c].reshape(28, 28), atol=1e-5)
    answer = explainer.predict(pixels=np.zeros((28, 28)))
    assert answer["layers"] == [] and len(answer["probabilities"]) == 10
    with pytest.raises(ConvcliError, match="the model has: none"):
        explainer.arithmetic(pixels=np.zeros((28, 28)), layer="dense", filter=0)


@slow
def test_mlp_model_has_probabilities_only(tmp_path_factory, mnist) -> None:
    from convcli.explain import Explainer

    explainer = Explainer.from_file(trained_model(tmp_path_factory, "mlp-small"))
    assert explainer.model_info()["templates"] is None
    answer = explainer.predict(pixels=mnist.x_test[0])
    assert answer["layers"] == [] and sum(answer["probabilities"]) == pytest.approx(1.0)


@slow
@requires_fashion
def test_fashion_model_uses_its_class_names(tmp_path_factory, tmp_path) -> None:
    from convcli.datasets.idx import load_dataset
    from convcli.explain import Explainer, class_names_for

    path = trained_model(tmp_path_factory, "fashion")
    explainer = Explainer.from_file(path)
    assert explainer.class_names == FASHION_NAMES
    fashion = load_dataset("fashion-mnist")
    trouser = fashion.x_test[int(np.flatnonzero(fashion.y_test == 1)[0])]
    assert explainer.predict(pixels=trouser)["class_name"] == "Trouser"
    # No record, a record naming an unknown dataset, a damaged record: the digits 0–9.
    alone = tmp_path / "alone.keras"
    shutil.copy(path, alone)
    assert class_names_for(explainer.model, alone) == [str(i) for i in range(10)]
    for record in ('{"dataset": "cifar-1000"}', "{not json", "[1, 2]"):
        alone.with_suffix(".json").write_text(record)
        assert class_names_for(explainer.model, alone) == [str(i) for i in range(10)]


@slow
@pytest.mark.parametrize("channels", [1, 3])
def test_other_input_sizes_get_pictures_of_their_size(tmp_path, mnist, channels) -> None:
    """A model taking 32×32 gray or RGB pictures: photos are prepared, then resized to 32×32."""
    from convcli.explain import Explainer
    from convcli.models.build import build_model

    path = tmp_path / f"wide{channels}.keras"
    build_model("conv(2,3),flatten,dense(10)", name="wide", input_shape=(32, 32, channels)).save(path)
    explainer = Explainer.from_file(path)
    assert explainer.model_info()["input_shape"] == [32, 32, channels]
    answer = explainer.predict(image=png_bytes(mnist.x_test[0]))
    seen = np.array(answer["input"])  # the picture as the model takes it: H×W, or H×W×3 for RGB
    assert seen.shape == ((32, 32) if channels == 1 else (32, 32, 3)) and answer["layers"][0]["shape"] == [30, 30, 2]
    with pytest.raises(ConvcliError, match="shape 32×32, got 28×28"):
        explainer.predict(pixels=mnist.x_test[0])
    unit = explainer.arithmetic(pixels=answer["input"], layer="conv2d", filter=1, row=4, col=9)
    assert len(unit["patch"]) == channels  # RGB: the gray picture in every channel
    assert unit["z"] == pytest.approx(unit["sum"] + unit["bias"])
    last = seen[4:7, 9:12] if channels == 1 else seen[4:7, 9:12, -1]
    np.testing.assert_allclose(unit["patch"][-1], last / 255, atol=1e-6)


# --------------------------------------------------------------------------- bad requests


ZEROS = np.zeros((28, 28), int).tolist()
BAD_REQUESTS = [
    ("POST", "/api/predict", {"pixels": ZEROS[:27]}, 400, "shape 28×28, got 27×28"),
    ("POST", "/api/predict", {"pixels": [[0] * 28] * 27 + [[0] * 27]}, 400, "rows of equal length"),
    ("POST", "/api/predict", {"pixels": [["a"] * 28] * 28}, 400, "array of numbers"),
    ("POST", "/api/predict", {"pixels": [[300] * 28] * 28}, 400, "from 0 to 255"),
    ("POST", "/api/predict", {"image": "bm90IGFuIGltYWdl"}, 400, "not an image"),
    ("POST", "/api/predict", {"image": "%%%"}, 400, "base64"),
    ("POST", "/api/predict", {"image": b64(png_bytes(np.full((40, 40), 128)))}, 400, "no digit found"),
    ("POST", "/api/predict", {}, 400, "either pixels"),
    ("POST", "/api/predict", {"pixels": ZEROS, "layers": ["conv9"]}, 400, "no Conv2D or pooling layer named 'conv9'"),
    ("POST", "/api/predict", {"pixels": ZEROS, "path": "/etc/passwd"}, 400, "unknown field(s) path"),
    ("POST", "/api/predict", [1, 2], 400, "must be an object"),
    ("POST", "/api/arithmetic", {"pixels": ZEROS, "layer": "dense", "filter": 0}, 400, "the model has: conv2d, "),
    ("POST", "/api/arithmetic", {"pixels": ZEROS, "layer": "conv2d", "filter": 16}, 400, "from 0 to 15"),
    ("POST", "/api/arithmetic", {"pixels": ZEROS, "layer": "conv2d", "filter": 0, "row": 24, "col": 0}, 400, "outside"),
    ("POST", "/api/arithmetic", {"pixels": ZEROS, "layer": "conv2d", "filter": 0, "row": 1.5, "col": 0}, 400, "whole"),
    ("POST", "/api/arithmetic", {"pixels": ZEROS, "layer": "conv2d"}, 400, "needs 'filter'"),
    ("POST", "/api/nothing", {}, 404, "POST is for"),
    ("POST", "/", {}, 405, "POST is for"),
    ("GET", "/api/secrets", None, 404, "no API endpoint"),
]


@pytest.mark.parametrize(
    ("method", "path", "status", "allow", "message"),
    [
        ("GET", "/api/predict", 405, "POST", "use POST"),
        ("GET", "/api/arithmetic", 405, "POST", "use POST"),
        ("PUT", "/api/predict", 405, "POST", "PUT is not allowed on /api/predict: use POST"),
        ("DELETE", "/api/model", 405, "GET, HEAD", "DELETE is not allowed on /api/model: use GET, HEAD"),
        ("PATCH", "/", 405, "GET, HEAD", "use GET, HEAD"),
        ("POST", "/app.js", 405, "GET, HEAD", "POST is for"),
        ("PUT", "/nothing", 404, None, "no page or API endpoint /nothing"),
        ("DELETE", "/api/nothing", 404, None, "no page or API endpoint"),
        ("BREW", "/api/predict", 405, "POST", "BREW is not allowed"),
    ],
)
def test_wrong_methods_get_json_405_or_404(bare_server, method, path, status, allow, message) -> None:
    got, headers, answer = request(bare_server, method, path, b"{}", {"Content-Type": "application/json"})
    assert got == status and headers["Content-Type"] == "application/json"
    assert headers.get("Allow") == allow
    assert message in json.loads(answer)["error"]
    assert request(bare_server, "GET", "/api/model")[0] == 200  # still serving


def test_errors_http_server_answers_itself_are_json(bare_server) -> None:
    answer = raw_exchange(bare_server, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431") and b"Content-Type: application/json" in head
    assert "Line too long" in json.loads(body)["error"]


REFUSED_BY_HTTP_SERVER = [
    (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", 431, "Line too long",
     "línea de encabezado demasiado larga"),
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "Request-URI Too Long",
     "URI de la petición demasiado larga"),
    (b"A B C HTTP/1.1\r\n\r\n", 400, "Bad request syntax ('A B C HTTP/1.1')",
     "sintaxis de la petición no válida ('A B C HTTP/1.1')"),
    (b"GET / HTTP/1.x\r\n\r\n", None, "Bad request version ('HTTP/1.x')",
     "versión de la petición no válida ('HTTP/1.x')"),
    (b"GET / HTTP/9.9\r\n\r\n", None, "Invalid HTTP version (9.9)", "versión de HTTP no válida (9.9)"),
    (b"POST /\r\n\r\n", None, "Bad HTTP/0.9 request type ('POST')", "tipo de petición HTTP/0.9 no válido ('POST')"),
]  # fmt: skip
"""Requests ``http.server`` refuses before their headers are read: (bytes, status, its English, our
Spanish); status None: a request line without a version it reads is answered as HTTP/0.9 (the body
alone, no status line), as Python answers it."""


@pytest.mark.parametrize(("data", "status", "english", "spanish"), REFUSED_BY_HTTP_SERVER, ids=lambda v: str(v)[:24])
def test_http_servers_own_refusals_speak_the_process_language(
    bare_server, monkeypatch, data, status, english, spanish
) -> None:
    """A request refused before its Accept-Language is read gets its JSON error in the language of
    the ``convcli explain`` process: Python's own English as before, or Spanish (LANG=es_ES.UTF-8)."""
    import gettext

    from convcli import i18n

    def error() -> str:
        answer = raw_exchange(bare_server, data)
        if status is None:
            return json.loads(answer)["error"]
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status} ".encode()) and b"Content-Type: application/json" in head
        return json.loads(body)["error"]

    assert error() == english
    monkeypatch.setenv("LANGUAGE", "es")  # what i18n.setup() does for a Spanish process
    gettext.bindtextdomain(i18n.DOMAIN, i18n.locale_dir())
    monkeypatch.setattr(i18n._State, "catalog", gettext.translation(i18n.DOMAIN, i18n.locale_dir(), fallback=True))
    monkeypatch.setattr(i18n._State, "active", True)
    assert error() == spanish


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), BAD_REQUESTS)
def test_bad_requests_get_json_errors(bare_server, method, path, body, status, message) -> None:
    data = None if body is None else json.dumps(body)
    got, headers, answer = request(bare_server, method, path, data, {"Content-Type": "application/json"})
    assert got == status and headers["Content-Type"] == "application/json"
    assert message in json.loads(answer)["error"]
    assert request(bare_server, "GET", "/api/model")[0] == 200  # still serving


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"hello", {"Content-Type": "image/png"}, "not an image file"),
        (b"{bad json", {"Content-Type": "application/json"}, "not valid JSON"),
        (b"[" * 100_000, {"Content-Type": "application/json"}, "not valid JSON"),
        (b"pixels=1", {"Content-Type": "application/x-www-form-urlencoded"}, "unsupported Content-Type"),
    ],
)
def test_bad_bodies_get_400(bare_server, body, headers, message) -> None:
    status, _, answer = request(bare_server, "POST", "/api/predict", body, headers)
    assert status == 400 and message in json.loads(answer)["error"]


def raw_exchange(server, data: bytes) -> bytes:
    """Send raw bytes, return everything the server answers (it closes the connection)."""
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_oversized_and_unsized_bodies_are_refused_unread(bare_server) -> None:
    from convcli.explain.server import MAX_BODY

    head = (
        "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
        f"Content-Length: {MAX_BODY + 1}\r\n\r\n"
    )
    answer = raw_exchange(bare_server, head.encode() + b"x" * 1000)  # the rest never comes: no waiting for it
    assert answer.startswith(b"HTTP/1.1 413") and b"byte limit" in answer
    answer = raw_exchange(bare_server, b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 411")
    assert request(bare_server, "GET", "/api/model")[0] == 200


def test_a_20_mb_post_from_urllib_reads_the_json_413(bare_server) -> None:
    """urllib sends the whole body before reading: the server must not close on it (broken pipe)."""
    import urllib.error
    import urllib.request

    host, port = bare_server.server_address[:2]
    body = b"\x89PNG" + bytes(20 * 1024 * 1024)
    req = urllib.request.Request(f"http://{host}:{port}/api/predict", data=body, headers={"Content-Type": "image/png"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=30)
    assert caught.value.code == 413
    assert "byte limit" in json.loads(caught.value.read())["error"]
    assert request(bare_server, "GET", "/api/model")[0] == 200


def test_expect_100_continue_is_refused_before_the_body(bare_server) -> None:
    from convcli.explain.server import MAX_BODY

    head = (
        "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
        f"Content-Length: {MAX_BODY + 1}\r\nExpect: 100-continue\r\n\r\n"
    )
    start = time.monotonic()
    answer = raw_exchange(bare_server, head.encode())  # no body at all: the answer comes at once
    assert answer.startswith(b"HTTP/1.1 413") and b"100 Continue" not in answer
    assert time.monotonic() - start < 5


def test_body_limit_is_a_setting(bare_server) -> None:
    from convcli.explain.server import ExplainServer

    small = ExplainServer(bare_server.explainer, max_body=1000)
    thread = threading.Thread(target=small.serve_forever, daemon=True)
    thread.start()
    try:
        status, _, answer = request(
            small, "POST", "/api/predict", json.dumps({"pixels": ZEROS}), {"Content-Type": "application/json"}
        )
        assert status == 413 and "1,000-byte limit" in json.loads(answer)["error"]
    finally:
        small.shutdown()
        small.server_close()


# --------------------------------------------------------------------------- static files only


def test_the_page_and_its_files_are_the_packaged_ones(bare_server) -> None:
    static = resources.files("convcli.explain") / "static"
    for path, name, kind in [
        ("/", "index.html", "text/html"),
        ("/index.html", "index.html", "text/html"),
        ("/app.js", "app.js", "text/javascript"),
        ("/style.css", "style.css", "text/css"),
        ("/i18n.js", "i18n.js", "text/javascript"),
        ("/i18n-es.js", "i18n-es.js", "text/javascript"),
    ]:
        status, headers, body = request(bare_server, "GET", path)
        assert status == 200 and headers["Content-Type"].startswith(kind)
        assert body == (static / name).read_bytes()
        assert "default-src 'self'" in headers["Content-Security-Policy"]
    page = request(bare_server, "GET", "/")[2].decode()
    assert '<canvas id="draw"' in page and 'id="prediction" data-class=""' in page
    assert "http://" not in page and "https://" not in page  # no CDN: works offline


TRAVERSALS = [
    "/../pyproject.toml",
    "/../../../../../../etc/passwd",
    "/..%2f..%2fpyproject.toml",
    "/%2e%2e/%2e%2e/src/convcli/explain/bare_server.py",
    "/static/../../../../etc/passwd",
    "/app.js/../../../../etc/passwd",
    "//etc/passwd",
    "/static/app.js",
    "/explain/bare_server.py",
    "/C:/Windows/win.ini",
    "http://127.0.0.1/../../etc/passwd",
    "/index.html%00.png",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_path_reaches_a_file(bare_server, path: str) -> None:
    answer = raw_exchange(bare_server, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 404")
    assert b"root:" not in answer and b"[project]" not in answer and b"import" not in answer


def test_host_header_must_name_this_machine(bare_server) -> None:
    port = bare_server.server_address[1]
    assert request(bare_server, "GET", "/api/model", headers={"Host": "evil.example"})[0] == 403
    assert request(bare_server, "GET", "/", headers={"Host": f"evil.example:{port}"})[0] == 403
    assert request(bare_server, "GET", "/api/model", headers={"Host": f"localhost:{port}"})[0] == 200


def test_loopback_and_the_exposure_warning() -> None:
    from convcli.explain.server import exposure_warning, is_loopback

    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"):
        assert is_loopback(host) and exposure_warning(host) is None
    for host in ("0.0.0.0", "::", "192.168.1.20", "example.org"):
        assert not is_loopback(host) and "anyone who can reach this machine" in (exposure_warning(host) or "")


def test_open_server_errors_name_the_problem(bare_path, tmp_path) -> None:
    from convcli.explain.server import open_server

    with pytest.raises(ConvcliError, match="no such model file"):
        open_server(tmp_path / "missing.keras")
    with pytest.raises(ConvcliError, match="port must be from 0 to 65535"):
        open_server(bare_path, port=70000)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(ConvcliError, match=f"cannot listen on 127.0.0.1:{busy.getsockname()[1]}"):
            open_server(bare_path, port=busy.getsockname()[1])


# --------------------------------------------------------------------------- speed


@slow
def test_predict_latency_for_the_cnn_preset(server) -> None:
    """The page's own request (a drawn 280×280 PNG) answered in well under 150 ms (median)."""
    import http.client

    body = json.dumps({"image": b64(png_bytes(drawn_zero()))})
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
    times = []
    for _ in range(30):
        start = time.perf_counter()
        conn.request("POST", "/api/predict", body, {"Content-Type": "application/json"})
        answer = json.loads(conn.getresponse().read())
        times.append(time.perf_counter() - start)
    conn.close()
    median = statistics.median(times) * 1000
    print(f"POST /api/predict median {median:.1f} ms, max {max(times) * 1000:.1f} ms over {len(times)}")
    assert answer["prediction"] == 0  # the drawn ellipse is a zero
    assert median <= 150


# --------------------------------------------------------------------------- the command


def test_explain_help_does_not_import_tensorflow() -> None:
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom convcli.cli import app\n"
        "r = CliRunner().invoke(app, ['explain', '--help'])\nprint(r.output)\n"
        "assert r.exit_code == 0\nassert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "MODEL.keras" in result.stdout and "--open" in result.stdout and "--host" in result.stdout


def test_cli_serves_opens_the_browser_and_stops_on_ctrl_c(bare_path, tmp_path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser), "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "convcli", "explain", str(bare_path), "--open"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background shell may ignore it
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        host, port = url[len("http://") : -1].split(":")
        import http.client

        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("GET", "/")
        assert conn.getresponse().status == 200
        conn.close()
        deadline = time.monotonic() + 20
        while not (opened.exists() and opened.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert opened.read_text().strip() == url
        time.sleep(0.5)  # idle after the page load, as a person would be
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        stopped = time.monotonic() - interrupted
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert "Error: interrupted" in stderr and "Traceback" not in stderr
    assert stopped < 0.5, f"took {stopped:.2f} s to stop after Ctrl-C"
    with socket.socket() as again:  # nothing left behind: the port is free
        again.bind((host, int(port)))


def test_errors_in_the_language_the_request_accepts(bare_server) -> None:
    """The page sends its language as Accept-Language: the server's own messages and the
    library's (an unreadable image) come back in it, per request, on one kept-alive connection;
    no header or another language: English, as before. The JSON shape stays {"error": …}."""
    import http.client

    host, port = bare_server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    asked = [
        ("es-ES,es;q=0.9,en;q=0.8", "POST", b"hello", "image/png", "imagen subida: no es un archivo de imagen"),
        ("en-US,en;q=0.9,es;q=0.8", "POST", b"hello", "image/png", "uploaded image: not an image file"),
        ("es", "POST", b'{"pixels": [[1, 2]]}', "application/json", "pixels debe tener forma 28×28, se recibió 1×2"),
        ("fr-FR,es;q=0.5", "PUT", b"{}", "application/json", "PUT no está permitido en /api/predict: usar POST"),
        ("fr-FR", "POST", b"{bad", "application/json", "the body is not valid JSON"),
        (None, "POST", b"{bad", "application/json", "the body is not valid JSON"),
        ("es-MX", "POST", b"{bad", "application/json", "el cuerpo no es JSON válido"),
    ]
    try:
        for language, method, body, kind, message in asked:
            headers = {"Content-Type": kind} | ({"Accept-Language": language} if language else {})
            conn.request(method, "/api/predict", body=body, headers=headers)
            response = conn.getresponse()
            answer = json.loads(response.read())
            assert response.status in (400, 405) and list(answer) == ["error"]
            assert answer["error"].startswith(message), (language, answer)
            if response.getheader("Connection") == "close":
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
    finally:
        conn.close()
