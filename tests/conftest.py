"""Shared fixtures: a CLI runner with separate stdout/stderr, paths, and data location."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

if not os.environ.get("CONVCLI_DATA_DIR"):
    shared = ROOT.parent / "shared" / "datasets"
    if shared.is_dir():
        os.environ["CONVCLI_DATA_DIR"] = str(shared)


@pytest.fixture
def cli():
    """Invoke ``convcli`` in-process; returns the click Result (exit_code, stdout, stderr)."""
    from convcli.cli import app

    runner = CliRunner()

    def invoke(*args: str, input: bytes | str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def write_png(path: Path, array: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def color_png(tmp_path: Path, rng: np.random.Generator) -> Path:
    return write_png(tmp_path / "color.png", rng.integers(0, 256, (24, 31, 3)))


@pytest.fixture
def gray_png(tmp_path: Path, rng: np.random.Generator) -> Path:
    return write_png(tmp_path / "gray.png", rng.integers(0, 256, (20, 17)))


def mnist_dir() -> Path | None:
    """Folder holding the MNIST IDX files, or None when they are not beside the project."""
    base = os.environ.get("CONVCLI_DATA_DIR")
    if not base:
        return None
    for candidate in (Path(base) / "mnist", Path(base)):
        if (candidate / "t10k-labels-idx1-ubyte.gz").exists():
            return candidate
    return None
