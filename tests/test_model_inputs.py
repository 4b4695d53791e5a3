"""The preparation follows what the model was trained on: evaluate --data on a folder of scans,
Fashion-MNIST's own PNGs, a plain Keras model that rescales its pixels itself, and explain's
canvas for a model of dark-on-white pictures."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import MNIST, requires_mnist
from PIL import Image
from ruled_sheets import optdigit

from convcli.errors import ConvcliWarning


@pytest.fixture(scope="module")
def mnist():
    from convcli.datasets.idx import load_dataset

    return load_dataset("mnist", MNIST)


def scan_folder(root, images: np.ndarray, labels: np.ndarray, per_class: int):
    """A folder of class folders holding optdigits-like scans (dark on white, 64×64, soft, the
    digit touching the border), as a student saves them; returns the files and their labels."""
    files, truth = [], []
    for digit in range(10):
        (root / str(digit)).mkdir(parents=True)
        for k in np.nonzero(labels == digit)[0][:per_class]:
            path = root / str(digit) / f"{k}.png"
            Image.fromarray(255 - optdigit(images[k])).save(path)
            files.append(str(path))
            truth.append(digit)
    return files, np.array(truth)


# --------------------------------------------------------------------------- scaling layers


@pytest.mark.parametrize(
    ("layer", "raw"),
    [("rescale", True), ("rescale-centred", True), ("rescale-to-pm1", False), ("none", False), ("normalize", True)],
)
def test_a_models_own_scaling_is_detected(layer, raw) -> None:
    """Rescaling(1/255) or a Normalization adapted on 0–255 pixels: the model is given 0–255."""
    import keras

    from convcli.models.inputs import takes_raw_pixels

    first = {
        "rescale": [keras.layers.Rescaling(1 / 255)],
        "rescale-centred": [keras.layers.Rescaling(1 / 127.5, offset=-1)],
        "rescale-to-pm1": [keras.layers.Rescaling(2.0, offset=-1)],
        "none": [],
        "normalize": [keras.layers.Normalization()],
    }[layer]
    if layer == "normalize":
        first[0].adapt(np.random.default_rng(0).integers(0, 256, (64, 28, 28, 1)).astype("float32"))
    model = keras.Sequential([keras.Input((28, 28, 1)), *first, keras.layers.Flatten(), keras.layers.Dense(10)])
    assert takes_raw_pixels(model) is raw


@pytest.mark.slow
@requires_mnist
def test_a_plain_keras_model_that_rescales_is_not_scaled_twice(mnist, tmp_path) -> None:
    """The issue's student model: Rescaling(1/255) inside, trained on 0–255 pixels in plain Keras.
    evaluate agrees with Keras's own evaluation, and says what it assumed."""
    import keras

    from convcli.jobs import evaluate_file

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = mnist.x_train[:10000, :, :, None].astype("float32")
    model.fit(x, mnist.y_train[:10000], epochs=1, batch_size=128, verbose=0)
    keras_accuracy = model.evaluate(mnist.x_test[:, :, :, None].astype("float32"), mnist.y_test, verbose=0)[1]
    path = tmp_path / "student.keras"
    model.save(path)
    with pytest.warns(ConvcliWarning, match=r"no convcli metadata.*pixels 0–255 \(its Rescaling layer"):
        evaluation = evaluate_file(path, data_dir=str(MNIST))
    assert keras_accuracy > 0.75
    assert abs(evaluation.result.accuracy - keras_accuracy) < 0.005


# --------------------------------------------------------------------------- evaluate --data


@pytest.mark.slow
@requires_mnist
def test_evaluate_on_a_folder_of_scans_agrees_with_predict(small_cnn, mnist, tmp_path) -> None:
    """A digit model on a folder of scans: evaluate prepares each picture as predict does (before:
    fed raw, about 10%), so the two agree within 3 points."""
    from convcli.jobs import evaluate_file
    from convcli.prediction.predict import predict_files

    files, truth = scan_folder(tmp_path / "scans", mnist.x_test, mnist.y_test, per_class=8)
    evaluated = evaluate_file(small_cnn, data=tmp_path / "scans")
    predicted = np.array([r.prediction for r in predict_files(small_cnn, files)])
    predict_accuracy = float((predicted == truth).mean())
    assert predict_accuracy >= 0.8
    assert abs(evaluated.result.accuracy - predict_accuracy) <= 0.03
    assert "prepared like MNIST's digits" in evaluated.evaluated_on


def test_evaluate_skips_files_that_are_no_pictures_and_scores_blank_ones(cli, mnist, tmp_path) -> None:
    """In a folder of scans, a broken PNG and a note are skipped with a warning (as ``train --data``
    skips them), not scored as blank pictures against the accuracy; a blank picture, which
    ``predict`` says holds no digit, still counts as one. Before: n 33 and 84.85% where the 30
    readable scans alone give 93.33% (a new user's folder)."""
    import json

    import keras

    from convcli.prediction.predict import prepare_picture

    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    model.save(tmp_path / "digits.keras")
    kernel, bias = (np.asarray(w, np.float64) for w in model.layers[-1].get_weights())
    files, truth = scan_folder(tmp_path / "scans", mnist.x_test, mnist.y_test, per_class=2)
    (tmp_path / "scans" / "3" / "notes.txt").write_text("hola\n", encoding="utf-8")
    (tmp_path / "scans" / "4" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(tmp_path / "scans" / "5" / "blank.png")
    expected = np.zeros((10, 10), int)
    for path, label in zip(files, truth):
        picture = prepare_picture(path, "digit", (28, 28), "gray").astype(np.float64)
        expected[label, int(np.argmax(picture.reshape(-1) / 255 @ kernel + bias))] += 1
    expected[5, int(np.argmax(bias))] += 1  # the blank picture: zeros in, the bias decides
    result = cli("evaluate", tmp_path / "digits.keras", "--data", tmp_path / "scans", "--json")
    assert result.exit_code == 0, result.output
    evaluation = json.loads(result.stdout)
    assert evaluation["n"] == len(files) + 1 and evaluation["confusion"] == expected.tolist()
    assert "skipped" in result.stderr and "notes.txt" in result.stderr and "bad.png" in result.stderr
    assert "blank.png: no digit found" in result.stderr


# --------------------------------------------------------------------------- a dataset's own pictures


@pytest.mark.slow
def test_fashion_pngs_go_in_as_they_are(tmp_path) -> None:
    """Fashion-MNIST's own test pictures saved as PNGs: predict gives exactly what evaluate gives on
    the same pictures (before: cropped and thresholded like digits, 49.5% against 87%)."""
    from convcli.datasets.idx import load_dataset
    from convcli.models.build import load_model
    from convcli.prediction.evaluation import evaluate_arrays
    from convcli.prediction.predict import predict_files
    from convcli.training.run import TrainConfig, train

    try:
        fashion = load_dataset("fashion-mnist")
    except Exception as exc:  # not on this machine
        pytest.skip(f"Fashion-MNIST not available: {exc}")
    model_path = tmp_path / "fashion.keras"
    train(TrainConfig.from_preset("softmax", output=str(model_path), dataset="fashion-mnist", epochs=1, limit=6000))
    x, y = fashion.x_test[:150], fashion.y_test[:150]
    files = []
    for i, picture in enumerate(x):
        files.append(str(tmp_path / f"item{i}.png"))
        Image.fromarray(picture).save(files[-1])
    evaluated = evaluate_arrays(load_model(model_path), x, y, 10)
    predicted = np.array([r.prediction for r in predict_files(model_path, files)])
    np.testing.assert_array_equal(predicted, evaluated.predictions)
    assert evaluated.accuracy > 0.6


# --------------------------------------------------------------------------- explain's canvas


def canvas_png(digit: np.ndarray) -> bytes:
    """A drawing as the explain page sends it: light strokes on a black 280×280 canvas."""
    big = Image.fromarray(digit).resize((280, 280), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    big.convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.slow
@requires_mnist
def test_explain_canvas_matches_a_dark_on_white_folder_model(mnist, tmp_path) -> None:
    """A model trained on a folder of dark-on-white pictures learns that polarity; the page's
    light-on-black drawing is given to it inverted (before: 1 in 5 drawings right)."""
    from convcli.explain.probe import Explainer
    from convcli.training.run import TrainConfig, train

    root = tmp_path / "ink"
    for digit in (0, 1, 7):
        (root / str(digit)).mkdir(parents=True)
        for k in np.nonzero(mnist.y_train == digit)[0][:150]:
            Image.fromarray(255 - mnist.x_train[k]).save(root / str(digit) / f"{k}.png")
    model_path = tmp_path / "ink.keras"
    train(TrainConfig.from_preset("cnn", output=str(model_path), data=str(root), epochs=4, seed=0))
    explainer = Explainer.from_file(model_path)
    assert explainer.paper == "light"
    drawings = [(k, d) for d in (0, 1, 7) for k in np.nonzero(mnist.y_test == d)[0][:4]]
    right = 0
    for k, digit in drawings:
        answer = explainer.predict(image=canvas_png(mnist.x_test[k]))
        right += int(answer["class_name"] == str(digit))
        assert np.median(answer["input"]) > 128  # the model saw dark strokes on white
    assert right >= 10, right


def test_the_cli_gives_a_fashion_model_its_own_pngs_as_they_are(cli, tmp_path) -> None:
    """``convcli predict`` on picture files (the batch path the CLI and daemon use) prepares them as
    the model's metadata says: a Fashion-MNIST model's 28×28 pictures go in as they are. Before,
    the batch path read the stored ``digit`` and cropped, boxed and thresholded garments like
    digits (a Trouser the model gave 0.98 on ``--index 2`` was a 0.50 "Bag" as a PNG)."""
    import json

    import keras

    from convcli.models.metadata import default_meta, write_meta

    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    model_path = tmp_path / "fashion.keras"
    model.save(model_path)
    write_meta(model_path, default_meta("fashion-mnist"))
    rng = np.random.default_rng(5)
    pictures, files = [], []
    for k in range(3):  # a garment filling the frame top to bottom, as Fashion-MNIST's do, textured
        picture = np.zeros((28, 28), np.uint8)
        picture[:, 3 : 25 - k] = rng.integers(60, 240, (28, 22 - k))
        pictures.append(picture)
        files.append(str(tmp_path / f"item{k}.png"))
        Image.fromarray(picture).save(files[-1])
    kernel, bias = (np.asarray(w, np.float64) for w in model.layers[-1].get_weights())
    result = cli("predict", str(model_path), *files, "--json")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["input"] for r in records] == files
    for picture, record in zip(pictures, records):
        scores = picture.reshape(-1).astype(np.float64) / 255 @ kernel + bias
        expected = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
        np.testing.assert_allclose(record["probabilities"], expected, atol=1e-5)
        assert record["label"] == default_meta("fashion-mnist").class_names[int(np.argmax(expected))]


def test_a_garment_photographed_on_white_is_turned_to_fashion_mnists_black(cli, tmp_path) -> None:
    """Fashion-MNIST's garments are light on black; the same garment dark on white (a product
    photo) is turned to that paper before the model sees it, so ``predict`` gives it the answers of
    the original (before: the negative went in; 1 of 20 such pictures right with a trained model,
    16 of 20 after). A digit model's preparation is not touched (it finds ink on either paper)."""
    import json

    import keras

    from convcli.models.inputs import on_training_paper, paper_for
    from convcli.models.metadata import default_meta, write_meta

    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    model_path = tmp_path / "fashion.keras"
    model.save(model_path)
    write_meta(model_path, default_meta("fashion-mnist"))
    garment = np.zeros((28, 28), np.uint8)
    garment[2:26, 6:22] = np.random.default_rng(1).integers(80, 250, (24, 16))
    files = [str(tmp_path / "on-black.png"), str(tmp_path / "on-white.png")]
    Image.fromarray(garment).save(files[0])
    Image.fromarray(255 - garment).save(files[1])
    result = cli("predict", str(model_path), *files, "--json")
    assert result.exit_code == 0, result.output
    on_black, on_white = (json.loads(line)["probabilities"] for line in result.stdout.splitlines())
    kernel, bias = (np.asarray(w, np.float64) for w in model.layers[-1].get_weights())
    scores = garment.reshape(-1).astype(np.float64) / 255 @ kernel + bias
    expected = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    np.testing.assert_allclose(on_black, expected, atol=1e-5)
    np.testing.assert_allclose(on_white, expected, atol=1e-5)
    assert paper_for(default_meta("fashion-mnist")) == "dark" and paper_for(default_meta("mnist")) == ""
    negative = 255 - garment[..., None]
    assert on_training_paper(negative, "") is negative
    np.testing.assert_array_equal(on_training_paper(255 - garment[..., None], "dark"), garment[..., None])


def test_a_fashion_model_evaluates_a_folder_whose_classes_are_numbered(cli, tmp_path) -> None:
    """Fashion-MNIST's class 0 is "T-shirt/top", which no folder can be named: a folder named by a
    class's number (``0/``, ``9/``) holds that class, beside folders named by class (``Trouser/``);
    the confusion matrix is the one a numpy softmax gives. Before: ``the model has no class '0'``."""
    import json

    import keras

    from convcli.models.metadata import default_meta, write_meta

    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    model_path = tmp_path / "fashion.keras"
    model.save(model_path)
    write_meta(model_path, default_meta("fashion-mnist"))
    kernel, bias = (np.asarray(w, np.float64) for w in model.layers[-1].get_weights())
    rng = np.random.default_rng(6)
    expected = np.zeros((10, 10), int)
    for folder, label in (("0", 0), ("Trouser", 1), ("9", 9)):
        (tmp_path / "items" / folder).mkdir(parents=True)
        for k in range(4):
            picture = np.zeros((28, 28), np.uint8)  # light on black, filling the frame top to bottom
            picture[:, 2 + k : 24 + k] = rng.integers(40, 256, (28, 22))
            Image.fromarray(picture).save(tmp_path / "items" / folder / f"{k}.png")
            expected[label, int(np.argmax(picture.reshape(-1) / 255 @ kernel + bias))] += 1
    result = cli("evaluate", str(model_path), "--data", str(tmp_path / "items"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["confusion"] == expected.tolist()
    (tmp_path / "items" / "10").mkdir()
    result = cli("evaluate", str(model_path), "--data", str(tmp_path / "items"))
    assert result.exit_code == 2
    assert "no class '10'" in result.stderr and "or their numbers, 0–9" in result.stderr
