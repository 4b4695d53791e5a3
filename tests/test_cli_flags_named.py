"""Messages name what the user typed: the CLI writes the library's parameter names as flags
(``--image-size``, ``--strict``), and a model's real input shape is stated (issue 23)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import pytest
from conftest import requires_mnist, write_png

from convcli.cli.flags import flags_named


def _folder(root: Path, sizes: list[tuple[int, int]], junk: bool, rng: np.random.Generator) -> Path:
    """Two classes of noise pictures of ``sizes`` (and a notes.txt among them when ``junk``)."""
    for label in ("a", "b"):
        for i, size in enumerate(sizes):
            (root / label).mkdir(parents=True, exist_ok=True)
            write_png(root / label / f"{i}.png", rng.integers(0, 255, size, dtype=np.uint8))
    if junk:
        (root / "a" / "notes.txt").write_text("not a picture")
    return root


def test_mixed_sizes_name_the_image_size_flag(cli, tmp_path, rng) -> None:
    """Was: "choose one with image_size (H or HxW)"."""
    data = _folder(tmp_path / "pics", [(20, 16), (16, 16)], False, rng)
    result = cli("train", "--layers", "flatten,dense(2)", "--data", data, "-o", tmp_path / "m.keras")
    assert result.exit_code == 2
    assert "choose one with --image-size (H or HxW)" in result.stderr and "image_size" not in result.stderr


@pytest.mark.slow
def test_skipped_files_name_the_strict_flag(cli, tmp_path, rng) -> None:
    """Was: "skipped 1 of 9 files: not readable pictures (strict refuses them)"."""
    data = _folder(tmp_path / "pics", [(12, 12)] * 4, True, rng)
    args = ("--layers", "flatten,dense(2)", "--data", data, "--epochs", "1", "-o", tmp_path / "m.keras")
    result = cli("train", *args)
    assert result.exit_code == 0, result.stderr
    assert "skipped 1 of 9 files: not readable pictures (--strict refuses them)" in result.stderr
    strict = cli("train", *args, "--strict", "--force")
    assert strict.exit_code == 2 and "(--strict: every file must be a readable picture)" in strict.stderr


def test_other_options_are_named_as_flags(cli, tmp_path) -> None:
    result = cli("train", "cnn", "--image-size", "32", "--flip", "-o", tmp_path / "m.keras")
    assert result.exit_code == 2
    assert "--image-size and --flip only apply to pictures from a data folder (--data DIR)" in result.stderr
    assert "batch_size" not in cli("train", "cnn", "--batch-size", "0").stderr


def test_flags_named_leaves_values_and_prose_alone() -> None:
    command = click.Command(
        "summary",
        params=[click.Option(["--input", "input_shape"]), click.Option(["--strict/--no-strict"])],
    )
    message = "input_shape=input_shape is a name; give input_shape (strict=True refuses; strict mode)"
    assert (
        flags_named(message, command)
        == "input_shape=input_shape is a name; give --input (--strict refuses; strict mode)"
    )


@requires_mnist
def test_a_model_of_another_size_states_its_input_shape(cli, tmp_path) -> None:
    """A plain Keras model for 64×64 pictures on MNIST: both shapes in the same notation (was
    "inputs of shape (64, 64, 1), not 28×28×1 images")."""
    from convcli.backend import keras

    k = keras()
    model = k.Sequential([k.Input(shape=(64, 64, 1)), k.layers.Flatten(), k.layers.Dense(10, activation="softmax")])
    path = tmp_path / "plain.keras"
    model.save(path)
    result = cli("evaluate", path)  # no metadata, not MNIST's shape: which pictures is for the user to say
    assert result.exit_code == 2 and "give the labelled pictures to evaluate on (--data DIR)" in result.stderr
    result = cli("evaluate", path, "--dataset", "mnist")
    assert result.exit_code == 2
    assert "the model takes 64×64×1 inputs, not the 28×28×1 images given" in result.stderr
