"""Shared test helpers: CLI runners (in-process and subprocess), the MNIST location and its skip
marker, and builders for the image and IDX bytes that tests write."""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# English unless a test asks otherwise (tests/test_i18n.py): a Spanish locale on the machine
# running the suite must not change the output the other tests compare.
os.environ["CONVCLI_LANG"] = "en"

if not os.environ.get("CONVCLI_DATA_DIR"):
    shared = ROOT.parent / "shared" / "datasets"
    if shared.is_dir():
        os.environ["CONVCLI_DATA_DIR"] = str(shared)


def mnist_dir() -> Path | None:
    """Folder holding the MNIST IDX files, or None when they are not beside the project."""
    base = os.environ.get("CONVCLI_DATA_DIR")
    if not base:
        return None
    for candidate in (Path(base) / "mnist", Path(base)):
        if (candidate / "t10k-labels-idx1-ubyte.gz").exists():
            return candidate
    return None


IN_CI = bool(os.environ.get("CONVCLI_CI"))
"""Under CI (``.ci/run`` sets CONVCLI_CI) a test whose material is missing fails instead of skipping."""


def requires(available: bool, reason: str) -> pytest.MarkDecorator:
    """Mark a test that needs material the machine may lack (MNIST, fonts, ImageMagick, a Debian
    data set): skipped when it is missing, but failed under CI, where `.ci/run` installs it."""
    return pytest.mark.requires(available, reason)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires"):
        available, reason = mark.args
        if not available:
            if IN_CI:
                pytest.fail(f"CI must have this: {reason}", pytrace=False)
            pytest.skip(reason)


MNIST = mnist_dir()
"""The MNIST folder for ``--data-dir`` (None when absent: tests that need it carry ``requires_mnist``)."""
requires_mnist = requires(MNIST is not None, "MNIST files not beside the project (../shared/datasets/mnist)")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
requires_fashion = requires(FASHION_DIR.is_dir(), "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
IMAGEMAGICK = shutil.which("convert-im6.q16")
"""Debian's ImageMagick 6 (a bare ``convert`` on PATH may be a stand-in)."""
requires_imagemagick = requires(
    IMAGEMAGICK is not None, "Debian's ImageMagick is not installed (apt-get install imagemagick)"
)


# --------------------------------------------------------------------------- running convcli


@pytest.fixture
def cli():
    """Invoke ``convcli`` in-process; returns the click Result (exit_code, stdout, stderr)."""
    from convcli.cli import app

    runner = CliRunner()

    def invoke(*args: str, input: bytes | str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


def convcli_argv(*args: str | os.PathLike[str]) -> list[str]:
    """The command line that runs ``convcli ARGS`` with this interpreter (for Popen as well)."""
    return [sys.executable, "-m", "convcli", *map(str, args)]


def run_convcli(
    *args: str | os.PathLike[str],
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``convcli ARGS`` in a fresh process from the project root, ``input`` on its stdin and
    ``env`` added to this environment; stdout and stderr come back as bytes."""
    return subprocess.run(
        convcli_argv(*args),
        input=input,
        capture_output=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        timeout=timeout,
    )


# --------------------------------------------------------------------------- files tests write


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def png_bytes(array: np.ndarray) -> bytes:
    """A uint8 (H, W) or (H, W, 3|4) array encoded as PNG by Pillow."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(path: Path, array: np.ndarray) -> Path:
    """Write ``array`` as a PNG file at ``path`` and return the path."""
    path.write_bytes(png_bytes(array))
    return path


def png_claiming(width: int, height: int, *, bit_depth: int = 8, colour: int = 0, data: bytes = bytes(64)) -> bytes:
    """A hand-made PNG whose header claims ``width``×``height`` pixels over a small IDAT of
    ``data`` (a decompression bomb when the claim is large)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b"")


def idx_header(type_code: int, dims: list[int] | tuple[int, ...]) -> bytes:
    """An IDX header: two zero bytes, the type code (0x08 = uint8), the rank, each dimension."""
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d & 0xFFFFFFFF) for d in dims)


def idx_bytes(array: np.ndarray) -> bytes:
    """An array as an uint8 IDX file (the MNIST format), uncompressed."""
    return idx_header(0x08, array.shape) + np.asarray(array).astype(np.uint8).tobytes()


@pytest.fixture
def color_png(tmp_path: Path, rng: np.random.Generator) -> Path:
    return write_png(tmp_path / "color.png", rng.integers(0, 256, (24, 31, 3)))


@pytest.fixture
def gray_png(tmp_path: Path, rng: np.random.Generator) -> Path:
    return write_png(tmp_path / "gray.png", rng.integers(0, 256, (20, 17)))


def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by every xdist worker of this run (and only this run)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """File ``name``, made by ``make(path)`` in whichever xdist worker asks first, under a lock, and
    reused by the others (pytest-xdist's documented pattern): a model trained once per run, not once
    per worker. ``make`` must leave no file at ``path`` when it fails."""
    import fcntl

    folder = shared_dir(tmp_path_factory) / "made-once"
    folder.mkdir(exist_ok=True)
    path = folder / name
    with open(folder / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            make(path)
    return path


def train_preset(preset: str, **options: object) -> Callable[[Path], None]:
    """A ``make`` for :func:`made_once`: ``convcli train PRESET`` with ``options`` on MNIST."""

    def make(path: Path) -> None:
        from convcli.training.run import TrainConfig, train

        train(TrainConfig.from_preset(preset, output=str(path), data_dir=str(MNIST), **options))

    return make


@pytest.fixture(scope="session")
def cnn3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``convcli train cnn --epochs 3 --seed 0`` on all of MNIST (a few minutes on 2 cores), trained
    once per run: the digit model of the photographed-digit and whole-number tests (mark them slow)."""
    if MNIST is None:
        pytest.skip("MNIST files not beside the project")
    return made_once(tmp_path_factory, "cnn3.keras", train_preset("cnn", epochs=3, seed=0))


@pytest.fixture(scope="session")
def small_cnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``convcli train cnn --epochs 2 --limit 20000 --seed 0`` (about 20–40 s), trained once per
    run for the tests that need a real digit model (mark them slow)."""
    if MNIST is None:
        pytest.skip("MNIST files not beside the project")
    return made_once(tmp_path_factory, "small-cnn.keras", train_preset("cnn", epochs=2, limit=20000, seed=0))


# --------------------------------------------------------------------------- the browser tests

CHROMIUM = os.environ.get("CONVCLI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # as root (CI), chromium's sandbox cannot start
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BROWSER_REQUIRED = bool(os.environ.get("CONVCLI_CI") or os.environ.get("CI"))
"""In CI (``.ci/run`` sets CONVCLI_CI and installs chromium and playwright) a missing browser fails."""


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).exists():
        return f"no chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (no browser download), for the explain page's and
    the static site's tests: skipped outside CI when chromium or playwright is missing."""
    reason = missing_browser()
    if reason:
        if BROWSER_REQUIRED:
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
