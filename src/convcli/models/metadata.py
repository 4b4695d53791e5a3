"""What a model was trained on, stored inside its ``.keras`` file.

A ``.keras`` file is a zip archive; convcli adds one entry, ``convcli.json``, next to Keras's own
(Keras ignores entries it does not know, so the file still loads anywhere). It records the
dataset, the class names, the input shape, the colour mode and how pixels were scaled, so that
``evaluate``, ``predict``, ``feature-maps`` and ``explain`` default to what the model expects.
Models written before this existed carry no entry: they are taken as MNIST digit models.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import input_error, warn
from ..i18n import tr

EXPORT_FORMATS = {"onnx": ".onnx", "litert": ".tflite", "savedmodel": ""}
"""Formats a model is exported to and the file suffix each is inferred from (a SavedModel is a
folder); here, numpy-free, so the CLI offers them without loading :mod:`convcli.models.export`."""

META_ENTRY = "convcli.json"
"""The zip entry holding the metadata."""
META_VERSION = 1

DIGITS = [str(i) for i in range(10)]


@dataclass(frozen=True)
class ModelMeta:
    """What a model expects and what its outputs mean.

    ``preparation`` is ``"digit"`` for MNIST-style models (a user's picture is cropped, boxed to
    20×20 and centred by mass, as MNIST's digits were made) and ``"resize"`` for models trained
    on a folder of pictures (resized to ``input_shape``, as in training). Pixels are always
    divided by 255 (``scale``), so a model takes values in [0, 1].
    """

    dataset: str = "mnist"
    class_names: list[str] = field(default_factory=lambda: list(DIGITS))
    input_shape: tuple[int, int, int] = (28, 28, 1)
    color: str = "gray"
    scale: str = "1/255"
    preparation: str = "digit"
    source: str = ""
    paper: str = "dark"
    """The training pictures' background: ``dark`` (MNIST, Fashion-MNIST: light on black) or
    ``light`` (dark on white, as many scans and photos); empty when not recorded (older models)."""
    stored: bool = True

    @property
    def num_classes(self) -> int:
        """How many classes the model's output scores."""
        return len(self.class_names)

    def label(self, index: int) -> str:
        """The class name of output ``index``."""
        return self.class_names[index] if 0 <= index < len(self.class_names) else str(index)

    def as_json(self) -> dict[str, Any]:
        """The stored form (plain JSON values)."""
        data = asdict(self)
        data.pop("stored")
        data["input_shape"] = list(self.input_shape)
        data["version"] = META_VERSION
        return data


def default_meta(dataset: str = "mnist") -> ModelMeta:
    """The metadata of a built-in dataset's 28×28 gray model."""
    from ..datasets.idx import CLASS_NAMES

    return ModelMeta(dataset=dataset, class_names=list(CLASS_NAMES.get(dataset, DIGITS)))


def from_json(data: dict[str, Any], source: str = "model") -> ModelMeta:
    """Validate a stored entry; a damaged one is an error naming the file."""
    try:
        names = [str(n) for n in data["class_names"]]
        shape = tuple(int(v) for v in data["input_shape"])
        if len(shape) != 3 or min(shape) < 1 or not names:
            raise ValueError("input_shape must be H, W, C and class_names non-empty")
        return ModelMeta(
            dataset=str(data.get("dataset", "unknown")),
            class_names=names,
            input_shape=shape,  # type: ignore[arg-type]
            color=str(data.get("color", "gray" if shape[2] == 1 else "rgb")),
            scale=str(data.get("scale", "1/255")),
            preparation=str(data.get("preparation", "digit")),
            source=str(data.get("source", "")),
            paper=str(data.get("paper", "dark" if data.get("preparation", "digit") == "digit" else "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise input_error(
            tr("{source}: damaged convcli metadata inside the model ({exc})").format(source=source, exc=exc)
        ) from None


def read_meta(path: str | os.PathLike[str]) -> ModelMeta:
    """The metadata stored in a ``.keras`` file, or MNIST's (``stored=False``) when it has none.

    A missing, non-zip or damaged model file is the same error :func:`convcli.models.load_model` gives.
    An exported model (``.onnx``, ``.tflite``) carries its own; a model without any is taken for
    what its shapes allow, with a warning (:mod:`convcli.models.runtime`).
    """
    from .runtime import export_kind, exported_meta_data, plain_keras_meta_data

    if export_kind(path) is not None:
        found = exported_meta_data(path)
        return ModelMeta(stored=False) if found is None else from_json(found, str(path))
    from .build import check_model_archive  # here: an export needs none of build's layer-spec imports

    p = Path(path)
    check_model_archive(p)
    try:
        with zipfile.ZipFile(p) as archive:
            stored = META_ENTRY in archive.namelist()
            data = json.loads(archive.read(META_ENTRY)) if stored else None
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise input_error(tr("{side}: cannot read the model's metadata ({exc})").format(side=p, exc=exc)) from None
    if not stored:  # plain Keras, or convcli before the entry existed
        found = plain_keras_meta_data(p)
        return ModelMeta(stored=False) if found is None else from_json(found, str(p))
    if not isinstance(data, dict):
        raise input_error(tr("{source}: damaged convcli metadata inside the model (not an object)").format(source=p))
    return from_json(data, str(p))


def write_meta(archive_path: str | os.PathLike[str], meta: ModelMeta) -> None:
    """Add the metadata entry to a freshly saved ``.keras`` file (call before it is renamed into place)."""
    with zipfile.ZipFile(archive_path, "a") as archive:
        archive.writestr(META_ENTRY, json.dumps(meta.as_json(), ensure_ascii=False))


def dataset_for(model_path: str | os.PathLike[str], dataset: str | None) -> tuple[ModelMeta, str]:
    """The model's metadata and the dataset to use with it: the one it was trained on unless
    ``dataset`` is given. A ``dataset`` that disagrees with the stored one is used as asked, with
    a :class:`~convcli.errors.ConvcliWarning` (a digit model on Fashion-MNIST is a fair question,
    but its scores mean little)."""
    meta = read_meta(model_path)
    if dataset is None:
        return meta, meta.dataset
    if meta.stored and dataset != meta.dataset:
        message = tr(
            "{model}: the model was trained on {trained}, but dataset {dataset} was asked for; "
            "its outputs are {trained} classes, so the results mean little"
        )
        warn(message.format(model=model_path, trained=meta.dataset, dataset=repr(dataset)))
    return meta, dataset


def class_names_for(meta: ModelMeta, dataset: str) -> list[str]:
    """The names of the model's output classes: its stored ones, else (an old model, which
    stores none) those of ``dataset``, the dataset it is used with."""
    return list(meta.class_names if meta.stored else default_meta(dataset).class_names)
