"""What training minimises and how fast: the loss, optionally label-smoothed, what it is
called wherever it is shown, and the learning-rate schedule.

One meaning everywhere: the training, validation and test losses of a run are all the loss the
model was compiled with. When labels are smoothed that is not the plain cross-entropy (a
perfect model scores about 0.5 rather than 0 at ε = 0.1), so every display labels it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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


FINAL_FRACTION = {"cosine": 0.01, "onecycle": 0.002}
"""Where each decaying schedule ends, as a fraction of its peak learning rate."""


def learning_rate_schedule(schedule: str, learning_rate: float, total_steps: int, warmup: float = 0.2) -> Any:
    """The optimizer's learning rate over a run of ``total_steps`` batches: constant, cosine
    decay, or one cycle (a linear warm-up over ``warmup`` of the steps from a tenth of the peak,
    then cosine decay).

    The schedule is sized to the run, so a run of any length is a complete cycle: the last
    batch (step ``total_steps − 1``) trains at the final, lowest rate,
    ``FINAL_FRACTION[schedule] × learning_rate``.
    """
    if schedule == "constant":
        return learning_rate
    from ..backend import keras

    cosine = keras().optimizers.schedules.CosineDecay
    last = max(1, total_steps - 1)
    if schedule == "cosine":
        return cosine(learning_rate, decay_steps=last, alpha=FINAL_FRACTION["cosine"])
    warmup_steps = min(last - 1, int(warmup * total_steps)) if warmup > 0 else 0
    return cosine(
        learning_rate / 10 if warmup_steps else learning_rate,
        decay_steps=max(1, last - warmup_steps),
        alpha=FINAL_FRACTION["onecycle"],
        warmup_target=learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def schedule_steps(schedule: Any) -> int | None:
    """The step at which a schedule made by :func:`learning_rate_schedule` reaches its final
    rate (its warm-up plus its decay), or None for a constant rate."""
    get_config = getattr(schedule, "get_config", None)
    if get_config is None:
        return None
    config = get_config()
    return int(config.get("warmup_steps") or 0) + int(config["decay_steps"])


def resized_schedule(schedule: Any, total_steps: int) -> Any:
    """``schedule`` (a resumed run's) stretched or shortened to end at the last of ``total_steps``:
    the same peak, warm-up steps and final rate, its decay lengthened or shortened. A run that
    now ends within the warm-up gets a warm-up of the same share of it instead. Steps already
    taken keep the rates they had; the rest follow the new decay."""
    config = schedule.get_config()
    last, warmup = max(1, total_steps - 1), int(config.get("warmup_steps") or 0)
    if warmup >= last:
        warmup = max(0, min(last - 1, warmup * total_steps // ((schedule_steps(schedule) or 0) + 1)))
        config["warmup_steps"] = warmup
    config["decay_steps"] = max(1, last - warmup)
    return type(schedule).from_config(config)
