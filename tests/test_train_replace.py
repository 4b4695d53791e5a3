"""``train`` never replaces a trained model (or its record, or a checkpoint) silently: it
refuses with exit status 2, naming the file and --force (issue 23)."""

from __future__ import annotations

import json

import pytest
from conftest import MNIST, requires_mnist


@pytest.mark.parametrize("existing", ["model", "record"])
def test_an_existing_model_or_record_is_refused(cli, tmp_path, existing) -> None:
    """Was: a 91% model and its record replaced by a 48% one without a word."""
    out = tmp_path / "cnn.keras"
    kept = out if existing == "model" else tmp_path / "cnn.json"
    kept.write_bytes(b"the earlier run's work")
    result = cli("train", "softmax", "-o", out, "--epochs", "1", "--limit", "100")
    assert result.exit_code == 2
    assert str(kept) in result.stderr and "--force" in result.stderr and "force=True" not in result.stderr
    assert kept.read_bytes() == b"the earlier run's work"
    assert "epoch" not in result.stdout  # refused before any training


def test_a_checkpoint_is_refused_with_how_to_resume(cli, tmp_path) -> None:
    out = tmp_path / "cnn.keras"
    checkpoint = tmp_path / "cnn.ckpt.keras"
    checkpoint.write_bytes(b"an interrupted run")
    result = cli("train", "softmax", "-o", out, "--epochs", "1")
    assert result.exit_code == 2
    assert str(checkpoint) in result.stderr and "--resume CHECKPOINT" in result.stderr and "--force" in result.stderr


@pytest.mark.slow
@requires_mnist
def test_force_replaces_the_model_and_its_record(cli, tmp_path) -> None:
    out = tmp_path / "m.keras"
    args = ("train", "softmax", "-o", out, "--epochs", "1", "--limit", "600", "--data-dir", MNIST, "--json")
    first = cli(*args)
    assert first.exit_code == 0, first.stderr
    again = cli(*args, "--seed", "1")
    assert again.exit_code == 2 and "already exist" in again.stderr
    assert json.loads((tmp_path / "m.json").read_text())["seed"] == 0
    forced = cli(*args, "--seed", "1", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert json.loads((tmp_path / "m.json").read_text())["seed"] == 1
