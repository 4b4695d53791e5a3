"""The CLI's error handling and its stdout: real OS errors name the file and reason, stdout carries
nothing but results (no download notes, no status lines before a usage error)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, ROOT, write_png
from PIL import Image

PY = sys.executable


def only_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    assert "unexpected" not in lines[0] and "Traceback" not in stderr
    return lines[0]


def test_os_error_names_the_file_and_reason(cli, color_png, tmp_path) -> None:
    """A real OSError (a folder name longer than the file system allows) is one `Error:` line with
    the path and the reason, exit status 1: not "unexpected OSError"."""
    folder = tmp_path / ("a" * 300)
    result = cli("gray", color_png, "-o", folder / "g.png")
    assert result.exit_code == 1, result.stderr
    assert only_error_line(result.stderr) == f"Error: {folder}: File name too long"


def test_full_stdout_is_an_error_naming_stdout(color_png) -> None:
    """Writing results to a full device (/dev/full): exit 1 and one line saying so."""
    for args in (["gray", str(color_png), "-o", "-"], ["filter", str(EXAMPLES / "lecture-5x5.txt"), "-k", "sharpen"]):
        with open("/dev/full", "wb") as full:
            result = subprocess.run(
                [PY, "-m", "convcli", *args], stdout=full, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120
            )
        assert result.returncode == 1, (args, result.stderr)
        assert only_error_line(result.stderr) == "Error: standard output: cannot write (No space left on device)"


def test_gray_json_records_the_file_written(cli, color_png, tmp_path) -> None:
    out = tmp_path / "g.png"
    result = cli("gray", color_png, "-o", out, "--method", "average", "--json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record == {"input": str(color_png), "output": str(out), "method": "average", "shape": [24, 31]}
    assert np.asarray(Image.open(out)).shape == (24, 31)
    raw = tmp_path / "g.npy"
    record = json.loads(cli("gray", color_png, "-o", raw, "--json").stdout)
    assert record["output"] == str(raw) and list(np.load(raw).shape) == record["shape"]
    both = cli("gray", color_png, "-o", "-", "--json")
    assert both.exit_code == 2 and both.stdout == "" and "both want stdout" in both.stderr


def test_unknown_dataset_is_refused_before_anything_prints(cli) -> None:
    """`train --dataset cifar10` used to print "loading cifar10" on stdout before its error."""
    result = cli("train", "softmax", "--dataset", "cifar10")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[0] == (
        "Error: Invalid value for '--dataset': 'cifar10' is not one of 'mnist', 'fashion-mnist'."
    )


def test_failed_download_prints_nothing_on_stdout_and_leaves_no_folder(tmp_path) -> None:
    """With fashion-mnist nowhere on disk and no network, Keras's "Downloading data from …" goes to
    stderr, the error is one line, and no empty ~/.keras/datasets/fashion-mnist/ is left behind."""
    keras_home = tmp_path / "keras"
    keras_home.mkdir()
    code = (
        "import sys\n"
        "import convcli.datasets.idx as d\n"
        "d.candidate_folders = lambda name, data_dir=None: []  # not on disk (hides /usr/share/datasets)\n"
        "from convcli.entry import main\n"
        "sys.argv = ['convcli', *sys.argv[1:]]\n"
        "main()\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CONVCLI_DATA_DIR", "CONVCLI_NO_DOWNLOAD")}
    env.update(KERAS_HOME=str(keras_home), HOME=str(tmp_path))
    result = subprocess.run(
        [PY, "-c", code, "train", "softmax", "--dataset", "fashion-mnist", "--json", "-o", str(tmp_path / "m.keras")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith("Error: fashion-mnist not found: put the four IDX files")
    assert not (keras_home / "datasets" / "fashion-mnist").exists()
    assert not (keras_home / "datasets").exists()
    assert not Path(tmp_path / "m.keras").exists()


def test_messages_name_the_flag_through_the_cli_and_the_parameter_in_the_library(cli, tmp_path) -> None:
    """One rule: the library names its parameters, the CLI the flags the user typed."""
    from convcli.errors import ConvcliError
    from convcli.filtering.pipeline import filter_images

    picture = write_png(tmp_path / "p.png", np.zeros((8, 8), np.uint8))
    result = cli("filter", picture, "-k", "edges", "-o", picture)
    assert result.exit_code == 2 and "(--in-place allows it)" in result.stderr
    with pytest.raises(ConvcliError, match=r"\(in_place allows it\)"):
        filter_images([str(picture)], ["edges"], output=str(picture))
    result = cli("gray", picture, "-o", tmp_path / "g.png", "--max-pixels", "10")
    assert result.exit_code == 2 and "raise --max-pixels" in result.stderr and "max_pixels" not in result.stderr
    result = cli("train", "softmax", "--batch-size", "0", "-o", tmp_path / "m.keras")
    assert result.exit_code == 2 and "--batch-size must be at least 1" in result.stderr


def test_name_flags_maps_marked_and_snake_case_parameters() -> None:
    from convcli.cli.flags import name_flags
    from convcli.errors import param

    flags = {"max_pixels": "--max-pixels", "index": "--index", "top": "--top"}
    assert name_flags(f"raise max_pixels; give {param('index')} N", flags) == "raise --max-pixels; give --index N"
    assert name_flags("an index and a max_value", flags) == "an index and a max_value"  # unmarked words stay
    assert name_flags(f"use {param('filters')}", {}) == "use filters"  # not a flag here: the plain name


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_evaluate_on_a_missing_data_folder_is_a_usage_error_naming_it(cli, tmp_path, dataset) -> None:
    """``evaluate MODEL --data DIR`` with no such folder (or a file) is exit 2 and one line saying
    so, for a digit model and for a Fashion-MNIST one (before: the raw OSError text, exit 1)."""
    import keras

    from convcli.models.metadata import default_meta, write_meta

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    model_path = tmp_path / "model.keras"
    model.save(model_path)
    write_meta(model_path, default_meta(dataset))
    picture = tmp_path / "seven.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(picture)
    for data in (tmp_path / "no-such", picture):
        result = cli("evaluate", str(model_path), "--data", str(data))
        assert result.exit_code == 2, result.output
        assert result.stderr.strip().splitlines() == [f"Error: {data}: no such folder"]


def test_a_model_without_the_layers_asked_for_is_named(cli, tmp_path) -> None:
    """``weights`` and ``feature-maps`` on a model with no conv layer: one error line naming the
    model's file (before: "the model has no Conv2D layer", no file)."""
    import keras

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    path = tmp_path / "flat.keras"
    model.save(path)
    digit = tmp_path / "seven.png"
    Image.fromarray(np.pad(np.full((20, 8), 255, np.uint8), 4)).save(digit)
    for args, kinds in [
        (["weights", str(path), "-o", str(tmp_path / "w.png")], "Conv2D"),
        (["feature-maps", str(path), str(digit), "-o", str(tmp_path / "f.png")], "Conv2D or MaxPooling2D"),
    ]:
        result = cli(*args)
        assert result.exit_code == 2, result.stderr
        assert f"Error: {path}: the model has no {kinds}" in result.stderr


def test_layers_from_a_folder_is_one_error_naming_it(cli, tmp_path) -> None:
    """``--layers-from DIR`` says it is a folder (before: the OS text, "Is a directory")."""
    result = cli("summary", "--layers-from", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {tmp_path}: is a folder, expected a file"
