"""Model metadata inside .keras files: written, read back, defaults, damage."""

from __future__ import annotations

import json
import zipfile

import pytest

from convcli.errors import ConvcliError
from convcli.models.metadata import META_ENTRY, ModelMeta, default_meta, read_meta, write_meta


def _zip(path, entries):
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)


def test_round_trip(tmp_path):
    path = tmp_path / "m.keras"
    _zip(path, {"config.json": "{}"})
    meta = ModelMeta(
        dataset="folder", class_names=["cat", "dog"], input_shape=(32, 48, 3), color="rgb", preparation="resize"
    )
    write_meta(path, meta)
    back = read_meta(path)
    assert back == meta
    assert back.label(1) == "dog" and back.num_classes == 2
    assert json.loads(zipfile.ZipFile(path).read(META_ENTRY))["input_shape"] == [32, 48, 3]


def test_old_models_are_mnist(tmp_path):
    path = tmp_path / "old.keras"
    _zip(path, {"config.json": "{}"})
    meta = read_meta(path)
    assert not meta.stored and meta.dataset == "mnist" and meta.class_names == [str(i) for i in range(10)]


def test_fashion_names():
    assert default_meta("fashion-mnist").label(9) == "Ankle boot"


@pytest.mark.parametrize(
    "entry",
    [
        "[]",
        '{"class_names": [], "input_shape": [28, 28, 1]}',
        '{"class_names": ["a"], "input_shape": [28, 28]}',
        "not json",
    ],
)
def test_damaged_entry_names_file(tmp_path, entry):
    path = tmp_path / "bad.keras"
    _zip(path, {"config.json": "{}", META_ENTRY: entry})
    with pytest.raises(ConvcliError, match=r"bad\.keras"):
        read_meta(path)


def test_dataset_for_defaults_to_the_stored_dataset(tmp_path, recwarn):
    from convcli.errors import ConvcliWarning
    from convcli.models.metadata import class_names_for, dataset_for

    fashion, old = tmp_path / "f.keras", tmp_path / "old.keras"
    for path in (fashion, old):
        _zip(path, {"config.json": "{}"})
    write_meta(fashion, default_meta("fashion-mnist"))
    meta, name = dataset_for(fashion, None)
    assert name == "fashion-mnist" and class_names_for(meta, name)[9] == "Ankle boot"
    assert dataset_for(old, None)[1] == "mnist" and dataset_for(old, "fashion-mnist")[1] == "fashion-mnist"
    assert not recwarn.list  # old models store nothing to disagree with
    with pytest.warns(ConvcliWarning, match=r"f\.keras: the model was trained on fashion-mnist, but dataset 'mnist'"):
        meta, name = dataset_for(fashion, "mnist")
    assert name == "mnist" and class_names_for(meta, name)[0] == "T-shirt/top"  # the model's outputs
    assert class_names_for(read_meta(old), "fashion-mnist")[9] == "Ankle boot"


def test_missing_model_file_is_the_load_error(tmp_path):
    with pytest.raises(ConvcliError, match=r"nope\.keras: no such model file"):
        read_meta(tmp_path / "nope.keras")
