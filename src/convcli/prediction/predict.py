"""Classifying a user's own digit images, prepared the way MNIST's digits were.

MNIST digits are light on dark, size-normalised into a 20×20 box keeping their aspect ratio,
and placed in a 28×28 field so that their centre of mass is at the centre. :func:`prepare_digit`
does the same to any photo or scan of one digit (dark-on-light or light-on-dark, any size), once
:mod:`convcli.prediction.digits` has found the digit's ink among the noise, lighting, paper and lines;
:func:`prepare_number` does it for each digit of a number written on one line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import input_error, param
from ..i18n import tr
from .digits import digit_ink, thickened

BOX = 20
FIELD = 28
UNCERTAIN_BELOW = 0.5
"""A prediction whose top probability is below this is reported as uncertain."""


def prepare_digit(image: np.ndarray, source: str = "image") -> np.ndarray:
    """Turn a picture of one digit into an MNIST-style 28×28 uint8 array (light digit on dark).

    Steps: gray; the digit's ink, found by :func:`convcli.prediction.digits.digit_ink` (noise, lighting,
    paper colour, ruled lines, other marks removed; either polarity); crop to it, thin strokes widened
    (:func:`~.digits.thickened`); fit into 20×20 keeping the aspect ratio; centre by mass in 28×28.
    A picture with no digit is an error naming ``source``. A 28×28 image that is already
    light on a black field (an MNIST digit saved as PNG) is kept as it is.
    """
    arr = gray_picture(image, source)
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    if arr.shape == (FIELD, FIELD) and border.max() == 0 and arr.max() > 0:
        # Already an MNIST-format digit (28×28, light on a black field): use it as it is.
        return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    return mnist_field(digit_ink(arr, source) * 255.0, source)


def gray_picture(image: np.ndarray, source: str = "image") -> np.ndarray:
    """A picture as a float64 gray (H, W) array (luma for colour), or an error naming ``source``."""
    from ..imaging.color import to_gray

    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 3:
        arr = to_gray(arr).astype(np.float64)
    if arr.ndim != 2 or arr.size == 0:
        raise input_error(tr("{source}: expected an image, got shape {shape}").format(source=source, shape=arr.shape))
    return arr


def mnist_field(ink: np.ndarray, source: str = "image") -> np.ndarray:
    """Light-on-black ink (0–255, 0 off the digit) cropped, thin strokes widened, fit in 20×20, centred in 28×28."""
    from PIL import Image

    rows = np.nonzero(ink.max(axis=1) > 0)[0]
    cols = np.nonzero(ink.max(axis=0) > 0)[0]
    if not rows.size:
        raise input_error(tr("{source}: no digit found (the image is blank or uniform)").format(source=source))
    crop = thickened(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = np.asarray(
        Image.fromarray(crop.astype(np.float32), mode="F").resize((new_w, new_h), Image.Resampling.LANCZOS),
        dtype=np.float64,
    )
    resized = np.clip(resized, 0, 255)
    total = resized.sum()
    if total <= 0:
        raise input_error(tr("{source}: no digit found (the image is blank or uniform)").format(source=source))
    yy, xx = np.indices(resized.shape)
    cy, cx = (yy * resized).sum() / total, (xx * resized).sum() / total
    centre = FIELD / 2  # 14: where MNIST puts the centre of mass (measured on its test set)
    # keep the whole box inside the field
    top = min(max(round(centre - cy), 0), FIELD - new_h)
    left = min(max(round(centre - cx), 0), FIELD - new_w)
    out = np.zeros((FIELD, FIELD), dtype=np.float64)
    out[top : top + new_h, left : left + new_w] = resized
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def center_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) centre of mass of a non-negative image."""
    arr = np.asarray(image, dtype=np.float64)
    yy, xx = np.indices(arr.shape)
    total = arr.sum()
    return float((yy * arr).sum() / total), float((xx * arr).sum() / total)


@dataclass
class Prediction:
    """One classified image: the class, all probabilities, and the input the model saw (28×28
    for a digit model, the resized picture for a model trained on a folder)."""

    input: str
    prediction: int
    probabilities: list[float]
    digit: np.ndarray
    seen: str | None = None
    """Where ``show_input`` wrote the input the model saw (None when not asked)."""
    class_names: list[str] = field(default_factory=list, repr=False)
    """The model's class names ("Ankle boot"); empty: the class index is its name (digits)."""

    def label_of(self, index: int) -> str:
        """Class ``index``'s name."""
        return self.class_names[index] if index < len(self.class_names) else str(index)

    @property
    def label(self) -> str:
        """The predicted class's name (the digit itself for MNIST models)."""
        return self.label_of(self.prediction)

    @property
    def probability(self) -> float:
        """The predicted class's probability."""
        return float(self.probabilities[self.prediction])

    @property
    def uncertain(self) -> bool:
        """Whether the model is too unsure to trust: top probability below :data:`UNCERTAIN_BELOW`."""
        return self.probability < UNCERTAIN_BELOW

    def top(self, k: int) -> list[tuple[int, float]]:
        """The ``k`` most likely classes with their probabilities."""
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(i), float(self.probabilities[i])) for i in order]

    def as_json(self, top_k: int | None = None) -> dict[str, Any]:
        """The ``--json`` object: input, prediction (index) and label (name), its probability,
        uncertain, probabilities, and the top K with their labels."""
        record: dict[str, Any] = {
            "input": self.input,
            "prediction": self.prediction,
            "label": self.label,
            "probability": self.probability,
            "uncertain": self.uncertain,
            "probabilities": self.probabilities,
        }
        if top_k:
            record["top"] = [{"class": c, "label": self.label_of(c), "probability": p} for c, p in self.top(top_k)]
        if self.seen is not None:
            record["seen"] = self.seen
        return record


@dataclass
class NumberPrediction:
    """A number written on one line: each digit's prediction, left to right, and where it was;
    the separators written between them (``/``, ``-``, ``.``), which are not digits."""

    input: str
    digits: list[Prediction]
    boxes: list[tuple[int, int, int, int]]
    """Each digit's (top, left, bottom, right) in the picture's pixels."""
    separators: list[tuple[int, str, tuple[int, int, int, int]]] = field(default_factory=list)
    """Each separator as (how many digits come before it, its character, its box)."""

    @property
    def number(self) -> str:
        """The digits read, as a string, with the separators where they were written
        ("2026", "12/05/2024", "555-0199"; leading zeros kept)."""
        text = [str(d.prediction) for d in self.digits]
        for position, char, _ in sorted(self.separators, key=lambda s: s[0], reverse=True):
            text.insert(position, char)
        return "".join(text)

    @property
    def uncertain(self) -> bool:
        """Whether any digit is uncertain."""
        return any(d.uncertain for d in self.digits)

    def as_json(self, top_k: int | None = None) -> dict[str, Any]:
        """The ``--json`` object: input, number, uncertain, and one record per digit with its box."""
        digits = []
        for digit, box in zip(self.digits, self.boxes):
            record = digit.as_json(top_k)
            del record["input"]
            record.pop("seen", None)
            digits.append({**record, "box": list(box)})
        separators = [{"char": c, "position": n, "box": list(box)} for n, c, box in self.separators]
        record = {"input": self.input, "number": self.number, "uncertain": self.uncertain, "digits": digits}
        record["separators"] = separators
        if self.digits and self.digits[0].seen is not None:
            record["seen"] = self.digits[0].seen
        return record


def predict_digits(
    model: Any,
    digits: np.ndarray,
    names: list[str],
    class_names: list[str] | None = None,
) -> list[Prediction]:
    """Classify prepared uint8 inputs, (N, 28, 28) digits or (N, H, W, C) pictures, with a loaded
    model whose classes are ``class_names`` (default: the class index)."""
    from ..models.inputs import model_pixels
    from .evaluation import predict_probabilities

    probs = predict_probabilities(model, model_pixels(model, digits))
    labels = list(class_names or [])
    return [
        Prediction(name, int(p.argmax()), [float(v) for v in p], d, class_names=labels)
        for name, p, d in zip(names, probs, digits)
    ]


def on_paper(picture: Any) -> np.ndarray:
    """A :class:`~convcli.imaging.decoding.Picture`'s colour as float32 0–255 with any transparency
    composited onto white paper (ImageMagick's ``-background white -alpha remove``): a transparent
    background stands for the paper a digit is drawn on, not for black."""
    values = picture.values()
    if picture.alpha is None:
        return values
    alpha = np.asarray(picture.alpha, dtype=np.float32) / np.float32(picture.peak)
    if values.ndim == 3:
        alpha = alpha[:, :, None]
    return values * alpha + np.float32(255.0) * (np.float32(1.0) - alpha)


def folder_pixels(image: Any, size: tuple[int, int] | None, color: str, source: str = "image") -> np.ndarray:
    """A decoded Pillow picture as uint8 (H, W, C) (folders' ``picture_pixels``) on white paper."""
    from ..datasets.folders import picture_pixels
    from ..imaging.decoding import picture_from_pil

    picture = picture_from_pil(image, source)
    if picture.alpha is not None:
        from PIL import Image

        image = Image.fromarray(np.clip(np.rint(on_paper(picture)), 0, 255).astype(np.uint8))
    return picture_pixels(image, size, color)


def prepare_picture(
    source: str,
    preparation: str,
    size: tuple[int, int],
    color: str,
    *,
    max_pixels: int | None = None,
    data: bytes | None = None,
    paper: str = "",
) -> np.ndarray:
    """The one reading of a user's picture for predict, evaluate, feature-maps and explain:
    transparency on white paper, then resized as a folder model's pictures were (``preparation``
    "resize", to ``size`` in ``color``, turned to the training pictures' ``paper``), framed like a
    built-in set's objects ("frame", :mod:`.framing`) or prepared like MNIST's digits ("digit")."""
    from ..imaging.decoding import open_picture
    from ..imaging.images import DEFAULT_MAX_PIXELS, open_image, read_bytes, read_picture
    from ..models.inputs import on_training_paper
    from .framing import framed

    limit = max_pixels or DEFAULT_MAX_PIXELS
    if preparation in ("resize", "frame"):
        image = open_image(read_bytes(source) if data is None else data, source, max_pixels=limit)
        pixels = folder_pixels(image, None if preparation == "frame" else size, color, source)
        return framed(pixels, size, paper) if preparation == "frame" else on_training_paper(pixels, paper)
    picture = read_picture(source, max_pixels=limit) if data is None else open_picture(data, source, max_pixels=limit)
    return prepare_digit(on_paper(picture), source)


def prepared_inputs(images: list[str], meta: Any, max_pixels: int | None) -> list[np.ndarray]:
    """Each picture as the model takes it (:func:`prepare_picture`, as ``preparation_for`` says)."""
    from ..models.inputs import paper_for, preparation_for

    size, how, paper = tuple(meta.input_shape[:2]), preparation_for(meta), paper_for(meta)
    return [prepare_picture(path, how, size, meta.color, max_pixels=max_pixels, paper=paper) for path in images]


def predict_files(
    model_path: str | os.PathLike[str],
    images: list[str],
    *,
    index: int | None = None,
    dataset: str | None = None,
    data_dir: str | None = None,
    max_pixels: int | None = None,
    show_input: str | os.PathLike[str] | None = None,
) -> list[Prediction]:
    """Classify image files or, with ``index``, one test image of the dataset. Pictures are
    prepared as the model's metadata says: like MNIST's digits, or resized as the folder's
    pictures were in training (models trained on a folder, which also name their classes).

    ``dataset`` (for ``index``): by default the one the model was trained on (its stored
    metadata). Predictions carry the model's class names. ``show_input``: where to save what
    the model saw (see :func:`convcli.prediction.seen.plan_seen`).
    """
    from ..models.inputs import warn_assumptions
    from ..models.metadata import class_names_for, dataset_for
    from ..models.runtime import load_runner
    from .seen import plan_seen, write_seen

    if index is None and not images:
        raise input_error(tr("give one or more IMAGE files, or index=N for a test image"))
    if index is not None and images:
        raise input_error(tr("give IMAGE files or index=N, not both"))
    meta, dataset = dataset_for(model_path, dataset)
    if index is not None and meta.preparation == "resize":
        message = tr("{model}: trained on {dataset} (pictures): give IMAGE files, not an index")
        raise input_error(message.format(model=model_path, dataset=meta.dataset))
    names = [f"{dataset}:test[{index}]"] if index is not None else list(images)
    targets = plan_seen(show_input, names) if show_input is not None else None
    if index is not None:
        digits = [dataset_test_image(index, dataset, data_dir)]
    else:
        digits = prepared_inputs(images, meta, max_pixels)
    model = load_runner(model_path, compile=False)  # a .keras model (run forward only), or an export
    warn_assumptions(model_path, meta, model)
    results = predict_digits(model, np.stack(digits), names, class_names_for(meta, dataset))
    if targets is not None:
        for result, path in zip(results, write_seen(targets, [[r.digit] for r in results])):
            result.seen = str(path)
    return results


def prepare_number(image: np.ndarray, source: str = "image") -> tuple[list[Any], list[Any]]:
    """A number written on one line: each digit's (box, MNIST-style 28×28), left to right, and the
    separators written between them, as :attr:`NumberPrediction.separators` holds them
    (:func:`convcli.prediction.numbers.number_marks`)."""
    from .numbers import number_marks

    marks = number_marks(gray_picture(image, source), source)
    return [(box, mnist_field(ink * 255.0, source)) for box, ink in marks.digits], marks.separators


def predict_number_files(
    model_path: str | os.PathLike[str],
    images: list[str],
    *,
    max_pixels: int | None = None,
    show_input: str | os.PathLike[str] | None = None,
) -> list[NumberPrediction]:
    """Read the number written on one line in each image: its digits segmented and classified
    (a model of another dataset's classes is refused)."""
    from ..imaging.images import DEFAULT_MAX_PIXELS, read_picture
    from ..models.inputs import warn_assumptions
    from ..models.metadata import DIGITS, read_meta
    from ..models.runtime import load_runner
    from .seen import plan_seen, write_seen

    if not images:
        raise input_error(tr("give one or more IMAGE files with a number written on one line"))
    meta = read_meta(model_path)
    if meta.class_names != DIGITS:
        message = tr("{model}: reading a number needs a digit model; this one was trained on {dataset} ({names}, …)")
        raise input_error(message.format(model=model_path, dataset=meta.dataset, names=", ".join(meta.class_names[:3])))
    targets = plan_seen(show_input, images) if show_input is not None else None
    limit = max_pixels or DEFAULT_MAX_PIXELS
    found, separators = [], []
    for path in images:
        digits, marks = prepare_number(on_paper(read_picture(path, max_pixels=limit)), path)
        found.append(digits)
        separators.append(marks)
    model = load_runner(model_path, compile=False)  # a .keras model (run forward only), or an export
    warn_assumptions(model_path, meta, model)
    flat = np.stack([digit for digits in found for _, digit in digits])
    names = [f"{path}[{i}]" for path, digits in zip(images, found) for i in range(len(digits))]
    predicted = iter(predict_digits(model, flat, names))
    results = [
        NumberPrediction(path, [next(predicted) for _ in digits], [box for box, _ in digits], marks)
        for path, digits, marks in zip(images, found, separators)
    ]
    if targets is not None:
        for result, path in zip(results, write_seen(targets, [[d.digit for d in r.digits] for r in results])):
            for digit in result.digits:
                digit.seen = str(path)
    return results


def model_input(model_path: str | os.PathLike[str], image: str) -> np.ndarray:
    """``image`` prepared as the model's metadata says: like MNIST's digits, or resized as its
    folder's pictures were in training."""
    from ..models.metadata import read_meta

    return prepared_inputs([str(image)], read_meta(model_path), None)[0]


def dataset_test_image(index: int, dataset: str = "mnist", data_dir: str | None = None) -> np.ndarray:
    """Test image ``index`` of a dataset, with a clear error when out of range."""
    return dataset_test_item(index, dataset, data_dir)[0]


def dataset_test_item(index: int, dataset: str = "mnist", data_dir: str | None = None) -> tuple[np.ndarray, str]:
    """Test image ``index`` of a dataset and its class name, with a clear error when out of range."""
    from ..datasets.idx import load_dataset

    data = load_dataset(dataset, data_dir)
    if not 0 <= index < len(data.x_test):
        message = tr("{flag} {index} is out of range: the {dataset} test set has {count:,} images (0 … {last})")
        count = len(data.x_test)
        raise input_error(
            message.format(flag=param("index"), index=index, dataset=dataset, count=count, last=count - 1)
        )
    label = int(data.y_test[index])
    return data.x_test[index], data.class_names[label] if label < len(data.class_names) else str(label)
