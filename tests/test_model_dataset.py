"""A model knows what it was trained on: evaluate, predict, feature-maps and weights default to the
dataset stored in the model file, show its class names, and warn when asked for another dataset
or when a folder holds another dataset's files (known by their SHA-256)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import MNIST, requires, write_png

from convcli.datasets.idx import CLASS_NAMES
from convcli.errors import ConvcliWarning

pytestmark = pytest.mark.backend


FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_both = requires(
    MNIST is not None and FASHION.is_dir(), "MNIST beside the project and dataset-fashion-mnist installed"
)
FASHION_NAMES = CLASS_NAMES["fashion-mnist"]


@pytest.fixture(scope="module")
def fashion(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A small conv model trained on Fashion-MNIST through the CLI, and its run record."""
    from typer.testing import CliRunner

    from convcli.cli import app

    out = tmp_path_factory.mktemp("fashion") / "fash.keras"
    args = ["train", "--layers", "conv(4,3),pool(2),flatten,dense(10)", "--dataset", "fashion-mnist"]
    args += ["--epochs", "1", "--limit", "6000", "--learning-rate", "0.003", "-o", str(out), "--json"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return out, json.loads(result.stdout)


@pytest.fixture(scope="module")
def fashion_files_as_mnist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder whose ``mnist/`` holds Fashion-MNIST's four files (links)."""
    root = tmp_path_factory.mktemp("mixed")
    (root / "mnist").mkdir()
    for path in FASHION.glob("*-ubyte.gz"):
        (root / "mnist" / path.name).symlink_to(path)
    return root


@needs_both
def test_evaluate_defaults_to_the_models_dataset(cli, fashion) -> None:
    """Before: `evaluate fash.keras` scored the Fashion-MNIST model on MNIST (13.87%), silently."""
    model, record = fashion
    result = cli("evaluate", model, "--json")
    assert result.exit_code == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["dataset"] == "fashion-mnist" and got["n"] == 10000
    assert got["accuracy"] == pytest.approx(record["test"]["accuracy"], abs=1e-9)  # what training measured
    assert got["accuracy"] > 0.6 and "Warning" not in result.stderr
    assert got["class_names"] == FASHION_NAMES
    assert got["per_class"][9]["label"] == "Ankle boot" and got["per_class"][0]["label"] == "T-shirt/top"


@needs_both
def test_evaluate_tables_name_the_classes(cli, fashion) -> None:
    result = cli("evaluate", fashion[0])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    confusion_rows = [line.split("\t")[0] for line in lines[2:12]]
    assert confusion_rows == [f"{i} {name}" for i, name in enumerate(FASHION_NAMES)]
    per_class = lines[lines.index("class\tprecision\trecall\tf1\tsupport") + 1 :]
    assert per_class[9].startswith("9 Ankle boot\t") and per_class[9].endswith("\t1000")


@needs_both
def test_another_dataset_is_a_warning(cli, fashion) -> None:
    result = cli("evaluate", fashion[0], "--dataset", "mnist", "--json", "--data-dir", MNIST)
    assert result.exit_code == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(warning) == 1 and "trained on fashion-mnist" in warning[0] and "'mnist'" in warning[0]
    got = json.loads(result.stdout)
    assert got["dataset"] == "mnist" and got["accuracy"] < 0.5  # the model's classes are not digits


@needs_both
def test_another_datasets_files_are_a_warning_naming_both(cli, fashion, fashion_files_as_mnist) -> None:
    from convcli.datasets.idx import load_dataset

    with pytest.warns(ConvcliWarning, match=r"asked for MNIST, but its four files are Fashion-MNIST's"):
        data = load_dataset("mnist", fashion_files_as_mnist)
    assert data.name == "mnist"  # still loaded as asked
    result = cli("evaluate", fashion[0], "--dataset", "mnist", "--data-dir", fashion_files_as_mnist, "--json")
    assert result.exit_code == 0
    assert "asked for MNIST, but its four files are Fashion-MNIST's" in result.stderr
    assert json.loads(result.stdout)["accuracy"] > 0.6  # they are Fashion-MNIST's, after all


@needs_both
def test_the_right_files_give_no_warning(recwarn) -> None:
    from convcli.datasets.idx import load_dataset

    load_dataset("mnist", MNIST)
    load_dataset("fashion-mnist")
    assert not [w for w in recwarn if issubclass(w.category, ConvcliWarning)]


@needs_both
def test_canonical_checksums_are_the_files_on_disk() -> None:
    """The hard-coded SHA-256 are those of the gunzipped files (an independent hashlib pass)."""
    from convcli.datasets.canonical import CANONICAL_SHA256, FILE_NAMES

    for name, folder in (("mnist", MNIST), ("fashion-mnist", FASHION)):
        for key, base in FILE_NAMES.items():
            digest = hashlib.sha256(gzip.decompress((folder / f"{base}.gz").read_bytes())).hexdigest()
            assert CANONICAL_SHA256[name][key] == digest, (name, base)


@needs_both
def test_one_swapped_file_is_named(tmp_path) -> None:
    from convcli.datasets.idx import load_dataset

    folder = tmp_path / "mnist"
    folder.mkdir()
    for path in MNIST.glob("*-ubyte.gz"):
        (folder / path.name).symlink_to(path)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    (folder / "t10k-labels-idx1-ubyte.gz").symlink_to(FASHION / "t10k-labels-idx1-ubyte.gz")
    with pytest.warns(ConvcliWarning, match=r"t10k-labels-idx1-ubyte is Fashion-MNIST's") as caught:
        load_dataset("mnist", tmp_path)
    assert "train-images" not in str(caught[0].message)


@needs_both
def test_predict_shows_class_names(cli, fashion) -> None:
    model = fashion[0]
    result = cli("predict", model, "--index", "0", "--json", "--top", "3")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["input"] == "fashion-mnist:test[0]"  # the model's own test set (was mnist's)
    assert record["label"] == FASHION_NAMES[record["prediction"]]
    assert [t["label"] for t in record["top"]] == [FASHION_NAMES[t["class"]] for t in record["top"]]
    plain = cli("predict", model, "--index", "0", "--top", "2").stdout.rstrip("\n").split("\t")
    assert plain[1] == record["label"]
    assert plain[2].split("  ")[0] == f"{record['label']}:{record['probability']:.4f}"


@needs_both
def test_predict_digits_needs_a_digit_model(cli, fashion, tmp_path) -> None:
    picture = write_png(tmp_path / "n.png", np.pad(np.full((20, 6), 255), 10))
    result = cli("predict", fashion[0], picture, "--digits")
    assert result.exit_code == 2 and "needs a digit model" in result.stderr and "fashion-mnist" in result.stderr


@needs_both
def test_evaluate_plots_name_the_classes(cli, fashion, tmp_path, monkeypatch) -> None:
    import convcli.plots as plots

    seen: dict[str, object] = {}
    confusion, grid = plots.plot_confusion, plots.plot_digit_grid

    def spy_confusion(matrix, path, class_names=None, title=""):  # type: ignore[no-untyped-def]
        seen["confusion"] = list(class_names or [])
        return confusion(matrix, path, class_names, title)

    def spy_grid(images, titles, path, title, columns=10):  # type: ignore[no-untyped-def]
        seen["captions"] = list(titles)
        return grid(images, titles, path, title, columns)

    monkeypatch.setattr(plots, "plot_confusion", spy_confusion)
    monkeypatch.setattr(plots, "plot_digit_grid", spy_grid)
    result = cli("evaluate", fashion[0], "--plot", "--out-dir", tmp_path)
    assert result.exit_code == 0, result.stderr
    assert seen["confusion"] == FASHION_NAMES
    captions = seen["captions"]
    assert captions and all(c.split("\n")[0].split(" true ")[1] in FASHION_NAMES for c in captions)  # type: ignore[union-attr]
    assert all(c.split("\n")[1].removeprefix("pred ") in FASHION_NAMES for c in captions)  # type: ignore[union-attr]


@needs_both
def test_feature_map_titles_name_the_class(cli, fashion, tmp_path, monkeypatch) -> None:
    import convcli.plots as plots
    from convcli.datasets.idx import load_dataset

    titles: list[str] = []
    save_tiles = plots.save_tiles

    def spy(maps, path, title, **kwargs):  # type: ignore[no-untyped-def]
        titles.append(title)
        return save_tiles(maps, path, title, **kwargs)

    monkeypatch.setattr(plots, "save_tiles", spy)
    result = cli("feature-maps", fashion[0], "--index", "0", "-o", tmp_path / "maps.png")
    assert result.exit_code == 0, result.stderr
    label = FASHION_NAMES[int(load_dataset("fashion-mnist").y_test[0])]
    assert titles == [
        f"conv2d (Conv2D) on fashion-mnist test image 0 ({label})",
        f"max_pooling2d (MaxPooling2D) on fashion-mnist test image 0 ({label})",
    ]


@needs_both
def test_weights_text_names_the_dataset(cli, fashion) -> None:
    result = cli("weights", fashion[0], "--txt", "--filter-index", "0")
    assert result.exit_code == 0, result.stderr
    assert "# description: filter 0 of layer conv2d in fash.keras (trained on fashion-mnist)" in result.stdout


@needs_both
def test_a_kernel_filtered_on_0_255_pixels_differs_by_the_bias_over_255(cli, fashion, tmp_path) -> None:
    """The README's statement: the model sees x/255, so its pre-activation map is
    M = W·(x/255) + b, while `filter` on the 0–255 picture gives F = W·x + b; hence
    M = (F − b)/255 + b exactly (F = 255·M − 254·b)."""
    import keras

    from convcli.datasets.idx import load_dataset

    model_path = fashion[0]
    kernel = tmp_path / "k2.txt"
    result = cli("weights", model_path, "--txt", "--layer-name", "conv2d", "--filter-index", "2")
    kernel.write_text(result.stdout)
    x = load_dataset("fashion-mnist").x_test[0]
    picture = write_png(tmp_path / "x.png", x)
    out = tmp_path / "f.npy"
    r = cli("filter", picture, "-k", kernel, "--activation", "linear", "-o", out)  # the kernel file's bias applies
    assert r.exit_code == 0, r.stderr
    filtered = np.load(out)
    w, b = keras.saving.load_model(model_path).get_layer("conv2d").get_weights()
    scaled = x[None, :, :, None].astype("float32") / 255
    model_map = keras.ops.convert_to_numpy(keras.ops.conv(scaled, w[:, :, :, 2:3]))[0, :, :, 0] + b[2]
    np.testing.assert_allclose((filtered - b[2]) / 255 + b[2], model_map, atol=1e-5)
    assert abs(b[2]) > 1e-4 and not np.allclose(filtered / 255, model_map, atol=1e-5)  # the bias matters
