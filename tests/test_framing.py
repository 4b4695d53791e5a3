"""A Fashion-MNIST model's pictures framed as the dataset framed its own: a garment photographed
small on a large white canvas, or on a wide one, is trimmed, fit and centred before the model sees
it; the dataset's own pictures go in as they are; evaluate --data agrees with predict."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from convcli.prediction.predict import prepare_picture

FASHION = ((28, 28), "gray")


def garment() -> np.ndarray:
    """A smooth light-on-black "garment" filling its 28×28 frame top to bottom, columns 4–23 (as
    Fashion-MNIST's are: longest side fit to 28, centred)."""
    y, x = np.mgrid[0:28, 0:20]
    body = 120 + 100 * np.sin(y / 5.0) * np.cos(x / 7.0)
    picture = np.zeros((28, 28), np.uint8)
    picture[:, 4:24] = np.clip(np.rint(body), 60, 250).astype(np.uint8)
    return picture


def product_photo(picture: np.ndarray, canvas: tuple[int, int], at: tuple[int, int], scale: int = 5) -> Image.Image:
    """``picture`` as a product photo: enlarged ``scale`` times, dark on a white ``canvas`` (H, W)
    with its 28×28 frame's top-left corner at ``at``."""
    big = Image.fromarray(255 - picture).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    photo = Image.new("L", (canvas[1], canvas[0]), 255)
    photo.paste(big, (at[1], at[0]))
    return photo


@pytest.mark.parametrize(
    ("canvas", "at"),
    [((400, 400), (30, 200)), ((300, 420), (10, 60)), ((600, 200), (250, 30))],
    ids=["small-on-square", "on-wide", "on-tall"],
)
def test_a_garment_on_a_large_canvas_is_framed_like_the_datasets(tmp_path, canvas, at) -> None:
    """What the model sees is the garment back in its frame (within a few gray levels of the
    original: only resampling differs, at the garment's edges most); resized whole, the same photo
    is a small blot (or a squeezed one) far from it."""
    original = garment()
    path = tmp_path / "photo.png"
    product_photo(original, canvas, at).save(path)
    seen = prepare_picture(str(path), "frame", *FASHION, paper="dark")[:, :, 0].astype(int)
    whole = prepare_picture(str(path), "resize", *FASHION, paper="dark")[:, :, 0].astype(int)
    error = np.abs(seen - original.astype(int))
    assert error.mean() < 10 and np.percentile(error, 90) < 12, (error.mean(), error.max())  # measured 6.8, 7
    assert np.abs(whole - original.astype(int)).mean() > 50  # measured 75-84


def test_the_datasets_own_pictures_and_blank_ones_go_in_as_they_are(tmp_path) -> None:
    """A picture that already fills a frame of the model's shape, at 28×28 or enlarged (dark on
    white too), is resized whole as before: bit for bit what the ``resize`` preparation gives."""
    original = garment()
    Image.fromarray(original).save(tmp_path / "own.png")
    np.testing.assert_array_equal(
        prepare_picture(str(tmp_path / "own.png"), "frame", *FASHION, paper="dark")[:, :, 0], original
    )
    product_photo(original, (280, 280), (0, 0), scale=10).save(tmp_path / "big.png")
    blank = np.full((50, 70), 200, np.uint8)
    Image.fromarray(blank).save(tmp_path / "blank.png")
    for name in ("big.png", "blank.png"):
        path = str(tmp_path / name)
        framed = prepare_picture(path, "frame", *FASHION, paper="dark")
        np.testing.assert_array_equal(framed, prepare_picture(path, "resize", *FASHION, paper="dark"))


def test_a_speck_of_dust_does_not_stretch_the_frame(tmp_path) -> None:
    """A garment photo with one dark pixel of dust in a corner is framed as without it; a white
    picture with only the speck is resized whole (before: the speck alone, enlarged to a gray
    28×28; or the box stretched to the whole photo)."""
    original = garment()
    photo = np.asarray(product_photo(original, (400, 400), (30, 200))).copy()
    Image.fromarray(photo).save(tmp_path / "clean.png")
    photo[395, 3] = 0
    Image.fromarray(photo).save(tmp_path / "dusty.png")
    clean, dusty = (
        prepare_picture(str(tmp_path / n), "frame", *FASHION, paper="dark") for n in ("clean.png", "dusty.png")
    )
    np.testing.assert_array_equal(dusty, clean)
    white = np.full((200, 200), 255, np.uint8)
    white[7, 150] = 0
    Image.fromarray(white).save(tmp_path / "speck.png")
    speck = str(tmp_path / "speck.png")
    np.testing.assert_array_equal(
        prepare_picture(speck, "frame", *FASHION, paper="dark"),
        prepare_picture(speck, "resize", *FASHION, paper="dark"),
    )


def softmax_fashion_model(path) -> tuple[np.ndarray, np.ndarray]:
    """A one-layer Fashion-MNIST model (random weights) and its kernel and bias, for a numpy softmax."""
    import keras

    from convcli.models.metadata import default_meta, write_meta

    keras.utils.set_random_seed(8)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    model.save(path)
    write_meta(path, default_meta("fashion-mnist"))
    kernel, bias = (np.asarray(w, np.float64) for w in model.layers[-1].get_weights())
    return kernel, bias


def test_predict_and_evaluate_frame_the_same_photos(cli, tmp_path) -> None:
    """``predict`` on product photos gives a numpy softmax of what it says the model saw
    (``--show-input``), which is the garment back in its frame; ``evaluate --data`` on the same
    files, in class folders, counts exactly those predictions (before: it resized them whole and
    never turned white paper to black)."""
    model_path = tmp_path / "fashion.keras"
    kernel, bias = softmax_fashion_model(model_path)
    rng = np.random.default_rng(2)
    files, labels = [], []
    for k, label in enumerate((0, 3, 3, 9, 9, 9)):
        folder = tmp_path / "photos" / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        picture = (garment().astype(float) * rng.uniform(0.6, 1.0, (28, 28))).astype(np.uint8)
        files.append(str(folder / f"item{k}.png"))
        product_photo(picture, (360, 480), (int(rng.integers(0, 200)), int(rng.integers(0, 320)))).save(files[-1])
        labels.append(label)
    result = cli("predict", model_path, *files, "--json", "--show-input", f"{tmp_path / 'seen'}/")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    expected = np.zeros((10, 10), int)
    for record, label in zip(records, labels):
        seen = np.asarray(Image.open(record["seen"]), np.float64)
        assert seen[:, :3].max() == 0 and seen[:, 25:].max() == 0  # centred like the original (columns 4-23)
        scores = seen.reshape(-1) / 255 @ kernel + bias
        probabilities = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
        np.testing.assert_allclose(record["probabilities"], probabilities, atol=1e-5)
        expected[label, int(np.argmax(probabilities))] += 1
    result = cli("evaluate", model_path, "--data", tmp_path / "photos", "--json")
    assert result.exit_code == 0, result.output
    evaluation = json.loads(result.stdout)
    assert evaluation["confusion"] == expected.tolist()
    assert "framed like the dataset's pictures" in evaluation["evaluated_on"]
