"""What defines a training run: the preset's hyperparameters plus data, output and distribution.

A :class:`TrainConfig` is saved inside every checkpoint, so ``--resume`` goes on with exactly
the same run. Its checks run before any work (and before Keras is imported).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import input_error, param
from ..i18n import tr as _
from ..models.presets import PRESETS, Hyperparameters, resolve_architecture

SCHEDULES = ("constant", "cosine", "onecycle")
"""Learning-rate schedules (built by training.objective); numpy-free, so the CLI offers them."""


@dataclass(kw_only=True)
class TrainConfig(Hyperparameters):
    """Everything that defines a training run: the hyperparameters (defaults in
    :class:`~convcli.models.presets.Hyperparameters`), the model's spec, data, output and processes.

    ``data`` is a folder of pictures or an IDX set (instead of the built-in ``dataset``), read as
    ``image_size``, ``color``, ``test_split`` and ``strict`` say (see
    :class:`convcli.datasets.folders.FolderOptions`); ``flip`` mirrors training pictures at random.
    """

    spec: str
    preset: str | None = None
    seed: int = 0
    dataset: str = "mnist"
    data_dir: str | None = None
    data: str | None = None
    image_size: tuple[int, int] | None = None
    color: str | None = None
    test_split: float = 0.2
    flip: bool = False
    strict: bool = False
    output: str = "model.keras"
    limit: int | None = None
    precision: str = "float32"
    distribute: bool = False
    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None

    @property
    def multi_process(self) -> bool:
        """Whether this run is one of several processes (JAX's distribution API)."""
        return self.num_processes is not None and self.num_processes > 1

    @property
    def is_chief(self) -> bool:
        """Only process 0 of a multi-process run writes the model, checkpoints and record."""
        return not self.multi_process or self.process_id == 0

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The :class:`~convcli.models.presets.Hyperparameters` part, by name (for the run record)."""
        return {f.name: getattr(self, f.name) for f in fields(Hyperparameters)}

    @classmethod
    def from_preset(cls, preset: str | None, spec: str | None = None, **overrides: Any) -> TrainConfig:
        """Defaults from a preset (or generic ones for a spec), as the preset sets them for the
        built-in dataset the run reads (none for a ``data`` folder), then non-None ``overrides``."""
        resolved, name = resolve_architecture(preset, spec)
        base: dict[str, Any] = {"spec": resolved, "preset": name}
        if name is not None:
            base.update(PRESETS[name].training_for(_builtin_dataset(overrides)))
        base.update({k: v for k, v in overrides.items() if v is not None})
        if overrides.get("output") is None:
            base["output"] = f"{name or 'model'}.keras"
        return cls(**base)

    @property
    def preset_note(self) -> str | None:
        """The line saying the preset changed its defaults for this run's built-in dataset, if it
        did and the run keeps that change (``train`` shows it before the first epoch)."""
        if self.preset not in PRESETS:
            return None
        return PRESETS[self.preset].note_for(_builtin_dataset(vars(self)), self.hyperparameters)

    def validate(self) -> None:
        """Check ranges before any work is done; errors name the parameter."""
        at_least = _("{name} must be at least {low}, got {value}")
        _check(self.epochs >= 1, at_least.format(name=param("epochs"), low=1, value=self.epochs))
        _check(self.batch_size >= 1, at_least.format(name=param("batch_size"), low=1, value=self.batch_size))
        _check(
            self.learning_rate > 0 and math.isfinite(self.learning_rate),
            _("learning_rate must be a positive number, got {value}").format(value=self.learning_rate),
        )
        fraction = _("{name} must be in [0, 1), got {value}")
        for name in ("warmup", "beta_1", "beta_2", "validation_split", "label_smoothing"):
            _check(0 <= getattr(self, name) < 1, fraction.format(name=param(name), value=getattr(self, name)))
        unknown = _("unknown schedule {value!r}: use {choices}")
        _check(self.schedule in SCHEDULES, unknown.format(value=self.schedule, choices=", ".join(SCHEDULES)))
        _check(self.limit is None or self.limit >= 1, at_least.format(name=param("limit"), low=1, value=self.limit))
        seed = _("{name} must be in 0 … 2^32−1, got {value}").format(name=param("seed"), value=self.seed)
        _check(0 <= self.seed < 2**32, seed)
        _check(
            Path(self.output).suffix == ".keras",
            _("{path}: the model file must end in .keras").format(path=self.output),
        )
        self._validate_data()
        if self.num_processes is not None or self.process_id is not None or self.coordinator:
            if not (self.coordinator and self.num_processes and self.process_id is not None):
                raise input_error(
                    _("a multi-process run needs coordinator (HOST:PORT), num_processes and process_id together")
                )
            if self.num_processes < 1 or not 0 <= self.process_id < self.num_processes:
                raise input_error(_("process_id must be in 0 … {high}").format(high=self.num_processes - 1))

    def _validate_data(self) -> None:
        """The data folder's options: they need ``data``, and it must be a folder."""
        from ..datasets.folders import check_image_size
        from ..datasets.idx import COLORS

        if self.image_size is not None:
            self.image_size = (*self.image_size,)  # a checkpoint's JSON gives a list
            check_image_size(self.image_size)
        color = _("{name} must be gray or rgb, got {value!r}").format(name=param("color"), value=self.color)
        _check(self.color in (None, *COLORS), color)
        _check(0 < self.test_split < 1, _("test_split must be in (0, 1), got {value}").format(value=self.test_split))
        if self.data is None:
            extra = [n for n in ("image_size", "color") if getattr(self, n) is not None] + ["flip=True"] * self.flip
            _check(
                not extra,
                _("{names} only apply to pictures from a data folder (data=DIR), and none was given").format(
                    names=_(" and ").join(extra)
                ),
            )
        else:
            _check(Path(self.data).is_dir(), _("{path}: no such data folder").format(path=self.data))


def _builtin_dataset(settings: dict[str, Any]) -> str | None:
    """The built-in dataset a run reads (``dataset``, default MNIST), or None for a ``data`` folder."""
    if settings.get("data"):
        return None
    return settings.get("dataset") or next(f.default for f in fields(TrainConfig) if f.name == "dataset")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise input_error(message)
