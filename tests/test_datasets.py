"""IDX parsing and validation, the search order, and the real MNIST files beside the project."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from conftest import MNIST, idx_bytes, requires_fashion, requires_mnist

from convcli.datasets.idx import candidate_folders, load_dataset, load_idx_folder, load_npz, parse_idx
from convcli.errors import ConvcliError


def write_idx_set(
    folder: Path, n_train: int = 20, n_test: int = 10, gz: bool = True, labels_train: np.ndarray | None = None
) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    parts = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": labels_train if labels_train is not None else rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, arr in parts.items():
        data = idx_bytes(np.asarray(arr))
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return folder


def test_parse_idx_round_trip() -> None:
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(idx_bytes(arr)), arr)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "truncated IDX file"),
        (b"\x00\x00", "truncated IDX file"),
        (b"\x01\x02\x08\x01" + b"\x00" * 8, "bad magic number"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "truncated: header says 5"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "trailing bytes"),
        (b"\x00\x00\x08\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00", "truncated"),
    ],
)
def test_parse_idx_rejects(data: bytes, fragment: str) -> None:
    with pytest.raises(ConvcliError) as info:
        parse_idx(data, "f.idx")
    assert fragment in info.value.message


def test_load_folder_gzip_and_raw(tmp_path) -> None:
    a = load_idx_folder(write_idx_set(tmp_path / "gz"))
    b = load_idx_folder(write_idx_set(tmp_path / "raw", gz=False))
    assert a.x_train.shape == (20, 28, 28) and a.y_test.shape == (10,)
    np.testing.assert_array_equal(a.x_train, b.x_train)


def test_mismatched_counts(tmp_path) -> None:
    folder = write_idx_set(tmp_path / "m", labels_train=np.zeros(19, dtype=np.uint8))
    with pytest.raises(ConvcliError, match="20 train images but 19 labels"):
        load_idx_folder(folder)


def test_labels_out_of_range(tmp_path) -> None:
    folder = write_idx_set(tmp_path / "m", labels_train=np.full(20, 12, dtype=np.uint8))
    with pytest.raises(ConvcliError, match="labels outside 0–9"):
        load_idx_folder(folder)


def test_truncated_gzip(tmp_path) -> None:
    folder = write_idx_set(tmp_path / "t")
    target = folder / "t10k-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(ConvcliError, match="corrupted or truncated gzip"):
        load_idx_folder(folder)


def test_npz_layout(tmp_path) -> None:
    rng = np.random.default_rng(1)
    np.savez(
        tmp_path / "mnist.npz",
        x_train=rng.integers(0, 256, (5, 28, 28)).astype(np.uint8),
        y_train=np.arange(5, dtype=np.uint8),
        x_test=np.zeros((2, 28, 28), np.uint8),
        y_test=np.array([1, 2], np.uint8),
    )
    d = load_npz(tmp_path / "mnist.npz")
    assert d.x_train.shape == (5, 28, 28)
    assert load_dataset("mnist", tmp_path).source.endswith("mnist.npz")


def test_search_order(tmp_path, monkeypatch) -> None:
    first = write_idx_set(tmp_path / "a" / "mnist", n_train=3)
    write_idx_set(tmp_path / "b", n_train=4)
    monkeypatch.setenv("CONVCLI_DATA_DIR", str(tmp_path / "b"))
    assert len(load_dataset("mnist", tmp_path / "a").x_train) == 3  # --data-dir first
    assert len(load_dataset("mnist").x_train) == 4  # then CONVCLI_DATA_DIR
    folders = candidate_folders("mnist", tmp_path / "a")
    assert folders[0] == first
    assert Path("/usr/share/datasets/mnist") in folders


def test_offline_without_files_is_one_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CONVCLI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    monkeypatch.setenv("CONVCLI_NO_DOWNLOAD", "1")
    with pytest.raises(ConvcliError, match="mnist not found: put the four IDX files"):
        load_dataset("mnist")


def test_unknown_dataset() -> None:
    with pytest.raises(ConvcliError, match="did you mean 'mnist'"):
        load_dataset("mnsit")


@requires_mnist
def test_real_mnist_counts() -> None:
    d = load_dataset("mnist", MNIST)
    assert d.x_train.shape == (60000, 28, 28) and d.x_test.shape == (10000, 28, 28)
    assert np.bincount(d.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(d.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert d.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


@requires_fashion
def test_fashion_mnist_from_debian_package(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CONVCLI_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    d = load_dataset("fashion-mnist")
    assert d.source == "/usr/share/datasets/fashion-mnist"
    assert d.x_test.shape == (10000, 28, 28) and d.class_names[9] == "Ankle boot"
