"""Your own images: folders of pictures and IDX sets as datasets, trained on, evaluated and
predicted with their class names; the model file says what it was trained on.

Every dataset is built here: MNIST test digits written as PNG class folders ``zero``…``nine``,
coloured shapes on a 20×30 RGB canvas, and an EMNIST-like IDX set of 26 letters.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import MNIST, requires_mnist, write_png
from folder_sets import CANVAS, COLOURS, DIGIT_WORDS, colour_folders, colour_picture, digit_folders, emnist_like

from convcli.datasets.folders import FolderOptions, load_data_folder, load_image_folder, parse_image_size
from convcli.errors import ConvcliError
from convcli.models.metadata import read_meta
from convcli.prediction.predict import prepare_picture

SMALL_CNN = "conv(8,3),pool(2),flatten,dense({})"


@pytest.fixture(scope="module")
def mnist():
    from convcli.datasets.idx import load_dataset

    return load_dataset("mnist", MNIST)


def train_folder(folder: Path, output: Path, spec: str | None, preset: str | None = None, **kw) -> dict:
    """Train on ``folder`` through the library, as ``convcli train --data`` does; returns the record."""
    from convcli.training.run import TrainConfig, train

    options = {"epochs": 1, "batch_size": 32, "validation_split": 0.1, "output": str(output), "data": str(folder)}
    config = TrainConfig.from_preset(preset, spec, **{**options, **kw})
    return train(config).record


# --------------------------------------------------------------------------- reading folders


@requires_mnist
def test_png_digit_folders_read_back_mnist_exactly(tmp_path, mnist) -> None:
    root = digit_folders(tmp_path / "digits", mnist.x_test, mnist.y_test, per_class=10)
    data = load_image_folder(root, FolderOptions(test_split=0.2, seed=3))
    assert data.class_names == sorted(DIGIT_WORDS)  # folder names, sorted as Keras sorts them
    assert data.input_shape == (28, 28, 1) and data.color == "gray" and data.preparation == "resize"
    assert len(data.x_train) == 80 and len(data.x_test) == 20
    # Each class gives 2 of its 10 pictures to the test set, which the record names file by file,
    # and every picture's pixels are MNIST's own.
    assert np.bincount(data.y_test).tolist() == [2] * 10
    for row, name in enumerate(data.details["test_files"]):
        word, stem = name.split("/")
        index = int(Path(stem).stem)
        assert data.class_names[data.y_test[row]] == word == DIGIT_WORDS[mnist.y_test[index]]
        np.testing.assert_array_equal(data.x_test[row, :, :, 0], mnist.x_test[index])
    chosen = [i for d in range(10) for i in np.flatnonzero(mnist.y_test == d)[:10]]
    assert int(data.x_train.sum()) + int(data.x_test.sum()) == int(mnist.x_test[chosen].sum())
    again = load_image_folder(root, FolderOptions(test_split=0.2, seed=3))
    assert again.details["test_files"] == data.details["test_files"]  # the split is seeded


def test_colour_default_size_and_gray_option(tmp_path) -> None:
    root = colour_folders(tmp_path / "c", per_class=4)
    rgb = load_image_folder(root)
    assert rgb.input_shape == (*CANVAS, 3) and rgb.color == "rgb" and rgb.class_names == sorted(COLOURS)
    gray = load_image_folder(root, FolderOptions(color="gray"))
    assert gray.input_shape == (*CANVAS, 1)
    # Pillow's luma, L = (299 R + 587 G + 114 B) / 1000 rounded, from the same pixels.
    expected = np.rint(rgb.x_train.astype(np.float64) @ [0.299, 0.587, 0.114]).astype(np.uint8)
    assert np.abs(gray.x_train[:, :, :, 0].astype(int) - expected).max() <= 1
    small = load_image_folder(root, FolderOptions(image_size=(10, 15)))
    assert small.input_shape == (10, 15, 3)


def test_pictures_of_different_sizes_need_a_chosen_size(tmp_path, rng) -> None:
    for i, size in enumerate([(20, 30), (20, 30), (40, 40)]):
        for cls in ("a", "b"):
            (tmp_path / "m" / cls).mkdir(parents=True, exist_ok=True)
            write_png(tmp_path / "m" / cls / f"{i}.png", rng.integers(0, 256, size))
    with pytest.raises(ConvcliError) as info:
        load_image_folder(tmp_path / "m")
    assert "2 different sizes (20×30 (4 files), 40×40 (2 files))" in info.value.message
    assert "choose one with image_size" in info.value.message
    data = load_image_folder(tmp_path / "m", FolderOptions(image_size=parse_image_size("24x16")))
    assert data.input_shape == (24, 16, 1)
    assert parse_image_size("32") == (32, 32)
    with pytest.raises(ConvcliError, match="image_size must be H or HxW"):
        parse_image_size("32x")


def test_unreadable_files_are_skipped_with_a_warning_each_or_refused(tmp_path) -> None:
    root = colour_folders(tmp_path / "c", per_class=3)
    (root / "red" / "notes.txt").write_text("not a picture")
    good = (root / "green" / "000.png").read_bytes()
    (root / "green" / "cut.png").write_bytes(good[: len(good) // 2])  # a header, half the pixels
    (root / "blue" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden files are not pictures of the class
    warnings: list[str] = []
    data = load_image_folder(root, warn=warnings.append)
    assert len(data.x_train) + len(data.x_test) == 9
    # One line per file, in the folder's order, then the count.
    assert warnings[0] == f"skipped {root / 'green' / 'cut.png'}: damaged image (OSError: image file is truncated)"
    assert warnings[1] == f"skipped {root / 'red' / 'notes.txt'}: not an image file (or a format Pillow cannot read)"
    assert warnings[2] == "skipped 2 of 11 files: not readable pictures (strict=True refuses them)"
    assert len(data.details["skipped"]) == 2
    with pytest.raises(ConvcliError, match=r"cut.png: damaged image .*strict=True: every file must be a readable"):
        load_image_folder(root, FolderOptions(strict=True))
    (root / "green" / "cut.png").unlink()
    with pytest.raises(
        ConvcliError, match=r"notes.txt: not an image file .*strict=True: every file must be a readable"
    ):
        load_image_folder(root, FolderOptions(strict=True))


def test_classes_need_two_pictures_and_folders_two_classes(tmp_path, rng) -> None:
    root = colour_folders(tmp_path / "c", per_class=3)
    for name in ("001.png", "002.png"):
        (root / "blue" / name).unlink()
    with pytest.raises(ConvcliError, match="class 'blue' has 1 usable picture"):
        load_image_folder(root)
    alone = tmp_path / "alone"
    (alone / "red").mkdir(parents=True)
    write_png(alone / "red" / "a.png", rng.integers(0, 256, (4, 4)))
    with pytest.raises(ConvcliError, match="only one class \\('red'\\)"):
        load_image_folder(alone)
    flat = tmp_path / "flat"
    flat.mkdir()
    write_png(flat / "a.png", rng.integers(0, 256, (4, 4)))
    with pytest.raises(ConvcliError, match="no class folders"):
        load_image_folder(flat)


def test_emnist_like_idx_set_has_26_classes_named_by_its_mapping(tmp_path) -> None:
    folder, upright = emnist_like(tmp_path / "emnist")
    data = load_data_folder(folder)
    assert data.class_names == [chr(ord("A") + i) for i in range(26)]
    assert data.name == "idx:emnist" and data.preparation == "digit" and data.input_shape == (28, 28, 1)
    assert data.y_train.min() == 0 and data.y_train.max() == 25  # labels 1…26 become classes 0…25
    np.testing.assert_array_equal(data.x_test, upright)  # EMNIST's transposed storage turned back
    with pytest.raises(ConvcliError, match="image_size and color apply to folders of pictures"):
        load_data_folder(folder, FolderOptions(color="rgb"))
    (folder / "emnist-letters-test-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ConvcliError, match="incomplete IDX set \\(missing emnist-letters-t10k-labels"):
        load_data_folder(folder)


# --------------------------------------------------------------------------- training and using the models


@pytest.fixture(scope="module")
def colour_model(tmp_path_factory) -> Path:
    """A small CNN trained on 20×30 coloured shapes: class folders, a seeded test split."""
    base = tmp_path_factory.mktemp("colour")
    folder = colour_folders(base / "shapes", per_class=60)
    out = base / "shapes.keras"
    train_folder(folder, out, SMALL_CNN.format(3), epochs=4, learning_rate=3e-3)
    return out


@pytest.mark.backend
def test_colour_model_carries_its_data_and_predicts_by_name(colour_model, cli, tmp_path) -> None:
    meta = read_meta(colour_model)
    assert meta.stored and meta.class_names == sorted(COLOURS) and meta.input_shape == (*CANVAS, 3)
    assert meta.color == "rgb" and meta.preparation == "resize" and meta.dataset == "folder:shapes"
    record = json.loads(colour_model.with_suffix(".json").read_text())
    assert record["dataset"] == "folder:shapes" and record["data"]["layout"] == "class folders"
    assert len(record["data"]["test_files"]) == record["test"]["n"] == 36
    assert record["test"]["accuracy"] >= 0.9
    # A bigger JPEG, resized as the training pictures were: the model names its colour.
    rng = np.random.default_rng(99)
    photo = tmp_path / "photo.jpg"
    from PIL import Image

    Image.fromarray(colour_picture(rng, "green", (80, 120))).save(photo, quality=95)
    seen = tmp_path / "seen.png"
    result = cli("predict", colour_model, photo, "--show-input", seen, "--json")
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["label"] == "green" and answer["top"][0]["label"] == "green"
    shown = np.asarray(Image.open(seen))
    np.testing.assert_array_equal(shown, prepare_picture(str(photo), "resize", CANVAS, "rgb"))
    plain = cli("predict", colour_model, photo)
    assert plain.stdout.split("\t")[:2] == [str(photo), "green"]
    assert "not an index" in cli("predict", colour_model, "--index", "0").stderr


@pytest.mark.backend
def test_evaluate_uses_the_runs_own_test_split_and_other_folders(colour_model, cli, tmp_path, monkeypatch) -> None:
    record = json.loads(colour_model.with_suffix(".json").read_text())
    result = cli("evaluate", colour_model, "--json")
    assert result.exit_code == 0, result.stderr
    own = json.loads(result.stdout)
    assert own["n"] == 36 and own["accuracy"] == pytest.approx(record["test"]["accuracy"])
    assert own["class_names"] == sorted(COLOURS) and "own test split" in own["evaluated_on"]
    assert json.loads(cli("evaluate", colour_model, "--data", record["data"]["folder"], "--json").stdout)["n"] == 36
    asked = cli("evaluate", colour_model, "--dataset", "mnist", "--json")  # not silently ignored
    assert asked.exit_code == 0 and json.loads(asked.stdout)["n"] == 36
    assert "Warning:" in asked.stderr and "dataset 'mnist' ignored" in asked.stderr
    fresh = colour_folders(tmp_path / "fresh", per_class=5, seed=7)
    import convcli.plots as plots

    ticks: list[list[str]] = []
    save = plots._save

    def keep_ticks(fig, path):
        ticks.append([t.get_text() for t in fig.axes[0].get_xticklabels()])
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", keep_ticks)
    report = tmp_path / "report"
    report.mkdir()
    other = cli("evaluate", colour_model, "--data", fresh, "--plot", "--out-dir", report)
    assert other.exit_code == 0, other.stderr
    assert other.stdout.startswith(f"evaluated on every picture in {fresh}\naccuracy ")
    assert "n 15\n" in other.stdout and "true\\pred\tblue\tgreen\tred" in other.stdout
    assert ticks[0] == sorted(COLOURS)  # the confusion heat map's axes name the classes
    (fresh / "purple").mkdir()
    assert "the model has no class 'purple'" in cli("evaluate", colour_model, "--data", fresh).stderr


@pytest.mark.backend
def test_feature_maps_weights_and_explain_on_a_colour_model(colour_model, cli, tmp_path) -> None:
    picture = write_png(tmp_path / "blue.png", colour_picture(np.random.default_rng(5), "blue"))
    maps = cli("feature-maps", colour_model, picture, "-o", tmp_path / "maps.png", "--json")
    assert maps.exit_code == 0, maps.stderr
    assert [json.loads(line)["shape"] for line in maps.stdout.splitlines()] == [[18, 28, 8], [9, 14, 8]]
    weights = cli("weights", colour_model, "-o", tmp_path / "w.png", "--json")
    assert weights.exit_code == 0 and json.loads(weights.stdout)["shape"] == [3, 3, 3, 8]
    summary = json.loads(
        cli("summary", "--layers", SMALL_CNN.format(3), "--image-size", "20x30", "--color", "rgb", "--json").stdout
    )
    from convcli.models.build import load_model

    assert summary["total_params"] == load_model(colour_model).count_params() == 8 * 27 + 8 + 9 * 14 * 8 * 3 + 3

    from convcli.explain import Explainer

    explainer = Explainer.from_file(colour_model)
    info = explainer.model_info()
    assert info["class_names"] == sorted(COLOURS) and info["input_shape"] == [20, 30, 3]
    from PIL import Image

    big = tmp_path / "big.png"
    Image.fromarray(colour_picture(np.random.default_rng(6), "red", (60, 90))).save(big)
    answer = explainer.predict(image=big.read_bytes())
    # prepared exactly as predict prepares it: resized as in training, in colour, not digit-prepared
    np.testing.assert_array_equal(np.array(answer["input"]), prepare_picture(str(big), "resize", CANVAS, "rgb"))
    assert explainer.predict(pixels=answer["input"])["probabilities"] == answer["probabilities"]  # H×W×3 pixels
    drawn = explainer.predict(pixels=np.array(answer["input"])[:, :, 0])  # drawn gray: in all three channels
    assert np.array(drawn["input"]).shape == CANVAS


@pytest.mark.backend
def test_explain_uploads_agree_with_predict_on_a_colour_model(colour_model, cli, tmp_path) -> None:
    """The explain API's probabilities for an uploaded picture are predict --json's."""
    from explain_support import request, running_server

    big = write_png(tmp_path / "big.png", colour_picture(np.random.default_rng(8), "blue", (60, 90)))
    result = cli("predict", colour_model, big, "--json")
    assert result.exit_code == 0, result.stderr
    expected = json.loads(result.stdout)
    with running_server(colour_model) as server:
        status, _, body = request(server, "POST", "/api/predict", big.read_bytes(), {"Content-Type": "image/png"})
    answer = json.loads(body)
    assert status == 200 and np.array(answer["input"]).shape == (*CANVAS, 3)
    assert answer["class_name"] == expected["label"] == "blue"
    np.testing.assert_allclose(answer["probabilities"], expected["probabilities"], atol=1e-5)


@pytest.mark.backend
def test_a_colour_picture_with_alpha_is_prepared_on_white(colour_model, cli, tmp_path) -> None:
    """A blue square on a transparent background, as its white-flattened version (not on black)."""
    from PIL import Image

    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[10:30, 20:40] = (40, 60, 220, 255)
    rgba[10:30, 40:44] = (40, 60, 220, 100)  # a half-transparent edge
    path = tmp_path / "square.png"
    Image.fromarray(rgba).save(path)
    alpha = rgba[:, :, 3:] / 255.0
    white = np.rint(rgba[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)  # the formula, by hand
    flat = write_png(tmp_path / "square-white.png", white)
    expected = prepare_picture(str(flat), "resize", CANVAS, "rgb")
    np.testing.assert_array_equal(prepare_picture(str(path), "resize", CANVAS, "rgb"), expected)
    assert expected[0, 0].tolist() == [255, 255, 255]
    seen = tmp_path / "seen.png"
    result = cli("predict", colour_model, path, "--show-input", seen, "--json")
    assert result.exit_code == 0, result.stderr
    np.testing.assert_array_equal(np.asarray(Image.open(seen)), expected)
    assert (
        json.loads(result.stdout)["label"] == json.loads(cli("predict", colour_model, flat, "--json").stdout)["label"]
    )


@requires_mnist
@pytest.mark.backend
def test_digit_folders_with_train_and_test_folders(tmp_path, mnist, cli) -> None:
    root = tmp_path / "digits"
    digit_folders(root / "train", mnist.x_test, mnist.y_test, per_class=40)
    digit_folders(root / "test", mnist.x_test, mnist.y_test, per_class=10, start=40)
    out = tmp_path / "words.keras"
    result = cli("train", "softmax", "--data", root, "--dataset", "fashion-mnist", "--epochs", "3", "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    assert f"Warning: --dataset fashion-mnist ignored: --data trains on the pictures in {root}" in result.stderr
    record = json.loads(result.stdout)
    assert record["data"]["layout"] == "train/test" and "test_files" not in record["data"]
    assert record["test"]["n"] == 100 and record["train_images"] == 360 and record["validation_images"] == 40
    evaluated = json.loads(cli("evaluate", out, "--json").stdout)
    assert evaluated["n"] == 100 and evaluated["evaluated_on"] == str(root / "test")
    assert evaluated["accuracy"] == pytest.approx(record["test"]["accuracy"])
    seven = np.flatnonzero(mnist.y_test == 7)[60]
    answer = json.loads(cli("predict", out, write_png(tmp_path / "7.png", mnist.x_test[seven]), "--json").stdout)
    assert answer["label"] in DIGIT_WORDS and len(answer["probabilities"]) == 10


@pytest.mark.backend
def test_idx_set_trains_a_preset_for_its_26_classes(tmp_path, cli) -> None:
    folder, _ = emnist_like(tmp_path / "letters")
    out = tmp_path / "letters.keras"
    record = train_folder(folder, out, None, preset="softmax", epochs=3, learning_rate=1e-2)
    assert record["spec"] == "flatten,dense(26)" and record["dataset"] == "idx:letters"
    assert record["test"]["n"] == 260 and record["test"]["accuracy"] >= 0.95
    meta = read_meta(out)
    assert meta.class_names[0] == "A" and meta.num_classes == 26 and meta.preparation == "digit"
    evaluated = json.loads(cli("evaluate", out, "--json").stdout)  # the record names the IDX folder
    assert evaluated["n"] == 260 and evaluated["accuracy"] == pytest.approx(record["test"]["accuracy"])
    assert evaluated["class_names"][-1] == "Z" and evaluated["evaluated_on"] == f"the IDX test set of {folder}"
    mine = cli("train", "--layers", "flatten,dense(10)", "--data", folder, "-o", tmp_path / "x.keras")
    assert mine.exit_code == 2 and "must end in dense(26)" in mine.stderr
    assert "ignored" not in mine.stderr  # --dataset not typed: nothing to warn about


@requires_mnist
@pytest.mark.backend
def test_builtin_runs_store_mnist_metadata(tmp_path) -> None:
    from convcli.training.run import TrainConfig, train

    out = tmp_path / "m.keras"
    train(TrainConfig.from_preset("softmax", None, epochs=1, limit=300, data_dir=str(MNIST), output=str(out)))
    meta = read_meta(out)
    assert meta.stored and meta.dataset == "mnist" and meta.class_names == [str(i) for i in range(10)]
    assert meta.preparation == "digit" and meta.input_shape == (28, 28, 1)


# --------------------------------------------------------------------------- shapes, options, batches


def test_summary_input_shape_arithmetic(cli) -> None:
    result = cli("summary", "cnn", "--image-size", "64x48", "--color", "rgb", "--json")
    assert result.exit_code == 0, result.stderr
    layers = json.loads(result.stdout)["layers"]
    assert layers[0]["params_formula"] == "16·5·5·3 + 16 = 1216"
    assert layers[0]["shape_formula"] == "(64 + 2·0 − 5)/1 + 1 = 60; (48 + 2·0 − 5)/1 + 1 = 44"
    assert layers[4]["output_shape"] == [13, 9, 32] and layers[4]["params"] == 4 * 32  # batch norm: γ, β, μ, σ²
    assert layers[5]["output_shape"] == [13 * 9 * 32] and layers[6]["params"] == 13 * 9 * 32 * 128 + 128


def test_a_preset_too_big_for_small_pictures_names_the_layer(cli) -> None:
    result = cli("summary", "lecture-cnn", "--image-size", "8")
    assert result.exit_code == 2
    assert "layer 4 'pool(2,name=max_pool_2)'" in result.stderr
    assert "its 2×2 window does not fit the 1×1×16 output" in result.stderr and "would be empty" in result.stderr
    assert "input 8×8×1 is too small" in result.stderr
    assert "--image-size must be H or HxW" in cli("summary", "cnn", "--image-size", "8x8x2").stderr


def test_bad_folder_options_fail_before_keras(cli, tmp_path) -> None:
    for args, message in [
        (["--data", tmp_path / "none"], "no such data folder"),
        (["--data", tmp_path, "--test-split", "1"], "--test-split must be in (0, 1)"),
        (["--image-size", "64"], "--image-size only apply to pictures from a data folder (--data DIR)"),
        (["--data", tmp_path, "--image-size", "0x5"], "--image-size must be two sides of 1 to 4096"),
    ]:
        result = cli("train", "cnn", *args, "-o", tmp_path / "m.keras")
        assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_flips_and_shifts_on_colour_pictures(rng) -> None:
    from convcli.training.data import ShuffledBatches, max_shift, shift_images

    x = rng.integers(0, 256, (64, 20, 30, 3)).astype(np.uint8)
    assert max_shift((28, 28)) == 2 and max_shift((20, 30, 3)) == 1 and max_shift((112, 150)) == 8
    shifted = shift_images(x, np.array([[1, -1]] * 64))
    np.testing.assert_array_equal(shifted[:, :-1, 1:], x[:, 1:, :-1])
    assert not shifted[:, -1].any() and not shifted[:, :, 0].any()
    batches = ShuffledBatches(x, np.arange(64), 64, seed=0, augment=False, flip=True)
    batches.on_epoch_end()
    xb, yb = batches[0]
    originals = x[yb].astype(np.float32) / 255
    mirrored = [np.array_equal(b, o[:, ::-1]) for b, o in zip(xb, originals)]
    same = [np.array_equal(b, o) for b, o in zip(xb, originals)]
    assert all(m or s for m, s in zip(mirrored, same)) and 20 < sum(mirrored) < 44


def test_checkpoints_carry_the_metadata_and_folder_runs_resume(tmp_path) -> None:
    from convcli.models.build import build_model
    from convcli.models.metadata import ModelMeta
    from convcli.training.checkpoints import RunState, read_checkpoint_state, resume_state, save_model
    from convcli.training.run import TrainConfig

    config = TrainConfig.from_preset(
        "cnn", None, data=str(tmp_path), image_size=(20, 30), color="rgb", flip=True, output=str(tmp_path / "m.keras")
    )
    config.validate()
    meta = ModelMeta("folder:shapes", ["a", "b", "c"], (20, 30, 3), "rgb", preparation="resize")
    checkpoint = tmp_path / "m.ckpt.keras"
    save_model(
        build_model("flatten,dense(3)", input_shape=(20, 30, 3), num_classes=3),
        checkpoint,
        RunState(config).as_json("interrupted"),
        meta,
    )
    assert read_meta(checkpoint) == meta and read_checkpoint_state(checkpoint)["status"] == "interrupted"
    resumed = resume_state(checkpoint, config.output).config
    resumed.validate()
    assert (resumed.data, resumed.image_size, resumed.color, resumed.flip) == (str(tmp_path), (20, 30), "rgb", True)
