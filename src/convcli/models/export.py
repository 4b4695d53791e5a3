"""Exporting a trained ``.keras`` model to ONNX, LiteRT or a SavedModel, verified before it is kept.

Keras writes the file (``model.export``: tf2onnx for ONNX, TensorFlow's converter for LiteRT);
convcli adds what the ``.keras`` file knows (:class:`~convcli.models.metadata.ModelMeta`: class names,
input shape and colour, scaling, preparation) where each format has room for it: ONNX
``metadata_props["convcli"]``; a sidecar JSON for the other two (``NAME.tflite.json``,
``convcli.json`` inside the SavedModel folder). The batch axis stays dynamic.

Nothing is written until the exported model, run by its own runtime (onnxruntime, ai-edge-litert,
TensorFlow), has given the Keras model's answers on a sample of the model's test set, one picture
at a time and all at once (an odd batch): the same top class and every probability within
:data:`TOLERANCE`. A mismatch is an error. This is convcli's one TensorFlow-only feature besides
:mod:`convcli.backend`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import input_error, warn, work_error
from ..i18n import tr
from .metadata import EXPORT_FORMATS as FORMATS
from .runtime import META_KEY, sidecar_path

KERAS_FORMATS = {"onnx": "onnx", "litert": "litert", "savedmodel": "tf_saved_model"}
NEEDS = {
    "onnx": (("tf2onnx", "tf2onnx"), ("onnx", "onnx"), ("onnxruntime", "onnxruntime")),
    "litert": (("ai_edge_litert", "ai-edge-litert"),),
    "savedmodel": (),
}
"""What each format needs beyond convcli's own dependencies: (module, pip package)."""
TOLERANCE = 1e-5
"""Largest difference allowed between a probability from Keras and from the exported model."""
DEFAULT_SAMPLES = 65


@dataclass
class Verification:
    """How an export was checked: its runtime, the sample, the batch sizes, and what was measured."""

    runtime: str
    data: str
    samples: int
    batch_sizes: list[int]
    max_abs_diff: float
    top1_agree: int
    tolerance: float = TOLERANCE

    @property
    def passed(self) -> bool:
        """Same top class everywhere and every probability within the tolerance."""
        return self.top1_agree == self.samples and self.max_abs_diff <= self.tolerance


@dataclass
class ExportResult:
    """What ``export`` wrote and how it was verified."""

    model: str
    output: str
    format: str
    metadata: str
    """Where the model's metadata went: ``metadata_props`` or the sidecar's path."""
    verification: Verification
    meta: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` object."""
        return {**asdict(self), "verification": {**asdict(self.verification), "passed": self.verification.passed}}


def export_format(output: str | os.PathLike[str], fmt: str | None) -> str:
    """The format asked for, or the one ``output``'s suffix names (``.onnx``, ``.tflite``; no suffix:
    a SavedModel folder)."""
    if fmt is not None and fmt not in FORMATS:
        raise input_error(tr("unknown export format {value!r}: use onnx, litert or savedmodel").format(value=fmt))
    suffix = Path(output).suffix.lower()
    named = next((name for name, ending in FORMATS.items() if ending and suffix == ending), None)
    if fmt is not None:
        if named is not None and named != fmt:  # a LiteRT file named .onnx: no reader would take it
            message = tr("{path}: format {format} disagrees with the output's suffix {suffix!r} ({named})")
            raise input_error(message.format(path=output, format=fmt, suffix=suffix, named=named))
        return fmt
    for name, ending in FORMATS.items():
        if ending and suffix == ending:
            return name
    if suffix:
        raise input_error(
            tr("{path}: cannot tell the format from {suffix!r}; give --format onnx, litert or savedmodel").format(
                path=output, suffix=suffix
            )
        )
    return "savedmodel"


def check_export_tools(fmt: str) -> None:
    """Refuse early, naming the ``export`` extra, when a package the format needs is missing."""
    missing = [package for module, package in NEEDS[fmt] if find_spec(module) is None]
    if missing:
        raise input_error(
            tr(
                "exporting to {format} needs {packages}: pip install 'convcli[export]' (or pip install {listed})"
            ).format(format=fmt, packages=", ".join(missing), listed=" ".join(missing))
        )


def export_model(
    model_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    samples: int = DEFAULT_SAMPLES,
    data_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> ExportResult:
    """Export a ``.keras`` model to ``output`` in ``fmt`` (default: from the suffix), verified on
    ``samples`` pictures of its test set (made odd) before it is put in place. An existing export
    at ``output`` is replaced only with ``force``."""
    from ..errors import check_bounds
    from .build import check_model_archive
    from .metadata import read_meta

    fmt = export_format(output, fmt)
    check_bounds("samples", samples, 1, 100_000)
    check_model_archive(Path(model_path))  # a .keras file (an export is refused: it has no layers)
    out = check_export_output(output, model_path, fmt, force=force)
    check_export_tools(fmt)
    from ..datasets.idx import scale_images
    from .build import load_model
    from .inputs import check_image_model

    meta = read_meta(model_path)
    model = load_model(model_path)
    shape = check_image_model(model, str(model_path))
    if not meta.stored:  # no metadata, MNIST's shape: said in a warning
        from .metadata import ModelMeta, from_json
        from .runtime import assumed_meta_data

        assumed = assumed_meta_data(shape, int(model.outputs[0].shape[-1]), str(model_path))
        meta = ModelMeta(source="assumed") if assumed is None else from_json(assumed, str(model_path))
    pictures, described = sample_pictures(model_path, meta, shape, samples | 1, data_dir)
    x = scale_images(pictures, shape)
    model(x[:1])  # a model loaded from a file must be called once before Keras exports it
    stored = {**meta.as_json(), "exported_from": Path(model_path).name, "format": fmt}
    with staged(out, fmt) as tmp:
        write_export(model, tmp, fmt, stored)
        verification = verify_export(model, tmp, fmt, x, described)
        if not verification.passed:
            raise work_error(
                tr(
                    "{path}: the exported model does not answer like {model}: max |Δ| {diff:.3g} "
                    "(allowed {tolerance:g}), same top class on {agree} of {samples}; nothing written"
                ).format(
                    path=out,
                    model=model_path,
                    diff=verification.max_abs_diff,
                    tolerance=TOLERANCE,
                    agree=verification.top1_agree,
                    samples=verification.samples,
                )
            )
    where = "metadata_props" if fmt == "onnx" else str(sidecar_path(out))
    if fmt == "litert":
        from ..outputs import atomic_path

        with atomic_path(sidecar_path(out)) as side:
            side.write_text(json.dumps(stored, ensure_ascii=False, indent=1), encoding="utf-8")
    return ExportResult(str(model_path), str(out), fmt, where, verification, stored)


def check_export_output(
    output: str | os.PathLike[str], model_path: str | os.PathLike[str], fmt: str, *, force: bool = False
) -> Path:
    """The output path, checked before any work: its folder exists; a file for ONNX and LiteRT, a
    new folder (or a SavedModel to replace) for a SavedModel; nothing there unless ``force`` (an
    exported model is not replaced silently, as ``train`` does not replace a trained one)."""
    from ..outputs import check_output_path

    out = Path(output)
    if Path(model_path).resolve() == out.resolve():
        raise input_error(tr("{path}: output would overwrite its own input").format(path=out))
    if out.exists() and not force and (fmt != "savedmodel" or (out / "saved_model.pb").exists()):
        message = tr(
            "{path} already exists: export does not replace an exported model; "
            "give another output=FILE, or pass force=True to replace it"
        )
        raise input_error(message.format(path=out))
    if fmt != "savedmodel":
        return check_output_path(out, inputs=(model_path,))
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise input_error(tr("{path}: output folder {folder} does not exist").format(path=out, folder=parent))
    if out.exists() and not (out / "saved_model.pb").exists():
        raise input_error(
            tr("{path}: exists and is not a SavedModel; a SavedModel is written as a new folder").format(path=out)
        )
    return out


def sample_pictures(
    model_path: str | os.PathLike[str],
    meta: Any,
    shape: tuple[int, ...],
    count: int,
    data_dir: str | os.PathLike[str] | None,
) -> tuple[np.ndarray, str]:
    """``count`` pictures of the model's test set, spread over it, as uint8 (N, H, W[, C]), and what
    they are; random pictures (with a warning) when no test set can be found for it."""
    from ..datasets.idx import DATASETS, load_dataset
    from ..datasets.wording import BUILT_IN_TEST_SET, RANDOM, SAMPLE, UNREADABLE
    from ..errors import ConvcliError

    test: np.ndarray | None = None
    what = ""
    try:
        if meta.dataset in DATASETS and meta.input_shape == (28, 28, 1):
            test, what = load_dataset(meta.dataset, data_dir).x_test, BUILT_IN_TEST_SET.format(name=meta.dataset)
        elif meta.source != "assumed":  # a folder or an IDX set, named by the run record beside the model
            from ..datasets.folders import load_test_folder
            from ..jobs import recorded_data

            record = recorded_data(model_path)
            if record is not None:
                found, what = load_test_folder(record["folder"], meta, record)
                test = found.x_test
    except ConvcliError as exc:
        warn(
            tr("{path}: its test set cannot be read ({detail}); verifying on random pictures").format(
                path=model_path, detail=exc
            )
        )
        what = UNREADABLE
    if test is None or not len(test):
        if not what:
            warn(tr("{path}: no test set known for this model; verifying on random pictures").format(path=model_path))
        rng = np.random.default_rng(0)
        size = int(np.prod(shape))
        pictures = rng.integers(0, 256, size=(count, size), dtype=np.uint8).reshape((count, *shape))
        return pictures, RANDOM.format(count=count)
    picks = np.linspace(0, len(test) - 1, min(count, len(test)) | 1 if len(test) > 1 else 1).round().astype(int)
    return test[picks], SAMPLE.format(picked=len(picks), total=len(test), what=what)


@contextlib.contextmanager
def staged(out: Path, fmt: str) -> Iterator[Path]:
    """A temporary path beside ``out`` to export into, moved onto ``out`` when the block succeeds
    (a file, or a SavedModel folder replacing the previous one); removed on any failure."""
    folder = out.parent if str(out.parent) else Path(".")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=folder))
    except OSError as exc:
        raise work_error(
            tr("{path}: cannot write there ({reason})").format(path=out, reason=exc.strerror or exc)
        ) from None
    tmp = staging / ("model" + FORMATS[fmt])
    try:
        yield tmp
        if out.is_dir():
            old = staging / "previous"
            os.replace(out, old)
        os.replace(tmp, out)
    except OSError as exc:
        raise work_error(
            tr("{path}: cannot write it ({reason})").format(path=out, reason=exc.strerror or exc)
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_export(model: Any, path: Path, fmt: str, stored: dict[str, Any]) -> None:
    """Keras's export of ``model`` to ``path``, with the metadata added where the format keeps it."""
    import warnings

    from ..backend import is_verbose, native_stderr_silenced

    quiet = contextlib.nullcontext() if is_verbose() else native_stderr_silenced()
    try:
        with warnings.catch_warnings(), quiet:
            warnings.simplefilter("ignore")
            model.export(str(path), format=KERAS_FORMATS[fmt], verbose=is_verbose())
    except Exception as exc:  # tf2onnx and the converters raise many types
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise work_error(
            tr("exporting to {format} failed: {detail}").format(format=fmt, detail=message[:300])
        ) from None
    text = json.dumps(stored, ensure_ascii=False)
    if fmt == "onnx":
        import onnx

        proto = onnx.load(str(path))
        del proto.metadata_props[:]
        onnx.helper.set_model_props(proto, {META_KEY: text})
        proto.doc_string = f"convcli export of {stored['exported_from']}: {stored['dataset']} classifier"
        onnx.save(proto, str(path))
    elif fmt == "savedmodel":
        sidecar_path(path).write_text(text, encoding="utf-8")


def verify_export(model: Any, path: Path, fmt: str, x: np.ndarray, described: str) -> Verification:
    """Run the exported model in its own runtime on ``x`` one at a time and as one (odd) batch,
    and compare its probabilities with the Keras model's."""
    from ..prediction.evaluation import predict_probabilities

    expected = predict_probabilities(model, x)
    runner, runtime = export_runner(path, fmt)
    batch_sizes = [1, len(x)] if len(x) > 1 else [1]
    worst, agree = 0.0, len(x)
    for size in batch_sizes:
        got = predict_probabilities(runner, x, batch_size=size)
        if got.shape != expected.shape:
            raise work_error(
                tr("the exported model gives outputs of shape {shape}, Keras {expected}").format(
                    shape=got.shape, expected=expected.shape
                )
            )
        worst = max(worst, float(np.abs(got - expected).max()))
        agree = min(agree, int((got.argmax(axis=1) == expected.argmax(axis=1)).sum()))
    return Verification(runtime, described, len(x), batch_sizes, worst, agree)


class SavedModelRunner:
    """A SavedModel run by TensorFlow (its ``serve`` endpoint), with a Keras-like ``predict``."""

    def __init__(self, path: Path) -> None:
        import tensorflow as tf

        self.loaded = tf.saved_model.load(str(path))  # kept: its functions reference its variables

    def predict(self, x: np.ndarray, batch_size: int = 1024, verbose: int = 0) -> np.ndarray:
        """The model's outputs, ``batch_size`` pictures at a time."""
        del verbose
        step = max(1, batch_size)
        return np.concatenate([np.asarray(self.loaded.serve(x[i : i + step])) for i in range(0, len(x), step)])


def export_runner(path: Path, fmt: str) -> tuple[Any, str]:
    """The exported file loaded in its own runtime, and that runtime's name and version."""
    if fmt == "savedmodel":
        import tensorflow as tf

        return SavedModelRunner(path), f"tensorflow {tf.__version__}"
    from importlib.metadata import version

    from .runtime import LiteRTModel, OnnxModel

    if fmt == "onnx":
        return OnnxModel(path), f"onnxruntime {version('onnxruntime')}"
    return LiteRTModel(path), f"ai-edge-litert {version('ai-edge-litert')}"
