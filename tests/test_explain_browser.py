"""The explain page in a real browser: Debian's chromium driven by Playwright (no browser download).

Draws a "1" and a "0" with mouse events, uploads an MNIST digit, clicks a feature-map tile and
a pixel and checks the arithmetic panel against the map. Screenshots go to tests/artifacts/
(or $CONVCLI_TEST_ARTIFACTS). Skipped only outside CI when chromium or playwright is missing;
in CI (`.ci/run` sets CONVCLI_CI and installs both) a missing browser fails.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pytest
from conftest import ROOT, requires_mnist
from explain_support import png_bytes, post_json, running_server, trained_model

pytestmark = [pytest.mark.slow, requires_mnist]
ARTIFACTS = Path(os.environ.get("CONVCLI_TEST_ARTIFACTS") or ROOT / "tests" / "artifacts")
IDLE = "document.body.dataset.busy === 'false'"


@pytest.fixture(scope="module")
def cnn_server(tmp_path_factory):
    with running_server(trained_model(tmp_path_factory, "cnn")) as server:
        yield server


@pytest.fixture(scope="module")
def mnist():
    from convcli.datasets.idx import load_dataset

    return load_dataset("mnist")


class Page:
    """One browser tab on the explain page, recording console errors and every URL it asks for."""

    def __init__(self, browser, server, viewport: tuple[int, int] = (1280, 1000), locale: str = "en-US") -> None:
        # bypass_csp: Playwright's wait_for_function evaluates strings, which the page's CSP forbids;
        # locale: the browser's languages (navigator.languages, Accept-Language), never the machine's
        size = {"width": viewport[0], "height": viewport[1]}
        self.page = browser.new_page(viewport=size, bypass_csp=True, has_touch=viewport[0] < 500, locale=locale)
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("request", lambda r: self.urls.append(r.url))
        self.url = server.url
        self.page.goto(self.url)
        self.page.wait_for_selector("#probs li")

    def stroke(self, points: list[tuple[float, float]]) -> None:
        """Press, move through ``points`` (canvas pixels), release."""
        box = self.page.locator("#draw").bounding_box()
        self.page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
        self.page.mouse.down()
        for x, y in points[1:]:
            self.page.mouse.move(box["x"] + x, box["y"] + y)
        self.page.mouse.up()
        self.settle()

    def settle(self) -> None:
        self.page.wait_for_function(IDLE)

    def prediction(self) -> str | None:
        return self.page.get_attribute("#prediction", "data-class")

    def state(self, expression: str):
        return self.page.evaluate(f"window.convcliExplain.{expression}")

    def shot(self, name: str, *, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self, expected_errors: int = 0) -> None:
        assert all(url.startswith(self.url) or url.startswith("data:") for url in self.urls), self.urls  # offline
        assert len(self.errors) == expected_errors, self.errors
        self.page.close()


ONE = [(140, 45 + 9 * i) for i in range(21)]
ZERO = [(140 + 65 * math.sin(2 * math.pi * t / 48), 140 - 95 * math.cos(2 * math.pi * t / 48)) for t in range(50)]


def test_draw_a_one_then_a_zero(browser, cnn_server) -> None:
    page = Page(browser, cnn_server)
    page.stroke(ONE)
    assert page.prediction() == "1"
    page.shot("explain-drawn-1.png")
    # The page sent its own canvas, prepared like `predict`: the API answers the same for it.
    png = page.page.evaluate("document.getElementById('draw').toDataURL('image/png').split(',')[1]")
    status, answer = post_json(cnn_server, "/api/predict", {"image": png})
    assert status == 200 and answer["prediction"] == 1 and page.state("last.input") == answer["input"]
    best = page.page.locator("#probs li.best")
    assert best.count() == 1 and best.locator(".name").inner_text() == "1"
    assert best.locator(".pct").inner_text() == f"{100 * answer['probabilities'][1]:.1f}%"
    page.page.click("#clear")
    assert page.prediction() == ""
    page.stroke(ZERO)
    assert page.prediction() == "0"
    page.shot("explain-drawn-0.png")
    timings = sorted(page.state("timings"))
    median = timings[len(timings) // 2]
    print(f"page updates while drawing: median {median:.0f} ms, max {timings[-1]:.0f} ms over {len(timings)}")
    # The budget for one update is 150 ms (cnn preset): test_explain_api checks the server's
    # part of it; here, with the other test worker training beside the browser on 2 cores, CI saw
    # 295 ms, so this bound only guards against an update gone an order slower (a reload per stroke).
    assert len(timings) >= 4 and median <= 600
    page.close()


def test_upload_an_mnist_digit(browser, cnn_server, mnist, tmp_path) -> None:
    page = Page(browser, cnn_server)
    for index in (0, 1):  # a 7 and a 2
        path = tmp_path / f"mnist-test-{index}.png"
        path.write_bytes(png_bytes(mnist.x_test[index]))
        page.page.set_input_files("#upload", str(path))
        page.page.wait_for_function(f"window.convcliExplain.last && {IDLE}")
        page.settle()
        assert page.prediction() == str(int(mnist.y_test[index]))
        assert page.state("last.input") == mnist.x_test[index].tolist()  # an MNIST PNG is used as it is
    page.shot("explain-upload.png")
    page.close()


def click_map_pixel(page: Page, row: int, col: int) -> None:
    box = page.page.locator("#unit-map").bounding_box()
    width = page.page.evaluate("document.getElementById('unit-map').width")
    cell = float(page.page.get_attribute("#unit-map", "data-cell")) * box["width"] / width
    page.page.mouse.click(box["x"] + (col + 0.5) * cell, box["y"] + (row + 0.5) * cell)
    page.settle()


def check_panel(page: Page, layer: str, f: int, row: int, col: int) -> float:
    """The panel names the pixel; Σ + b (conv) or the pool is the tile's value there."""
    maps = next(m for m in page.state("last.layers") if m["name"] == layer)["maps"]
    title = page.page.inner_text("#unit-title")
    assert f"{layer} " in title and f"filter {f}:" in title and f"row {row}, column {col}" in title
    tile_value = float(page.page.get_attribute("#pixel-value", "data-value"))
    assert tile_value == maps[f][row][col]
    return tile_value


def test_tile_and_pixel_show_the_arithmetic(browser, cnn_server) -> None:
    page = Page(browser, cnn_server)
    page.stroke(ZERO)
    maps = page.state("last.layers")[0]["maps"]  # conv2d: 16 maps of 24×24
    f = max(range(len(maps)), key=lambda i: sum(v > 0 for line in maps[i] for v in line))
    page.page.click(f".tile[data-layer='conv2d'][data-filter='{f}']")
    page.settle()
    assert page.page.get_attribute(f".tile[data-layer='conv2d'][data-filter='{f}']", "aria-pressed") == "true"
    page.page.set_viewport_size({"width": 1280, "height": 1400})
    page.page.evaluate("window.scrollTo(0, 0)")
    page.shot("explain-page.png", full_page=False)  # the README's docs/explain.png
    positive = sorted((v, r, c) for r, line in enumerate(maps[f]) for c, v in enumerate(line) if v > 0)
    _, row, col = positive[len(positive) // 2]  # a middling positive pixel, not the default strongest one
    click_map_pixel(page, row, col)
    tile_value = check_panel(page, "conv2d", f, row, col)
    arith = {k: float(page.page.get_attribute("#arith", f"data-{k}")) for k in ("sum", "bias", "z", "value")}
    assert arith["sum"] + arith["bias"] == pytest.approx(tile_value, abs=1e-4)  # relu(z) = z for z > 0
    assert "relu" in page.page.inner_text("#arith")
    assert page.page.locator("#unit-tables table").count() == 3  # patch, kernel, products
    page.shot("explain-arithmetic.png")
    page.page.focus("#unit-map")
    page.page.keyboard.press("ArrowRight" if col + 1 < 24 else "ArrowLeft")
    page.settle()
    check_panel(page, "conv2d", f, row, col + 1 if col + 1 < 24 else col - 1)
    # A second conv layer sums over its 16 input channels; a pooling tile shows its window.
    page.page.click(".tile[data-layer='conv2d_1'][data-filter='5']")
    page.settle()
    answer = page.state("unitAnswer")
    tile_value = check_panel(page, "conv2d_1", 5, answer["row"], answer["col"])
    assert page.page.is_visible("#channel-sums") and len(answer["channel_sums"]) == 16
    assert float(page.page.get_attribute("#arith", "data-sum")) == pytest.approx(sum(answer["channel_sums"]))
    assert max(answer["z"], 0) == pytest.approx(tile_value, abs=1e-4)
    page.page.click(".tile[data-layer='max_pooling2d'][data-filter='2']")
    page.settle()
    answer = page.state("unitAnswer")
    assert check_panel(page, "max_pooling2d", 2, answer["row"], answer["col"]) == pytest.approx(
        answer["pooled"], abs=1e-4
    )
    assert "max of the 2×2 window" in page.page.inner_text("#arith")
    page.close()


def test_softmax_page_shows_templates_and_no_maps(browser, tmp_path_factory) -> None:
    with running_server(trained_model(tmp_path_factory, "softmax")) as server:
        page = Page(browser, server)
        assert page.page.locator("#templates canvas").count() == 10
        assert page.page.locator(".tile").count() == 0 and page.page.is_hidden("#unit-panel")
        page.stroke(ZERO)
        png = page.page.evaluate("document.getElementById('draw').toDataURL('image/png').split(',')[1]")
        assert page.prediction() == str(post_json(server, "/api/predict", {"image": png})[1]["prediction"])
        page.shot("explain-softmax.png")
        page.close()


def test_a_bad_upload_is_reported_and_the_page_keeps_working(browser, cnn_server, tmp_path) -> None:
    page = Page(browser, cnn_server)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture\n")
    page.page.set_input_files("#upload", str(notes))
    page.page.wait_for_function("document.getElementById('status').textContent.includes('not an image')")
    page.settle()
    page.page.click("#clear")
    page.stroke(ONE)
    assert page.prediction() == "1"
    page.close(expected_errors=1)  # the browser logs the 400 answer
    assert json.loads(json.dumps(page.errors))[0].startswith("Failed to load resource")


# --------------------------------------------------------------------------- issue 23: a phone, and honesty

PHONE = (390, 844)


def test_on_a_phone_a_tapped_tile_brings_the_arithmetic_into_view(browser, cnn_server) -> None:
    """At 390 px the arithmetic used to be 2,260 px below the tile, with no scroll; the open
    layer table was wider than the screen."""
    page = Page(browser, cnn_server, PHONE)
    page.stroke(ZERO)
    page.page.locator("details.summary summary").click()
    widest = page.page.evaluate("document.documentElement.scrollWidth")
    assert widest <= PHONE[0], f"the page is {widest} px wide on a {PHONE[0]} px screen"
    table = page.page.locator("table.summary").bounding_box()
    holder = page.page.locator(".scroll-x").bounding_box()
    assert holder["width"] <= PHONE[0] and table["width"] > holder["width"]  # it scrolls in its box
    page.page.locator(".tile[data-layer='conv2d'][data-filter='3']").tap()
    page.settle()
    page.page.wait_for_timeout(300)  # the scroll
    arith = page.page.locator("#arith").bounding_box()
    assert arith["y"] >= 0 and arith["y"] + 20 <= PHONE[1], arith
    assert page.page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    page.shot("explain-phone-arithmetic.png", full_page=False)
    page.close()


def contrast(text: str, background: str) -> float:
    """WCAG contrast ratio of two CSS rgb()/hex colours."""

    def luminance(colour: str) -> float:
        if colour.startswith("#"):
            channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)] if len(colour) == 7 else [0, 0, 0]
        else:
            channels = [int(float(v)) for v in colour[colour.index("(") + 1 : -1].split(",")[:3]]
        linear = [c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    bright, dark = sorted((luminance(text), luminance(background)), reverse=True)
    return (bright + 0.05) / (dark + 0.05)


def test_arithmetic_cells_are_readable_and_pixels_read_0_to_255(browser, cnn_server) -> None:
    page = Page(browser, cnn_server, PHONE)
    page.stroke(ZERO)
    maps = page.state("last.layers")[0]["maps"]
    f = max(range(len(maps)), key=lambda i: max(max(line) for line in maps[i]))
    page.page.locator(f".tile[data-layer='conv2d'][data-filter='{f}']").tap()
    page.settle()
    cells = page.page.evaluate(
        "[...document.querySelectorAll('#unit-tables td:not(.pad)')].map((td) => "
        "[getComputedStyle(td).color, getComputedStyle(td).backgroundColor, td.textContent])"
    )
    worst = min(contrast(text, background) for text, background, _ in cells)
    assert worst >= 4.5, f"a cell's text contrast is {worst:.2f}"  # was 2.4: black on deep blue
    # the input patch in the lecture's 0–255, exactly the grid the model was given
    answer, grid = page.state("unitAnswer"), page.state("last.input")
    patch_cells = page.page.locator("#unit-tables table").first.locator("td").all_inner_texts()
    expected = [str(grid[answer["row"] + r][answer["col"] + c]) for r in range(5) for c in range(5)]
    assert patch_cells == expected and "÷ 255 = " in page.page.inner_text("#arith")
    page.page.select_option("#scale", "1")
    patch_cells = page.page.locator("#unit-tables table").first.locator("td").all_inner_texts()
    assert patch_cells == [f"{int(v) / 255:.4f}" for v in expected] and "÷ 255" not in page.page.inner_text("#arith")
    page.close()


def test_one_value_is_printed_one_way(browser, cnn_server) -> None:
    """A pooled value used to read 0.3135 above and 0.3134 in its arithmetic (rounded twice)."""
    page = Page(browser, cnn_server)
    page.stroke(ZERO)
    pool = next(m for m in page.state("last.layers") if m["name"] == "max_pooling2d")
    # values whose 5th decimal is 5: where rounding to 5 places and then to 4 can go astray
    doubtful = [
        (f, r, c)
        for f, grid in enumerate(pool["maps"])
        for r, line in enumerate(grid)
        for c, v in enumerate(line)
        if round(v * 1e5) % 10 == 5
    ][:8]
    assert doubtful
    for f, r, c in doubtful:
        page.page.click(f".tile[data-layer='max_pooling2d'][data-filter='{f}']")
        page.settle()
        click_map_pixel(page, r, c)
        shown = page.page.inner_text("#pixel-value").rsplit(" ", 1)[1]
        assert page.page.inner_text("#arith").endswith(f"= {shown}"), (shown, page.page.inner_text("#arith"))
    page.close()


def test_a_failed_upload_clears_the_earlier_prediction(browser, cnn_server, tmp_path) -> None:
    page = Page(browser, cnn_server, PHONE)
    page.stroke(ONE)
    assert page.prediction() == "1"
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture\n")
    page.page.set_input_files("#upload", str(notes))
    page.page.wait_for_function("document.getElementById('status').textContent.includes('not an image')")
    page.settle()
    assert page.prediction() == "" and page.page.inner_text("#prediction") == "–"
    widths = page.page.eval_on_selector_all("#probs .fill", "(fills) => fills.map((f) => f.style.width)")
    assert set(widths) <= {"0", "0px", "0%"} and page.page.locator("#probs li.best").count() == 0
    assert set(page.page.locator("#probs .pct").all_inner_texts()) == {"–"}
    page.close(expected_errors=1)  # the browser logs the 400 answer


def test_total_params_and_words_for_a_digit_model(browser, cnn_server) -> None:
    page = Page(browser, cnn_server, PHONE)
    total = cnn_server.explainer.model.count_params()
    assert page.page.inner_text("#total-params") == f"Total params: {total:,}"
    assert page.page.inner_text("#status") == "Draw a digit, or upload a photo of one."
    page.close()


def test_a_fashion_model_is_not_asked_for_a_digit(browser, tmp_path_factory) -> None:
    """ "Draw a digit" was shown for Fashion-MNIST and folder models."""
    with running_server(trained_model(tmp_path_factory, "fashion")) as server:
        page = Page(browser, server, PHONE)
        assert page.page.inner_text("#status") == "Draw or upload a picture."
        assert "digit" not in page.page.get_attribute("#draw", "aria-label")
        page.page.click("#clear")
        assert "digit" not in page.page.inner_text("#status")
        page.close()


# --------------------------------------------------------------------------- issue 29: the page in Spanish

SUMMARY_HEADERS = {
    "en": ["Layer (type)", "Output shape", "Shape arithmetic", "Parameters"],
    "es": ["Capa (tipo)", "Forma de salida", "Cuenta de la forma", "Parámetros"],
}
LABELS = {  # element → its text in each language
    "#h-input": ("Your picture", "Su imagen"),
    "#clear": ("Clear", "Borrar"),
    "label[for=upload]": ("Upload a photo…", "Subir una foto…"),
    "#h-output": ("Prediction", "Predicción"),
    "#h-layers": ("Inside the network", "Dentro de la red"),
    "#status": ("Draw a digit, or upload a photo of one.", "Dibuje un dígito, o suba una foto de uno."),
}
LECTURE_WORDS = ("kernel", "bias", "pooling", "Conv2D", "filtro", "canal", "mapas de características", "parche")
RENAMED_WORDS = ("zancada", "núcleo", "sesgo", "agrupación", "precisión", "capa de agrupamiento")
ENGLISH_LEFT = ("Your picture", "Clear", "Prediction", "Inside the network", "patch", "channel", "filter ", " maps of ")


def page_language(page: Page) -> str:
    """Which language the page shows: its labels, the summary's headers and the switch all agree."""
    code = page.page.evaluate("document.documentElement.lang")
    index = 1 if code == "es" else 0
    drawn = page.prediction()
    for selector, texts in LABELS.items():
        if selector == "#status" and drawn:  # the prediction's line instead of the hint
            says = ("The model says {} (", "El modelo dice {} (")[index].format(page.page.inner_text("#prediction"))
            assert page.page.inner_text(selector).startswith(says), (selector, code)
        else:
            assert page.page.inner_text(selector) == texts[index], (selector, code)
    assert page.page.locator("table.summary th").all_text_contents() == SUMMARY_HEADERS[code]
    pressed = page.page.locator("#lang-switch button[aria-pressed=true]").all_inner_texts()
    assert pressed == [code.upper()]
    return code


def arithmetic(page: Page) -> dict[str, object]:
    """What must read the same in both languages: each layer's T = (N + 2P − K)/S + 1 line, the
    summary's arithmetic columns, and the panel's numbers and symbols (Σ … ⊙ kernel = …, z = Σ + bias …)."""
    rows = page.page.locator("table.summary tr").all()[1:]
    arith = page.page.inner_text("#arith")
    return {
        "formulas": page.page.locator(".layer .formula").all_inner_texts(),
        "summary": [row.locator("td").all_inner_texts()[1:] for row in rows],
        "arith": re.findall(r"−?-?\d+(?:\.\d+)?|[=+÷Σ⊙×]|relu|bias|kernel|z\b", arith),
        "values": {k: page.page.get_attribute("#arith", f"data-{k}") for k in ("sum", "bias", "z", "value")},
        "cells": page.page.locator("#unit-tables td").all_inner_texts(),
    }


def test_the_page_speaks_spanish_when_the_browser_asks_and_switches(browser, cnn_server) -> None:
    """A browser set to es-ES (Accept-Language: es-ES) gets the page in the lecture's Spanish; the
    EN | ES switch flips it (remembered across a reload) and back; the arithmetic reads the same."""
    page = Page(browser, cnn_server, locale="es-ES")
    asked = []
    page.page.on("request", lambda r: asked.append(r.headers.get("accept-language", "")))
    assert page_language(page) == "es"
    total = cnn_server.explainer.model.count_params()
    assert page.page.inner_text("#total-params") == f"Total de parámetros: {total:,}"
    page.stroke(ZERO)
    # the page's own requests say the page's language (its errors come back in it): "es"
    assert asked and all(value.split(",")[0].strip() in ("es", "es-ES") for value in asked), asked
    assert page.page.inner_text("#status").startswith(f"El modelo dice {page.prediction()} (")
    page.page.click(".tile[data-layer='conv2d'][data-filter='3']")
    page.settle()
    answer = page.state("unitAnswer")
    title = page.page.inner_text("#unit-title")
    assert title == f"conv2d (Conv2D), filtro 3: pixel (fila {answer['row']}, columna {answer['col']})"
    assert page.page.inner_text("#arith").startswith("Σ parche ⊙ kernel = ")
    captions = page.page.locator("#unit-tables caption").all_inner_texts()
    assert captions[0] == "Parche de la entrada (canal 0), pixels 0–255"
    assert captions[2] == "Productos, parche ⊙ kernel (canal 0)"
    words = page.page.evaluate("document.body.textContent")
    assert [w for w in LECTURE_WORDS if w not in words] == []
    assert [w for w in RENAMED_WORDS + ENGLISH_LEFT if w in words] == []
    assert "mapas de características de 24×24" in words
    page.shot("explain-es.png")
    spanish = arithmetic(page)
    page.page.click("#lang-switch button[data-lang=en]")
    assert page_language(page) == "en"
    assert page.page.inner_text("#arith").startswith("Σ patch ⊙ kernel = ")
    assert page.page.inner_text("#unit-title").startswith("conv2d (Conv2D), filter 3: pixel (row ")
    assert page.page.get_attribute(".tile[data-layer='conv2d'][data-filter='3']", "aria-pressed") == "true"
    english = arithmetic(page)
    assert english == spanish and spanish["formulas"] and spanish["summary"] and spanish["cells"]
    assert all(line.startswith("T = (N + 2P − K)/S + 1: ") for line in spanish["formulas"])
    page.page.reload()
    page.page.wait_for_selector("#probs li")
    assert page_language(page) == "en"  # the reader's choice outlasts the browser's language
    page.page.click("#lang-switch button[data-lang=es]")
    assert page_language(page) == "es"
    assert page.page.evaluate("localStorage.getItem('convcli-lang')") == "es"
    page.close()


def test_an_english_browser_gets_the_english_page_unchanged(browser, cnn_server) -> None:
    page = Page(browser, cnn_server, locale="en-US")
    assert page_language(page) == "en"
    total = cnn_server.explainer.model.count_params()
    assert page.page.inner_text("#total-params") == f"Total params: {total:,}"
    assert page.page.inner_text("#unit-title") == "One filter, one pixel"
    assert page.page.inner_text("footer") == "Served by convcli explain from this machine; nothing leaves it."
    assert page.page.get_attribute("#draw", "aria-label") == "Drawing area: draw one digit with a mouse, pen or finger"
    page.stroke(ONE)
    assert page.page.inner_text("#status").startswith("The model says 1 (")
    page.close()


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("es", "Su imagen"),
        ("es-MX", "Su imagen"),
        ("es-AR", "Su imagen"),
        ("en-GB", "Your picture"),
        ("fr-FR", "Your picture"),
    ],
)
def test_spanish_speaking_browsers_get_spanish(browser, cnn_server, locale: str, expected: str) -> None:
    page = Page(browser, cnn_server, locale=locale)
    assert page.page.inner_text("#h-input") == expected
    page.close()
