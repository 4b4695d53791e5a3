"""``convcli explain MODEL --export-site DIR``: the page as a static site, the model running in the browser.

The export's own checks need no browser. The rest serves DIR with ``python -m http.server`` (no
convcli process) and drives Debian's chromium through Playwright, as test_explain_browser does:
the site's probabilities and feature maps must equal Keras's within 1e-5 for a CNN, an MLP, a
softmax model, a folder-trained colour model and a model of every other layer the engine runs;
drawn digits must be recognised, and a tile's pixel worked out as NumPy works it out.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import requires_mnist, run_convcli
from digit_photos import Look, mnist_glyph, photograph
from explain_support import png_bytes, trained_model
from folder_sets import colour_folders, colour_picture
from test_explain_browser import (
    IDLE,
    ONE,
    PHONE,
    ZERO,
    Page,
    check_panel,
    click_map_pixel,
)

from convcli.errors import ConvcliError

pytestmark = [requires_mnist]
slow = pytest.mark.slow
SITE_FILES = {
    "index.html",
    "app.js",
    "style.css",
    "i18n.js",
    "i18n-es.js",
    "prepare.js",
    "engine.js",
    "model.json",
    "weights.bin",
}
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def mnist():
    from convcli.datasets.idx import load_dataset

    return load_dataset("mnist")


def export(model: Path, out: Path, **options) -> Path:
    from convcli.explain.site import export_site

    return export_site(model, out, **options).path


class StaticServer:
    """``python -m http.server`` serving a folder on a free loopback port (no convcli in it)."""

    def __init__(self, folder: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "-d", str(folder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.process.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 43117 (http://…/) ..."
        match = re.search(r"port (\d+)", line)
        assert match, line
        self.url = f"http://127.0.0.1:{match.group(1)}/"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@contextmanager
def served(folder: Path):
    server = StaticServer(folder)
    try:
        yield server
    finally:
        server.close()


# --------------------------------------------------------------------------- the export (no browser)


def test_export_writes_the_page_the_model_and_its_weights(tmp_path_factory, tmp_path) -> None:
    from convcli.explain import Explainer

    model = trained_model(tmp_path_factory, "cnn-untrained")
    out = export(model, tmp_path / "site")
    assert {p.name for p in out.iterdir()} == SITE_FILES
    page = (out / "index.html").read_text()
    assert page.index('src="prepare.js"') < page.index('src="engine.js"') < page.index('src="app.js"')
    assert "Content-Security-Policy" in page and "runs in this browser" in page and "Served by" not in page
    assert '<p data-i18n id="footer-static">' in page  # shown, and translated like the rest of the page
    manifest = json.loads((out / "model.json").read_text())
    explainer = Explainer.from_file(model)
    assert manifest["info"] == json.loads(json.dumps(explainer.model_info()))  # what GET /api/model answers
    weights = np.frombuffer((out / "weights.bin").read_bytes(), dtype="<f4")
    assert weights.size == manifest["weights"]["floats"] == explainer.model.count_params()
    conv = next(layer for layer in manifest["layers"] if layer["name"] == "conv2d_1")
    start, length = conv["weights"]
    kernel = explainer.model.get_layer("conv2d_1").get_weights()[0]
    np.testing.assert_array_equal(weights[start : start + length].reshape(kernel.shape), kernel)
    assert [layer["type"] for layer in manifest["layers"]] == [
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "BatchNormalization",
        "Flatten",
        "Dense",
        "Dense",
    ]


def test_a_non_empty_folder_is_refused_unless_forced(tmp_path_factory, tmp_path, cli) -> None:
    model = trained_model(tmp_path_factory, "cnn-untrained")
    out = tmp_path / "site"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    with pytest.raises(ConvcliError, match="not empty"):
        export(model, out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]  # nothing written
    result = cli("explain", model, "--export-site", out)
    assert result.exit_code == 2 and "--export-site" in result.stderr and "--force" in result.stderr
    result = cli("explain", model, "--export-site", out, "--force")
    assert result.exit_code == 0 and result.stdout.strip() == str(out)
    assert {p.name for p in out.iterdir()} == SITE_FILES  # replaced whole
    assert "python -m http.server" in result.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    with pytest.raises(ConvcliError, match="is a file"):
        export(model, out / "index.html")
    with pytest.raises(ConvcliError, match="does not exist"):
        export(model, tmp_path / "no" / "site")
    assert cli("explain", model, "--force").exit_code == 2


def test_force_never_deletes_the_model_nor_the_current_folder(tmp_path_factory, tmp_path, cli, monkeypatch) -> None:
    """``--force`` replaces the folder whole, so a folder holding the model being exported, or the
    current folder (``.``, ``..``), is refused before any work, and nothing is left behind.
    Before: the model inside the folder was deleted (exit 0); ``.`` failed half-way and left an
    empty ``..old.*`` folder."""
    site = tmp_path / "site"
    site.mkdir()
    model = site / "model.keras"
    model.write_bytes(trained_model(tmp_path_factory, "cnn-untrained").read_bytes())
    result = cli("explain", model, "--export-site", site, "--force")
    assert result.exit_code == 2 and "--export-site" in result.stderr and "holds the model" in result.stderr
    assert [p.name for p in site.iterdir()] == ["model.keras"]
    monkeypatch.chdir(site)
    for target in (".", ".."):
        result = cli("explain", "model.keras", "--export-site", target, "--force")
        assert result.exit_code == 2 and "current folder" in result.stderr, result.stderr
    assert [p.name for p in site.iterdir()] == ["model.keras"] and sorted(p.name for p in tmp_path.iterdir()) == [
        "site"
    ]


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ("LayerNormalization", r"layer 'layer_normalization' \(LayerNormalization\) cannot run in the static site"),
        ("softsign", r"layer 'dense' \(Dense\) uses activation 'softsign'"),
    ],
)
def test_a_layer_the_engine_lacks_is_named(tmp_path, layer, message) -> None:
    from convcli.backend import keras

    k = keras()
    extra = [k.layers.LayerNormalization(name="layer_normalization")] if layer == "LayerNormalization" else []
    activation = "softsign" if layer == "softsign" else "softmax"
    model = k.Sequential(
        [
            k.Input((28, 28, 1)),
            k.layers.Conv2D(2, 3),
            *extra,
            k.layers.Flatten(),
            k.layers.Dense(10, activation, name="dense"),
        ]
    )
    model.save(tmp_path / "odd.keras")
    with pytest.raises(ConvcliError, match=message):
        export(tmp_path / "odd.keras", tmp_path / "site")
    assert not (tmp_path / "site").exists()


# --------------------------------------------------------------------------- models for the browser


def zoo_model(tmp_path: Path) -> Path:
    """Every other layer the engine runs: strides, same and numeric padding, tanh, elu, gelu,
    batch normalisation with its own statistics, average and global pooling, dropout."""
    from convcli.backend import seed_everything
    from convcli.models.build import build_model

    seed_everything(1)
    spec = (
        "conv(3,5,strides=2,padding=same,activation=tanh),batchnorm,avgpool(3,strides=2,padding=same),"
        "conv(4,3,padding=1,activation=elu),dropout(0.3),conv(5,2,activation=gelu),pool(2,padding=same),"
        "gap,dense(16,activation=swish),dense(10)"
    )
    model = build_model(spec, name="zoo")
    rng = np.random.default_rng(3)
    norm = model.get_layer("batch_normalization")
    norm.set_weights([rng.uniform(0.5, 2, 3), rng.normal(0, 1, 3), rng.normal(0, 0.5, 3), rng.uniform(0.2, 3, 3)])
    path = tmp_path / "zoo.keras"
    model.save(path)
    return path


def colour_model(tmp_path: Path) -> Path:
    folder = colour_folders(tmp_path / "colours", 10)
    out = tmp_path / "colours.keras"
    layers = "conv(4,3),pool(2),flatten,dense(3)"
    result = run_convcli("train", "--layers", layers, "--data", folder, "--epochs", "1", "-o", out, "--seed", "0")
    assert result.returncode == 0, result.stderr.decode()
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("site-models")
    return {
        "cnn": trained_model(tmp_path_factory, "cnn"),
        "mlp": trained_model(tmp_path_factory, "mlp-untrained"),
        "softmax": trained_model(tmp_path_factory, "softmax"),
        "colours": colour_model(base),
        "zoo": zoo_model(base),
    }


def samples(name: str, mnist, count: int) -> list[np.ndarray]:
    if name == "colours":
        rng = np.random.default_rng(7)
        return [colour_picture(rng, colour) for colour in ("red", "green", "blue") * (count // 3 + 1)][:count]
    return [mnist.x_test[i] for i in range(count)]


def keras_answer(explainer, grid: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Keras's probabilities and every map layer's maps (N×H×W, not rounded) for one grid."""
    probabilities = np.array(explainer.predict(pixels=grid, layers=[])["probabilities"])
    outputs = explainer.run(np.asarray(grid, np.float64))
    maps = {name: outputs[slot].transpose(2, 0, 1) for name, (slot, _) in explainer._slots.items()}
    return probabilities, maps


def differences(answer: dict, probabilities: np.ndarray, maps: dict[str, np.ndarray]) -> tuple[float, float]:
    """The largest differences from Keras: of the probabilities, and of the maps (which the API
    rounds to 5 decimals, as the server does: up to 5e-6 of it is that rounding)."""
    assert [layer["name"] for layer in answer["layers"]] == list(maps)
    worst = 0.0
    for layer in answer["layers"]:
        reference = maps[layer["name"]]
        worst = max(worst, float(np.max(np.abs(np.array(layer["maps"]) - reference))))
        assert layer["min"] == pytest.approx(float(reference.min()), abs=TOLERANCE)
        assert layer["max"] == pytest.approx(float(reference.max()), abs=TOLERANCE)
    return float(np.max(np.abs(np.array(answer["probabilities"]) - probabilities))), worst


PREDICT = "(body) => window.convcliStatic.api('/api/predict', body)"
ARITHMETIC = "(body) => window.convcliStatic.api('/api/arithmetic', body)"


@slow
@pytest.mark.parametrize("name", ["cnn", "mlp", "softmax", "colours", "zoo"])
def test_the_site_computes_what_keras_computes(browser, models, mnist, tmp_path, name) -> None:
    """Probabilities and maps within 1e-5 of Keras's on test images, the first uploaded through the
    page's own button (a PNG of the model's size goes in unchanged), the rest sent as pixels."""
    from convcli.explain import Explainer

    explainer = Explainer.from_file(models[name])
    pictures = samples(name, mnist, 12)
    with served(export(models[name], tmp_path / "site")) as server:
        page = Page(browser, server, PHONE)
        upload = tmp_path / "first.png"
        upload.write_bytes(png_bytes(pictures[0]))
        page.page.set_input_files("#upload", str(upload))
        page.page.wait_for_function(f"window.convcliExplain.last && {IDLE}")
        answers = [page.state("last")]
        as_server = explainer.prepare(image=upload.read_bytes())  # an MNIST digit as it is; a colour
        assert answers[0]["input"] == as_server.tolist()  # picture inverted when on the other paper
        if name != "colours":
            assert answers[0]["input"] == pictures[0].tolist()
        pictures[0] = as_server
        for picture in pictures[1:]:
            answers.append(page.page.evaluate(PREDICT, {"pixels": picture.tolist()}))
        if name == "colours":  # a larger photo: Pillow's bilinear resize to 20×30, ported bit for bit
            big = colour_picture(np.random.default_rng(5), "green", (47, 71))
            got = page.page.evaluate(PREDICT, {"image": base64.b64encode(png_bytes(big)).decode()})["input"]
            assert got == explainer.prepare(image=png_bytes(big)).tolist()
        found = np.array([differences(a, *keras_answer(explainer, p)) for a, p in zip(answers, pictures)])
        probabilities, maps = found.max(axis=0)
        print(f"{name}: largest difference from Keras over {len(pictures)} pictures: ", end="")
        print(f"probabilities {probabilities:.1e}, maps {maps:.1e}")
        assert probabilities <= TOLERANCE and maps <= TOLERANCE
        for layer in explainer.map_layers:  # one unit per map layer, against the server's NumPy arithmetic
            body = {"pixels": pictures[1].tolist(), "layer": layer.name, "filter": 1, "row": 2, "col": 1}
            got = page.page.evaluate(ARITHMETIC, body)
            want = explainer.arithmetic(**body)
            assert set(got) == set(want)
            for key in ("sum", "bias", "z", "value", "pooled", "activated"):
                if want.get(key) is not None:
                    assert got[key] == pytest.approx(want[key], abs=TOLERANCE), (layer.name, key)
            for key in ("patch", "products", "kernel", "window"):
                if key in want:
                    np.testing.assert_allclose(np.array(got[key], float), np.array(want[key], float), atol=TOLERANCE)
        page.close()


# --------------------------------------------------------------------------- a teacher's site, on a phone


def site_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


@slow
def test_a_published_site_recognises_drawn_digits_on_a_phone(browser, models, tmp_path) -> None:
    from convcli.explain import Explainer

    out = export(models["cnn"], tmp_path / "site")
    size = site_bytes(out)
    print(f"site for the cnn preset: {size / 1e6:.3f} MB ({(out / 'weights.bin').stat().st_size / 1e6:.3f} MB weights)")
    assert size <= 5_000_000
    explainer = Explainer.from_file(models["cnn"])
    with served(out) as server:
        page = Page(browser, server, PHONE)  # waits for the model: the probability bars are built
        page.stroke(ONE)
        assert page.prediction() == "1"
        loaded = page.page.evaluate("window.convcliStatic.loadedMs")
        print(f"model ready {loaded:.0f} ms after navigation; first prediction {page.state('timings')[0]:.0f} ms")
        compare_preparation(page, explainer, "1")
        page.page.click("#clear")
        page.stroke(ZERO)
        assert page.prediction() == "0"
        compare_preparation(page, explainer, "0")
        assert page.page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
        page.shot("site-phone-0.png")
        check_arithmetic(page, explainer)
        page.page.context.set_offline(True)  # loaded once, it needs no network
        page.page.click("#clear")
        page.stroke(ONE)
        assert page.prediction() == "1"
        page.page.context.set_offline(False)
        page.close()


def compare_preparation(page: Page, explainer, digit: str) -> None:
    """The drawing as the browser prepared it against ``predict``'s preparation of the same canvas."""
    png = page.page.evaluate("document.getElementById('draw').toDataURL('image/png').split(',')[1]")
    python = explainer.predict(image=base64.b64decode(png))
    difference = np.abs(np.array(page.state("last.input"), float) - np.array(python["input"], float))
    print(f"drawn {digit}, browser vs Python preparation: max {difference.max():.0f}, mean {difference.mean():.3f}")
    assert difference.max() <= 2 and str(python["prediction"]) == page.prediction()


def check_arithmetic(page: Page, explainer) -> None:
    """Tap a conv2d tile and a pixel: the patch ⊙ kernel + bias the page shows is NumPy's, on
    the layer's input as Keras computes it, and its value the map's."""
    maps = page.state("last.layers")[0]["maps"]
    f = max(range(len(maps)), key=lambda i: sum(v > 0 for line in maps[i] for v in line))
    page.page.locator(f".tile[data-layer='conv2d'][data-filter='{f}']").tap()
    page.settle()
    positive = sorted((v, r, c) for r, line in enumerate(maps[f]) for c, v in enumerate(line) if v > 0)
    _, row, col = positive[len(positive) // 2]
    click_map_pixel(page, row, col)
    value = check_panel(page, "conv2d", f, row, col)
    answer = page.state("unitAnswer")
    grid = np.array(page.state("last.input"), np.float64)
    kernel, bias = explainer.model.get_layer("conv2d").get_weights()
    patch = np.float32(grid[row : row + 5, col : col + 5]) / np.float32(255)
    products = patch * kernel[:, :, 0, f].astype(np.float64)
    np.testing.assert_allclose(answer["patch"][0], patch, atol=1e-7)
    np.testing.assert_allclose(answer["products"][0], products, atol=1e-7)
    assert answer["sum"] == pytest.approx(products.sum(), abs=1e-6)
    assert answer["z"] == pytest.approx(products.sum() + bias[f], abs=1e-6)
    assert max(answer["z"], 0) == pytest.approx(value, abs=1e-5)
    arith = {k: float(page.page.get_attribute("#arith", f"data-{k}")) for k in ("sum", "bias", "z", "value")}
    assert arith["sum"] + arith["bias"] == pytest.approx(value, abs=1e-4)
    assert "T = (N + 2P − K)/S + 1" in page.page.inner_text("#layers")
    page.shot("site-phone-arithmetic.png")


@slow
def test_first_prediction_on_a_slow_phone_and_a_bad_upload(browser, models, tmp_path) -> None:
    """Chromium's CPU slowed 4× (a mid-range phone, as Lighthouse assumes): the time from opening
    the page to the model ready and to the first prediction. Then a file that is not a picture."""
    with served(export(models["cnn"], tmp_path / "site")) as server:
        page = Page(browser, server, PHONE)
        page.page.context.new_cdp_session(page.page).send("Emulation.setCPUThrottlingRate", {"rate": 4})
        page.page.reload()
        page.page.wait_for_selector("#probs li")
        page.stroke(ZERO)
        assert page.prediction() == "0"
        timings = page.state("timings")
        loaded = page.page.evaluate("window.convcliStatic.loadedMs")
        print(f"CPU 4× slower: model ready {loaded:.0f} ms after navigation; first prediction {timings[0]:.0f} ms, ")
        print(f"median update {sorted(timings)[len(timings) // 2]:.0f} ms over {len(timings)}")
        assert loaded < 10_000 and timings[0] < 3_000
        notes = tmp_path / "notes.txt"
        notes.write_text("not a picture\n")
        page.page.set_input_files("#upload", str(notes))
        page.page.wait_for_function("document.getElementById('status').textContent.includes('not an image')")
        page.settle()
        assert page.prediction() == ""
        page.page.click("#clear")
        page.stroke(ONE)
        assert page.prediction() == "1"
        page.close()


@slow
def test_photos_are_prepared_nearly_as_predict_prepares_them(browser, models, mnist, tmp_path) -> None:
    """Photos of MNIST test digits on paper (tinted, lit unevenly, ruled, noisy, tilted, JPEG'd),
    as PNG: the browser's preparation (no ruled-line erasing, scikit-image's small copy of the
    paper approximated) against Python's."""
    from convcli.explain import Explainer

    explainer = Explainer.from_file(models["cnn"])
    rng = np.random.default_rng(11)
    photos, labels = [], []
    for _i in range(40):
        k = int(rng.integers(len(mnist.x_test)))
        photos.append(photograph(mnist_glyph(mnist.x_test[k], int(rng.integers(28, 110))), Look.random(rng), rng))
        labels.append(int(mnist.y_test[k]))
    python = []
    for photo in photos:
        try:
            python.append(explainer.predict(image=png_bytes(photo), layers=[]))
        except ConvcliError:
            python.append(None)
    with served(export(models["cnn"], tmp_path / "site")) as server:
        page = Page(browser, server, PHONE)
        script = "(b) => window.convcliStatic.api('/api/predict', {image: b, layers: []}).catch((e) => null)"
        browser_answers = [page.page.evaluate(script, base64.b64encode(png_bytes(p)).decode()) for p in photos]
        page.close()
    both = [(b, p) for b, p in zip(browser_answers, python) if b is not None and p is not None]
    same = sum(b["prediction"] == p["prediction"] for b, p in both)
    pixels = np.concatenate([np.abs(np.subtract(b["input"], p["input"])).ravel() for b, p in both])
    right = [
        sum(a is not None and a["prediction"] == y for a, y in zip(answers, labels))
        for answers in (browser_answers, python)
    ]
    print(
        f"{len(photos)} photos: read by the browser {sum(b is not None for b in browser_answers)}, by Python "
        f"{sum(p is not None for p in python)}; right: browser {right[0]}, Python {right[1]}; same prediction "
        f"{same} of {len(both)}; pixel difference mean {pixels.mean():.3f}, max {pixels.max():.0f}, "
        f"exact {np.mean(pixels == 0):.2%}"
    )
    assert len(both) == len(photos) and right[0] >= right[1] - 1 and same >= 0.95 * len(both)


@slow
def test_garment_photos_are_framed_in_the_browser_as_predict_frames_them(browser, tmp_path) -> None:
    """A Fashion-MNIST model's site frames a product photo (trimmed, fit, centred) in JavaScript
    bit for bit as Python does: small on a white square, on a wide RGB canvas, with transparency
    around it, and a picture already framed (resized whole)."""
    from test_framing import garment, product_photo, softmax_fashion_model

    from convcli.explain import Explainer

    model = tmp_path / "fashion.keras"
    softmax_fashion_model(model)
    explainer = Explainer.from_file(model)
    assert explainer.preparation == "frame" and explainer.paper == "dark"
    original = garment()
    square = np.asarray(product_photo(original, (400, 400), (30, 200)))
    wide = np.stack([np.asarray(product_photo(original, (300, 420), (10, 60), scale=3))] * 3, axis=2)
    wide[..., 2] = np.maximum(wide[..., 2].astype(int) - 30, 0)  # a bluish-white background
    clear = np.zeros((90, 120, 4), np.uint8)
    clear[20:76, 30:70, 3] = 255  # black ink where opaque, transparent around: on white paper
    photos = [square, wide, clear, original, np.asarray(product_photo(original, (140, 140), (0, 0)))]
    with served(export(model, tmp_path / "site")) as server:
        page = Page(browser, server, PHONE)
        script = "(b) => window.convcliStatic.api('/api/predict', {image: b, layers: []})"
        answers = [page.page.evaluate(script, base64.b64encode(png_bytes(p)).decode()) for p in photos]
        page.close()
    for photo, answer in zip(photos, answers):
        expected = explainer.prepare(image=png_bytes(photo))
        assert answer["input"] == expected.tolist()
    seen = np.asarray(answers[0]["input"], float).reshape(28, 28)
    assert np.abs(seen - original).mean() < 10  # the garment back in its frame


@slow
def test_a_published_site_speaks_spanish_to_a_spanish_browser(browser, models, tmp_path) -> None:
    """The site carries the page's catalog: an es-ES phone reads the lecture's Spanish (the site's
    own footer too) and still gets its digit recognised; the switch gives English back."""
    with served(export(models["cnn"], tmp_path / "site")) as server:
        page = Page(browser, server, PHONE, locale="es-ES")
        page.stroke(ZERO)
        assert page.prediction() == "0"
        footer = page.page.inner_text("footer")
        said = "Una copia estática de convcli explain: el modelo corre en este navegador, y nada de lo que "
        said += "dibuje sale de él."
        assert footer == said
        assert (
            page.page.inner_text("#h-input") != "Your picture"
            and page.page.evaluate("document.documentElement.lang") == "es"
        )
        page.page.click("#lang-switch button[data-lang=en]")
        assert page.page.inner_text("footer").startswith("A static copy of convcli explain")
        page.close()


@slow
def test_a_site_without_its_model_says_so_in_the_readers_language(browser, models, tmp_path) -> None:
    """A half-copied site (no model.json): the hosting web server's 404 is shown in the reader's
    language, its status text as that server sent it (Python's http.server: "File not found")."""
    site = export(models["cnn"], tmp_path / "site")
    (site / "model.json").unlink()
    said = {
        "es-ES": "No se pudo cargar el modelo: model.json: no se pudo leer (404 File not found)",
        "en-US": "Could not load the model: model.json: 404 File not found",
    }
    with served(site) as server:
        for locale, message in said.items():
            page = browser.new_page(locale=locale, bypass_csp=True)
            page.goto(server.url)
            page.wait_for_function("document.getElementById('status').textContent.includes('model.json')")
            assert page.inner_text("#status") == message
            page.close()
