"""What training minimises and how fast: the loss, optionally label-smoothed, what it is
called wherever it is shown, and the learning-rate schedule.

One meaning everywhere: the training, validation and test losses of a run are all the loss the
model was compiled with. When labels are smoothed that is not the plain cross-entropy (a
perfect model scores about 0.5 rather than 0 at ε = 0.1), so every display labels it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SCHEDULES = ("constant", "cosine", "onecycle")
PLAIN_LOSS_LABEL = "cross-entropy"


def targets(y: np.ndarray, label_smoothing: float, num_classes: int = 10) -> np.ndarray:
    """Labels as the loss wants them: class numbers, or one-hot rows when labels are smoothed
    (Keras smooths only one-hot targets)."""
    if label_smoothing <= 0:
        return y
    return np.eye(num_classes, dtype=np.float32)[y.astype(np.int64)]


def training_loss(label_smoothing: float) -> Any:
    """Cross-entropy on class numbers, or on one-hot targets smoothed towards uniform: the
    true class gets 1 − ε + ε/10 and every other ε/10 (a built-in loss, so models load safely)."""
    if label_smoothing <= 0:
        return "sparse_categorical_crossentropy"
    from ..backend import keras

    return keras().losses.CategoricalCrossentropy(label_smoothing=label_smoothing)


def label_smoothing_of(model: Any) -> float:
    """The ε of the loss ``model`` was compiled with (0 for plain cross-entropy)."""
    get_config = getattr(model.loss, "get_config", None)
    return float(get_config().get("label_smoothing", 0.0)) if get_config else 0.0


def loss_label(label_smoothing: float) -> str:
    """What the loss is, for the run record and the curves plot's axis."""
    if label_smoothing <= 0:
        return PLAIN_LOSS_LABEL
    return f"{PLAIN_LOSS_LABEL} with label smoothing {label_smoothing:g}"


def loss_key(key: str, label_smoothing: float) -> str:
    """How a progress line names ``loss`` or ``val_loss``: ``loss(ε=0.1)`` when labels are smoothed."""
    return key if label_smoothing <= 0 else f"{key}(ε={label_smoothing:g})"


def learning_rate_schedule(schedule: str, learning_rate: float, total_steps: int) -> Any:
    """The optimizer's learning rate: constant, cosine decay to 1%, or one cycle (20% warm-up
    from a tenth of the peak, then cosine decay)."""
    if schedule == "constant":
        return learning_rate
    from ..backend import keras

    cosine = keras().optimizers.schedules.CosineDecay
    total = max(1, total_steps)
    if schedule == "cosine":
        return cosine(learning_rate, decay_steps=total, alpha=0.01)
    warmup = max(1, int(0.2 * total))
    return cosine(
        learning_rate / 10,
        decay_steps=max(1, total - warmup),
        alpha=0.002,
        warmup_target=learning_rate,
        warmup_steps=warmup,
    )
