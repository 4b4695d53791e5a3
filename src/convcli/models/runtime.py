"""Running a model without TensorFlow: exported ONNX and LiteRT files behind Keras's interface.

``predict`` and ``evaluate`` take a ``.keras`` file or one exported by ``convcli export``
(:mod:`convcli.models.export`). :func:`load_runner` returns, for an export, an object with the slice of
``keras.Model`` that prediction and evaluation use (``inputs[0].shape``, ``outputs[0].shape``,
``predict(x, batch_size=…, verbose=…)``), so pictures are prepared by the very same code
(:func:`convcli.datasets.scale_images`) and probabilities read the same way
(:func:`convcli.prediction.evaluation.predict_probabilities`). Nothing here imports TensorFlow or Keras:
onnxruntime (``pip install 'convcli[runtime]'``) or ai-edge-litert is enough.

An export's metadata (the ``.keras`` file's convcli.json) travels with it: inside the ONNX file
(``metadata_props["convcli"]``) or in a sidecar JSON beside a ``.tflite`` file
(``NAME.tflite.json``). A file made elsewhere carries none: what is assumed from its shape is
said in a warning (:func:`assumed_meta_data`). :mod:`convcli.models.metadata` reads these plain JSON
objects into its ``ModelMeta`` (this module does not import it).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import input_error, warn, work_error
from ..i18n import tr

META_KEY = "convcli"
"""The ONNX ``metadata_props`` key holding the model's metadata (the ``.keras`` file's convcli.json)."""
EXPORT_KINDS = {".onnx": "onnx", ".tflite": "litert"}
"""Model files convcli runs without TensorFlow, by suffix."""
RUNTIME_MODULES = {"onnx": ("onnxruntime", "onnxruntime"), "litert": ("ai_edge_litert.interpreter", "ai-edge-litert")}


def export_kind(path: str | os.PathLike[str]) -> str | None:
    """``"onnx"`` or ``"litert"`` for an exported model file, None for anything else (``.keras``)."""
    return EXPORT_KINDS.get(Path(path).suffix.lower())


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """Where an export's metadata lies when the format has no room for it: ``NAME.tflite.json``
    beside a LiteRT file, ``convcli.json`` inside a SavedModel folder."""
    p = Path(path)
    return p / f"{META_KEY}.json" if p.suffix.lower() not in EXPORT_KINDS else p.with_name(f"{p.name}.json")


def require(module: str, package: str, extra: str = "runtime") -> ModuleType:
    """Import ``module``, or a clear error naming the pip package and convcli's extra that bring it."""
    try:
        return import_module(module)
    except ImportError:
        raise input_error(
            tr("{package} is not installed: pip install 'convcli[{extra}]' (or pip install {package})").format(
                package=package, extra=extra
            )
        ) from None


@dataclass(frozen=True)
class Shaped:
    """A tensor's shape, as ``keras.Model.inputs[0]`` and ``outputs[0]`` carry it (batch first, None)."""

    shape: tuple[Any, ...]


class ExportedModel:
    """An exported model run by its light runtime, answering like a ``keras.Model`` to convcli's
    prediction code: ``inputs[0].shape`` (None, H, W, C), ``outputs[0].shape`` (None, K) and
    ``predict``. Channels-first ONNX inputs (N, C, H, W) are fed transposed."""

    kind = ""

    def __init__(self, path: Path, image_shape: tuple[int, ...], classes: int, channels_first: bool = False) -> None:
        self.path = path
        self.channels_first = channels_first
        self.inputs = [Shaped((None, *image_shape))]
        self.outputs = [Shaped((None, classes))]

    def run(self, batch: np.ndarray) -> np.ndarray:
        """One batch through the runtime (float32 in, the model's outputs out)."""
        raise NotImplementedError

    def predict(self, x: np.ndarray, batch_size: int = 1024, verbose: int = 0) -> np.ndarray:
        """The model's outputs for prepared inputs ``x`` (N, *input shape), ``batch_size`` at a time."""
        del verbose  # Keras's progress bar; a runtime shows none
        x = np.asarray(x, dtype=np.float32)
        if self.channels_first and x.ndim == 4:
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        parts = [self.run(x[i : i + batch_size]) for i in range(0, len(x), max(1, batch_size))]
        return np.concatenate(parts) if parts else np.zeros((0, self.outputs[0].shape[1]), np.float32)


class OnnxModel(ExportedModel):
    """An ONNX file run by onnxruntime on the CPU."""

    kind = "onnx"

    def __init__(self, path: Path) -> None:
        self.session = onnx_session(path)
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        if first.type != "tensor(float)":
            raise input_error(
                tr("{path}: the model takes {type} inputs; convcli feeds float32 pixels (0–1)").format(
                    path=path, type=first.type
                )
            )
        image_shape, channels_first = image_input_shape(first.shape[1:], path)
        out = self.session.get_outputs()[0].shape
        if len(out) != 2:
            raise input_error(
                tr("{path}: the model outputs shape {value}, not class scores").format(path=path, value=tuple(out))
            )
        super().__init__(path, image_shape, 0, channels_first)
        classes = out[-1] if isinstance(out[-1], int) else None
        if classes is None:  # a symbolic class axis: ask the model
            probe = np.zeros((1, *(first.shape[1:] if channels_first else image_shape)), np.float32)
            classes = int(self.run(probe).shape[-1])
        self.outputs = [Shaped((None, int(classes)))]

    def run(self, batch: np.ndarray) -> np.ndarray:
        """One batch through onnxruntime (its failures are errors naming the file)."""
        try:
            return np.asarray(self.session.run(None, {self.input_name: batch})[0])
        except Exception as exc:  # onnxruntime raises its own types
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise work_error(
                tr("{path}: onnxruntime failed ({message})").format(path=self.path, message=message[:200])
            ) from None


class LiteRTModel(ExportedModel):
    """A LiteRT (``.tflite``) file run by ai-edge-litert's interpreter; its batch axis is
    resized to each batch (``resize_tensor_input``)."""

    kind = "litert"

    def __init__(self, path: Path) -> None:
        interpreter_module = require(*RUNTIME_MODULES["litert"], extra="export")
        try:
            self.interpreter = interpreter_module.Interpreter(model_path=str(path))
        except (ValueError, RuntimeError) as exc:
            raise input_error(
                tr("{path}: not a LiteRT model ({value})").format(path=path, value=str(exc).splitlines()[0][:160])
            ) from None
        detail = self.interpreter.get_input_details()[0]
        if detail["dtype"] != np.float32:
            raise input_error(
                tr("{path}: the model takes {name} inputs; convcli feeds float32 pixels").format(
                    path=path, name=detail["dtype"].__name__
                )
            )
        self.input_index = detail["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]
        self.batch = -1
        image_shape, _ = image_input_shape(list(detail["shape"][1:]), path)
        classes = int(self.interpreter.get_output_details()[0]["shape"][-1])
        super().__init__(path, image_shape, classes)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """One batch through the interpreter, its input resized to the batch's size when it changes."""
        from ..backend import is_verbose, native_stderr_silenced

        quiet = contextlib.nullcontext() if is_verbose() else native_stderr_silenced()
        with quiet:  # the interpreter announces its CPU delegate on stderr
            if len(batch) != self.batch:
                self.interpreter.resize_tensor_input(self.input_index, list(batch.shape), strict=False)
                self.interpreter.allocate_tensors()
                self.batch = len(batch)
            self.interpreter.set_tensor(self.input_index, batch)
            self.interpreter.invoke()
        return np.array(self.interpreter.get_tensor(self.output_index))


def onnx_session(path: Path) -> Any:
    """An onnxruntime session for an ONNX file (CPU), or a clear error for a missing or damaged one.
    One per file and version: reading the metadata and then predicting load it once."""
    check_export_file(path)
    require(*RUNTIME_MODULES["onnx"])
    stat = path.stat()
    try:
        return _session(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise input_error(
            tr("{path}: not a usable ONNX model ({message})").format(path=path, message=message[:200])
        ) from None


@lru_cache(maxsize=4)
def _session(path: str, mtime_ns: int, size: int) -> Any:
    """The session of :func:`onnx_session`, cached by the file's path, time and size."""
    del mtime_ns, size  # part of the cache key only
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: its graph-optimisation notes are not the user's
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def check_export_file(path: Path) -> None:
    """Refuse a missing file or a folder before a runtime sees it."""
    if not path.exists():
        raise input_error(tr("{path}: no such model file").format(path=path))
    if path.is_dir():
        raise input_error(tr("{path}: is a folder, expected a model file").format(path=path))


def image_input_shape(dims: list[Any], source: str | os.PathLike[str]) -> tuple[tuple[int, ...], bool]:
    """A model input's shape without the batch axis as convcli feeds it, and whether the file
    wants channels first: (H, W, C) for (H, W, 1|3) or (1|3, H, W), (H, W), or (784,)."""
    fixed = [d for d in dims if isinstance(d, (int, np.integer)) and d > 0]
    if len(fixed) != len(dims) or len(dims) not in (1, 2, 3):
        raise input_error(
            tr("{source}: the model takes inputs of shape {value}, not fixed-size images").format(
                source=source, value=tuple(dims)
            )
        )
    shape = tuple(int(d) for d in dims)
    if len(shape) == 3 and shape[2] not in (1, 3) and shape[0] in (1, 3):
        return (shape[1], shape[2], shape[0]), True
    return shape, False


def load_runner(path: str | os.PathLike[str], *, compile: bool = True) -> Any:
    """A model to predict with: an :class:`OnnxModel` or :class:`LiteRTModel` for an export (no
    TensorFlow), else the ``.keras`` model loaded in safe mode (:func:`convcli.models.load_model`;
    ``compile=False``: without its loss and optimizer, for predict)."""
    kind = export_kind(path)
    if kind is None:
        from .build import load_model

        return load_model(path, compile=compile)
    p = Path(path)
    check_export_file(p)
    return OnnxModel(p) if kind == "onnx" else LiteRTModel(p)


def exported_meta_data(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """An export's metadata as stored (the ``.keras`` file's convcli.json): in the ONNX file or the
    LiteRT sidecar; else what its shape allows (:func:`assumed_meta_data`, with a warning)."""
    p = Path(path)
    data: Any = None
    if export_kind(p) == "onnx":
        text = onnx_session(p).get_modelmeta().custom_metadata_map.get(META_KEY)
        data = json.loads(text) if text else None
    else:
        check_export_file(p)
        side = sidecar_path(p)
        if side.is_file():
            try:
                data = json.loads(side.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise input_error(
                    tr("{side}: cannot read the model's metadata ({exc})").format(side=side, exc=exc)
                ) from None
    if isinstance(data, dict):
        return data
    runner = load_runner(p)
    return assumed_meta_data(tuple(runner.inputs[0].shape[1:]), runner.outputs[0].shape[1], str(p))


def assumed_meta_data(shape: tuple[int, ...], classes: int, source: str) -> dict[str, Any] | None:
    """What a model without convcli's metadata is taken to be, said in a warning: MNIST digits for
    a 28×28 gray (or 784-pixel) input with ten outputs (None: MNIST's defaults); else pictures
    resized to its input, gray or RGB by its channels, classes named by their index. Pixels are
    assumed scaled by 1/255."""
    if shape in ((28, 28, 1), (28, 28), (784,)) and classes == 10:
        warn(
            tr(
                "{source}: no convcli metadata: taken as an MNIST digit model (28×28 gray, light digit on dark, "
                "pixels scaled to 0–1, classes 0–9)"
            ).format(source=source)
        )
        return None
    if len(shape) < 2:
        raise input_error(
            tr("{source}: the model takes inputs of shape {shape}, not gray or RGB images").format(
                source=source, shape=shape
            )
        )
    channels = shape[2] if len(shape) == 3 else 1
    color = "gray" if channels == 1 else "rgb"
    warn(
        tr(
            "{source}: no convcli metadata: pictures are resized to {height}×{width} {color}, pixels scaled to "
            "0–1, and its {classes} classes are named by their index"
        ).format(source=source, height=shape[0], width=shape[1], color=color, classes=classes)
    )
    return {
        "dataset": "unknown",
        "class_names": [str(i) for i in range(classes)],
        "input_shape": [shape[0], shape[1], channels],
        "color": color,
        "scale": "1/255",
        "preparation": "resize",
        "source": "assumed",
    }


def plain_keras_meta_data(path: Path) -> dict[str, Any] | None:
    """A ``.keras`` file without convcli's entry (saved by plain Keras, or by convcli before the
    entry existed): None (MNIST's defaults, silently as always) when its input is MNIST's or
    cannot be read from its ``config.json``; else what its shapes allow, with a warning."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
        shape, classes = keras_config_shapes(config)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError, TypeError):
        return None
    if shape is None or classes is None or (shape in ((28, 28, 1), (28, 28), (784,)) and classes == 10):
        return None
    return assumed_meta_data(shape, classes, str(path))


def keras_config_shapes(config: dict[str, Any]) -> tuple[tuple[int, ...] | None, int | None]:
    """A saved model's input shape (no batch axis) and its last layer's units, from Keras's
    ``config.json`` (``build_config``, else the first InputLayer); None where not found."""
    dims = (config.get("build_config") or {}).get("input_shape")
    layers = (config.get("config") or {}).get("layers") or []
    if dims is None:
        inputs = [layer["config"] for layer in layers if layer.get("class_name") == "InputLayer"]
        dims = inputs[0].get("batch_shape") or inputs[0].get("batch_input_shape") if inputs else None
    units = [layer["config"]["units"] for layer in layers if "units" in (layer.get("config") or {})]
    shape = tuple(int(d) for d in dims[1:]) if dims and all(isinstance(d, int) for d in dims[1:]) else None
    return shape, int(units[-1]) if units else None
