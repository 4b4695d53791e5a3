"""Evaluation on arrays: accuracy, loss, confusion matrix and per-class precision/recall/F1.

Loading a model and a dataset to evaluate is a job: :func:`convcli.jobs.evaluate_file`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import input_error
from ..i18n import tr


@dataclass
class EvalResult:
    """Test-set metrics. ``confusion[i][j]`` counts images of class ``i`` predicted as ``j``;
    ``class_names[i]`` names class ``i`` ("Ankle boot"; the digit itself for MNIST)."""

    accuracy: float
    loss: float
    n: int
    confusion: np.ndarray
    per_class: list[dict[str, Any]]
    predictions: np.ndarray
    class_names: list[str] = field(default_factory=list)
    dataset: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` object (``per_class`` rows carry each class's ``label``)."""
        record: dict[str, Any] = {} if self.dataset is None else {"dataset": self.dataset}
        return {
            **record,
            "accuracy": self.accuracy,
            "loss": self.loss,
            "n": self.n,
            "class_names": self.class_names,
            "confusion": self.confusion.tolist(),
            "per_class": self.per_class,
        }


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Counts of (true, predicted) pairs as a num_classes × num_classes int array."""
    return np.bincount(
        y_true.astype(np.int64) * num_classes + y_pred.astype(np.int64),
        minlength=num_classes * num_classes,
    ).reshape(num_classes, num_classes)


def per_class_metrics(confusion: np.ndarray, class_names: list[str] | None = None) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support for each class (0 where undefined), with its label."""
    rows = []
    for c in range(confusion.shape[0]):
        tp = float(confusion[c, c])
        predicted = float(confusion[:, c].sum())
        actual = float(confusion[c, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        label = class_names[c] if class_names and c < len(class_names) else str(c)
        rows.append(
            {"class": c, "label": label, "precision": precision, "recall": recall, "f1": f1, "support": int(actual)}
        )
    return rows


def model_outputs(model: Any, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs for prepared images. Up to one batch of a Keras model: one call of the
    model (``model(x, training=False)``, the same batch ``predict`` would run), which skips what
    ``model.predict`` builds on its first call (a tf.data pipeline and a traced function: 0.1-0.2 s,
    most of a one-image ``predict``); more images, or an export, through ``predict``."""
    keras_module = sys.modules.get("keras")  # a Keras model only exists once Keras is imported
    if keras_module is not None and isinstance(model, keras_module.Model) and 0 < len(x) <= batch_size:
        return keras_module.ops.convert_to_numpy(model(x, training=False))
    return model.predict(x, batch_size=batch_size, verbose=0)


def predict_probabilities(model: Any, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities for prepared images; applies softmax if the model outputs logits."""
    probs = np.asarray(model_outputs(model, x, batch_size), dtype=np.float64)
    sums = probs.sum(axis=1)
    if probs.min() < 0 or not np.allclose(sums, 1.0, atol=1e-3):
        shifted = probs - probs.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
    return probs


def evaluate_arrays(
    model: Any, x: np.ndarray, y: np.ndarray, num_classes: int = 10, class_names: list[str] | None = None
) -> EvalResult:
    """Evaluate a model on uint8 images ``x`` and labels ``y`` (classes named by ``class_names``)."""
    from ..models.inputs import model_pixels

    if len(x) == 0:
        raise input_error(tr("no images to evaluate"))
    probs = predict_probabilities(model, model_pixels(model, x))
    if probs.shape[1] != num_classes:
        raise input_error(
            tr("the model predicts {predicted} classes, the dataset has {classes}").format(
                predicted=probs.shape[1], classes=num_classes
            )
        )
    pred = probs.argmax(axis=1)
    labels = y.astype(np.int64)
    eps = 1e-7
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], eps, 1.0))))
    confusion = confusion_matrix(labels, pred, num_classes)
    accuracy = float((pred == labels).mean())
    names = list(class_names) if class_names else [str(c) for c in range(num_classes)]
    return EvalResult(accuracy, loss, len(labels), confusion, per_class_metrics(confusion, names), pred, names)
