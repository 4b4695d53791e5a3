"""The named models and their training defaults, defined once.

:class:`Hyperparameters` is the one definition of the training defaults: each :class:`Preset`
tunes some of them, :class:`convcli.training.config.TrainConfig` inherits them, and the run record
lists them by the same names.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..datasets.idx import DATASETS
from ..errors import input_error
from ..i18n import N_
from ..i18n import tr as _
from ..suggest import did_you_mean
from .layerspec import parse_spec, read_spec_argument


@dataclass(kw_only=True)
class Hyperparameters:
    """The training settings a preset may tune; these defaults apply to any other spec."""

    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    schedule: str = "constant"
    warmup: float = 0.2
    """The share of the run's steps that the ``onecycle`` schedule warms up over."""
    beta_1: float = 0.9
    beta_2: float = 0.999
    """Adam's decay rates for the mean and the square of the gradients."""
    augment: bool = False
    label_smoothing: float = 0.0
    validation_split: float = 0.1


@dataclass(frozen=True)
class Preset:
    """A named architecture (as a spec) and the training defaults tuned for it; ``by_dataset``
    changes some of them for one built-in dataset (``--dataset NAME``), measured on it."""

    name: str
    spec: str
    description: str
    training: Hyperparameters = field(default_factory=Hyperparameters)
    by_dataset: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_dataset_notes: dict[str, str] = field(default_factory=dict)
    """For each dataset in ``by_dataset``, what changes and why, in a line (shown when training)."""

    def __post_init__(self) -> None:
        names = {f.name for f in fields(Hyperparameters)}
        for dataset, changes in self.by_dataset.items():
            if dataset not in DATASETS or not set(changes) <= names or dataset not in self.by_dataset_notes:
                raise ValueError(f"preset {self.name}: by_dataset[{dataset!r}] = {changes} (or its note)")

    def training_for(self, dataset: str | None) -> dict[str, Any]:
        """The training defaults by name, for the built-in ``dataset`` (None: pictures of one's own)."""
        return {**asdict(self.training), **self.by_dataset.get(dataset or "", {})}

    def note_for(self, dataset: str | None, settings: dict[str, Any]) -> str | None:
        """The line that says the preset changed its defaults for ``dataset``, when ``settings``
        (a run's hyperparameters) keep that change; None otherwise."""
        changes = self.by_dataset.get(dataset or "", {})
        if not changes or any(settings.get(k) != v for k, v in changes.items()):
            return None
        return _(self.by_dataset_notes[dataset or ""]).format(preset=self.name)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "softmax",
            "flatten,dense(10)",
            "A softmax layer alone (the lecture's first exercise, about 92%)",
        ),
        Preset(
            "mlp",
            "flatten,dense(512),dropout(0.2),dense(512),dropout(0.2),dense(10)",
            "Two hidden layers of 512 with dropout (97–98% in the lecture; 98%+ here)",
            Hyperparameters(epochs=12, schedule="cosine"),
        ),
        Preset(
            "cnn",
            # Batch normalisation of the second block's 32 pooled channels (momentum 0.9: 0.99's
            # moving averages lag a one-epoch run; the statistics are recomputed at the end anyway,
            # training/callbacks.py). Test set, ten seeds: 6 epochs 99.50 -> 99.54%, 1 epoch 99.06 ->
            # 99.12% (docs/performance-epochs.md).
            "conv(16,5),pool(2),conv(32,5),pool(2),batchnorm(momentum=0.9),flatten,dense(128),dense(10)",
            "Recommended: two 5×5 conv blocks (16, 32), batch norm, dense 128; one-cycle schedule, shifts (digits)",
            Hyperparameters(
                epochs=6,
                learning_rate=8e-3,
                schedule="onecycle",
                warmup=0.2,
                beta_2=0.99,
                augment=True,
                label_smoothing=0.1,
            ),
            # Garments fill the frame, centred: shifts crop them. Held out, 6 epochs, seeds 0-2:
            # 90.82% with shifts, 91.46% without (docs/performance-epochs.md).
            by_dataset={"fashion-mnist": {"augment": False}},
            by_dataset_notes={
                "fashion-mnist": N_(
                    "{preset} on Fashion-MNIST: no random shifts (they crop the garments); --augment adds them"
                )
            },
        ),
        Preset(
            "lecture-cnn",
            "conv(32,3),pool(2,name=max_pool_1),conv(16,3),pool(2,name=max_pool_2),flatten,dense(10)",
            "The lecture's final network: conv 32, pool, conv 16, pool, dense 10 (8,954 params)",
        ),
        Preset(
            "slide-conv64",
            "conv(64,3),flatten,dense(10)",
            "Lecture slide: Conv2D(64) + Flatten + Dense(10) (433,290 params)",
        ),
        Preset(
            "slide-conv64-tanh",
            "conv(64,3),flatten,dense(15,activation=tanh),dense(10)",
            "Lecture slide: a hidden Dense(15, tanh) after the conv (649,775 params)",
        ),
        Preset(
            "slide-conv64-pool",
            "conv(64,3),pool(2),flatten,dense(15,activation=tanh),dense(10)",
            "Lecture slide: MaxPooling2D cuts the dense inputs by 75% (163,055 params)",
        ),
    ]
}


def resolve_architecture(preset: str | None, layers: str | None) -> tuple[str, str | None]:
    """Return (spec, preset name or None) from a preset name or a layer spec (``@FILE`` allowed)."""
    if preset and layers:
        raise input_error(_("give a preset or a layer spec, not both"))
    if layers:
        return read_spec_argument(layers), None
    if not preset:
        raise input_error(_("give a preset ({presets}) or a layer spec").format(presets=", ".join(PRESETS)))
    if preset not in PRESETS:
        message = _("unknown preset {name}{suggestion}; presets: {choices}")
        raise input_error(
            message.format(name=repr(preset), suggestion=did_you_mean(preset, PRESETS), choices=", ".join(PRESETS))
        )
    return PRESETS[preset].spec, preset


def fit_output(spec: str, num_classes: int) -> str:
    """A preset's spec for ``num_classes`` classes: its last ``dense(10)`` gets that many units
    (a spec of one's own is left as written: it must end in ``dense(N)`` for N classes)."""
    last = parse_spec(spec)[-1]
    if last.kind != "dense" or not last.args or last.args[0] == num_classes:
        return spec
    token = re.sub(r"\(\s*\d+", f"({num_classes}", last.token, count=1)
    return spec[: last.column] + token + spec[last.column + len(last.token) :]
