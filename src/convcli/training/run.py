"""Training, in the order of the work: resume, data, build and compile, fit, then the ending
(completed, interrupted, or one of several processes) and the run's JSON record.

The test set is used once, for the final ``model.evaluate``; model selection and progress use
the validation split only. SIGINT/SIGTERM stop training after the current batch, save a
complete checkpoint (atomically) and return an interrupted result. The model file is written
only when training completes, by an atomic rename, so it is never partial.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EXIT_FAILURE, EXIT_INTERRUPTED, ConvcliError, warn
from ..i18n import tr
from ..models.presets import fit_output
from ..outputs import check_output_path, write_text
from .checkpoints import RunState, checkpoint_path_for, record_path_for, resume_state, save_model, weights_digest
from .config import TrainConfig
from .interrupts import signals_caught
from .objective import learning_rate_schedule, loss_label, resized_schedule, schedule_steps, training_loss
from .output import check_replacing, check_resumed_output, retire_checkpoint

FEW_STEPS = 10
"""Fewer batches than this an epoch is a warning: a tiny set with a large batch barely learns."""

if TYPE_CHECKING:
    from .data import TrainingData
    from .interrupts import StopFlag

__all__ = ["TrainConfig", "TrainResult", "interrupted_error", "train"]


@dataclass
class TrainResult:
    """The outcome: paths written, the record, and whether the run was interrupted."""

    model_path: Path | None
    record_path: Path
    checkpoint_path: Path | None
    record: dict[str, Any]
    interrupted: bool = False
    signal_name: str | None = None

    @property
    def exit_code(self) -> int:
        """0 when completed; 130 for Ctrl-C; 1 for another interruption."""
        if not self.interrupted:
            return 0
        return EXIT_INTERRUPTED if self.signal_name == "SIGINT" else EXIT_FAILURE


def train(
    config: TrainConfig,
    *,
    callbacks: Sequence[Any] = (),
    resume: str | os.PathLike[str] | None = None,
    changes: Mapping[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    warn: Callable[[str], None] | None = None,
    force: bool = False,
) -> TrainResult:
    """Train ``config``'s model on its dataset; save the model, a checkpoint and a JSON record.

    ``callbacks``: Keras callbacks for ``fit`` (progress display, benchmarks' probes); they run
    before each epoch's checkpoint. ``resume``: a checkpoint written by an interrupted run;
    training continues from it with the checkpoint's config, ``config.output`` and ``changes``
    (TrainConfig fields: only ``epochs``, ``output`` and ``data_dir`` may differ from the
    checkpoint's, see :func:`~convcli.training.checkpoints.resume_state`). ``log(message)`` receives
    one-line status messages, ``warn(message)`` one line per file of a data folder that is
    skipped (default: ``log``). An output that already holds a model, its record or a
    checkpoint is refused unless ``force`` (see :mod:`convcli.training.output`); so is a resumed
    run's (where its checkpoint says, or a changed ``output``), its own interrupted record and
    checkpoint apart. A resumed run that completes removes the checkpoint it went on from.
    """
    log = log or (lambda message: None)
    with signals_caught() as flag:
        if resume is not None:
            run = resume_state(resume, {"output": config.output, **(changes or {})})
        else:
            run = RunState(config)
        config = run.config
        config.validate()
        output = check_output_path(config.output)
        if resume is None:
            check_replacing(output, force=force)
        else:
            check_resumed_output(output, Path(resume), force=force)

        from .data import load_training_data

        strategy, setup = _prepare_backend(config)
        data = load_training_data(config, log, warn)
        if config.preset is not None:
            config.spec = fit_output(config.spec, data.num_classes)
        model = _model(config, data, resume, strategy)
        line = tr("model {name}: {count:,} parameters").format(
            name=config.preset or tr("from spec"), count=model.count_params()
        )
        resuming = tr("; resuming after epoch {epoch}").format(epoch=run.epochs_done) if resume is not None else ""
        log(line + resuming)
        run.schedule = _schedule_of(model, config, data.steps, None if resume is None else run.epochs_done)
        if resume is not None and run.schedule:
            log(_schedule_line(run.schedule, data.steps, run))
        if run.epochs_done < config.epochs and flag.signal_name is None:
            _fit(model, run, data, flag, callbacks, checkpoint_path_for(output))
        if run.epochs_done < config.epochs and flag.signal_name is None:
            raise ConvcliError(
                tr("training stopped early after {epochs} epochs").format(epochs=run.epochs_done),
                exit_code=EXIT_FAILURE,
            )
        if run.epochs_done >= config.epochs:
            from .callbacks import settle_statistics

            settle_statistics(model, run, data.x_train, log)
        record = _record(run, data, model)
        if flag.signal_name is not None and run.epochs_done < config.epochs:
            return _interrupted(model, run, data, record, output, flag.signal_name)
        return _completed(model, run, data, record, output, setup)


def _prepare_backend(config: TrainConfig) -> tuple[Any, dict[str, Any]]:
    """Seed, precision and data parallelism. Returns the TensorFlow strategy (or None) and what
    the record says about them."""
    from ..backend import data_parallel, seed_everything, set_precision

    seed_everything(config.seed)
    precision = set_precision(config.precision)
    strategy, replicas = None, 1
    distributed = config.distribute or config.multi_process
    if distributed:
        strategy, replicas = data_parallel(config.num_processes, config.coordinator, config.process_id)
    processes = config.num_processes or 1
    return strategy, {"precision": precision, "distributed": distributed, "replicas": replicas, "processes": processes}


def _model(config: TrainConfig, data: TrainingData, resume: str | os.PathLike[str] | None, strategy: Any) -> Any:
    """The checkpoint's model when resuming; otherwise the spec's model for the data's input
    shape and classes, compiled with Adam, the run's loss and schedule (inside the distribution
    strategy's scope when there is one)."""
    from ..backend import keras
    from ..models.build import build_model, load_model

    if resume is not None:
        return load_model(resume)
    if data.steps < FEW_STEPS:
        line = tr(
            "only {steps} step(s) an epoch ({images} training images, batch_size {size}): "
            "the model will barely learn; use a smaller batch size or more epochs"
        )
        warn(line.format(steps=data.steps, images=len(data.x_train), size=config.batch_size))
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_model(
            config.spec,
            name=config.preset or "convcli_model",
            input_shape=data.input_shape,
            num_classes=data.num_classes,
        )
        schedule = learning_rate_schedule(
            config.schedule, config.learning_rate, config.epochs * data.steps, config.warmup
        )
        model.compile(
            optimizer=keras().optimizers.Adam(learning_rate=schedule, beta_1=config.beta_1, beta_2=config.beta_2),
            loss=training_loss(config.label_smoothing),
            metrics=["accuracy"],
        )
    return model


def _schedule_of(model: Any, config: TrainConfig, steps_per_epoch: int, resumed_after: int | None) -> dict[str, Any]:
    """The run's learning-rate schedule, for the record: its name, warm-up and length in steps.

    A run resumed after epoch ``resumed_after`` keeps the schedule its checkpoint's optimizer was
    compiled with, its step counter set back to the start of the epoch it trains again; when
    ``epochs`` has changed, and epochs are left to train, the decay is stretched or shortened to
    end with the new last epoch (:func:`~convcli.training.objective.resized_schedule`). Empty
    for a constant rate."""
    from ..backend import keras

    optimizer, resumed = model.optimizer, resumed_after is not None
    if resumed:
        optimizer.iterations.assign(resumed_after * steps_per_epoch)
    serialized = optimizer.get_config()["learning_rate"]
    if not isinstance(serialized, dict):
        return {}
    schedule = keras().optimizers.schedules.deserialize(serialized)
    total = config.epochs * steps_per_epoch
    warmup = int(schedule.get_config().get("warmup_steps") or 0)
    info: dict[str, Any] = {"name": config.schedule, "warmup_steps": warmup}
    started = schedule_steps(schedule) or 0
    if resumed and started != total - 1 and total > resumed_after * steps_per_epoch:
        schedule = resized_schedule(schedule, total)
        optimizer.learning_rate = schedule
    info["steps"] = (schedule_steps(schedule) or 0) + 1
    if resumed:
        info["started_with_steps"] = started + 1
        info["extended"] = info["steps"] > info["started_with_steps"]
        info["shortened"] = info["steps"] < info["started_with_steps"]
    return info


def _schedule_line(info: dict[str, Any], steps_per_epoch: int, run: RunState) -> str:
    """What a resumed run says about its schedule: kept as started, extended to more epochs or
    shortened to fewer; or, with no epoch left to train, that the model stops part-way through it."""
    length = tr("{epochs:g} epochs ({steps:,} steps)")
    epochs = length.format(epochs=info["steps"] / steps_per_epoch, steps=info["steps"])
    before = info["started_with_steps"]
    started = length.format(epochs=before / steps_per_epoch, steps=before)
    if run.epochs_done >= run.config.epochs and run.epochs_done * steps_per_epoch < info["steps"]:
        line = tr(
            "no epoch left to train: the model is the checkpoint's, stopped after {done} of its "
            "{name} schedule's {epochs} (the learning rate never finished its decay)"
        )
        return line.format(done=run.epochs_done, name=info["name"], epochs=epochs)
    if info["extended"] or info["shortened"]:
        changed = tr("{name} schedule extended from {started} to {epochs}")
        if info["shortened"]:
            changed = tr("{name} schedule shortened from {started} to {epochs}")
        return changed.format(name=info["name"], started=started, epochs=epochs)
    return tr("{name} schedule kept as the run started it: {epochs}").format(name=info["name"], epochs=epochs)


def _fit(
    model: Any, run: RunState, data: TrainingData, flag: StopFlag, callbacks: Sequence[Any], checkpoint: Path
) -> None:
    """One ``fit`` from the first epoch not done to the last; callbacks: the statistics' and the
    given ones first, then the history and epoch checkpoint (one process), then the stop check."""
    from .callbacks import EpochRecorder, StopOnSignal, statistics_callbacks
    from .feeding import fit_data

    config = run.config
    model.fit(
        **fit_data(data, config, run.epochs_done),
        epochs=config.epochs,
        initial_epoch=run.epochs_done,
        verbose=0,
        callbacks=[
            *statistics_callbacks(model, run, data.x_train),
            *callbacks,
            EpochRecorder(run, None if config.multi_process else checkpoint, data.meta),
            StopOnSignal(flag),
        ],
    )


def _test_metrics(model: Any, data: TrainingData, multi_process: bool) -> dict[str, Any]:
    """Test accuracy and loss from ``model.evaluate``: the compiled loss, so the test loss means
    what the training and validation losses mean; with several processes each evaluates its
    shard and Keras combines them."""
    from ..datasets.idx import scale_images as prepare_images
    from .feeding import evaluation_data

    results = model.evaluate(**evaluation_data(data, multi_process), verbose=0, return_dict=True)
    # Keras averages in float32; the count of right answers gives the exact fraction.
    correct = round(float(results["accuracy"]) * data.test_images)
    if not multi_process and correct < 1.5 * data.test_images / data.num_classes:
        _warn_if_one_class(model, prepare_images(data.x_test), data)
    return {"accuracy": correct / data.test_images, "loss": float(results["loss"]), "n": data.test_images}


def _warn_if_one_class(model: Any, x_test: np.ndarray, data: TrainingData) -> None:
    """A model near chance that gives every test picture the same class learned nothing (seen on a
    small folder with a small batch: the preset's peak rate drove every unit dead); say so and
    what to change, rather than leave a number that looks like a weak model. Not a larger batch:
    on a small folder that means fewer steps, which the few-steps warning already advises against."""
    classes = np.unique(np.argmax(model.predict(x_test, batch_size=1024, verbose=0), axis=-1))
    if len(classes) == 1 and data.num_classes > 1:
        message = tr(
            "the model gives every one of the {count} test pictures the same class ({name}): it learned "
            "nothing; try a lower learning_rate or more pictures"
        )
        warn(message.format(count=data.test_images, name=data.meta.class_names[int(classes[0])]))


def _versions() -> dict[str, str]:
    import convcli

    from ..backend import backend_info

    info = backend_info()
    return {
        "convcli": convcli.__version__,
        "keras": info["keras"],
        "backend": info["backend"],
        "backend_version": info.get("backend_version", ""),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _record(run: RunState, data: TrainingData, model: Any) -> dict[str, Any]:
    """What every run records, completed or not: data, model, hyperparameters, history, versions."""
    config = run.config
    return {
        "dataset": config.dataset if config.data is None else data.meta.dataset,
        "data_source": data.source,
        **({"data": data.details} if data.details else {}),
        "preset": config.preset,
        "spec": config.spec,
        "hyperparameters": {**config.hyperparameters, "optimizer": "adam", "limit": config.limit},
        "seed": config.seed,
        "params": int(model.count_params()),
        "loss_label": loss_label(config.label_smoothing),
        "history": run.history,
        "train_images": len(data.x_train),
        "validation_images": len(data.x_val),
        "versions": _versions(),
        **({"schedule": run.schedule} if run.schedule else {}),
        **({"batchnorm_statistics": run.statistics} if run.statistics else {}),
        **({"resumed": run.resumed} if run.resumed else {}),
    }


def _interrupted(
    model: Any, run: RunState, data: TrainingData, record: dict[str, Any], output: Path, signal_name: str
) -> TrainResult:
    """Stopped by a signal: process 0 saves a checkpoint and a record saying how to resume."""
    checkpoint = checkpoint_path_for(output)
    if run.config.is_chief:
        save_model(model, checkpoint, run.as_json("interrupted"), data.meta)
    record.update(
        status="interrupted",
        signal=signal_name,
        epochs_completed=run.epochs_done,
        checkpoint=str(checkpoint),
        model=None,
        seconds=run.seconds,
        resume=f"convcli train --resume {checkpoint}",
    )
    record_path = record_path_for(output)
    if run.config.is_chief:
        write_text(record_path, json.dumps(record, indent=2) + "\n")
    return TrainResult(None, record_path, checkpoint, record, True, signal_name)


def _gathered(model: Any, config: TrainConfig, data: TrainingData) -> Any:
    """The trained weights in a model outside the distribution, so that process 0 can save it
    without collectives (every process fetches the replicated weights in the same order)."""
    from ..backend import keras
    from ..models.build import build_model

    weights = [np.asarray(w) for w in model.get_weights()]
    keras().distribution.set_distribution(None)
    local = build_model(
        config.spec, name=config.preset or "convcli_model", input_shape=data.input_shape, num_classes=data.num_classes
    )
    local.set_weights(weights)
    local.compile(loss=training_loss(config.label_smoothing), metrics=["accuracy"])
    return local


def _completed(
    model: Any, run: RunState, data: TrainingData, record: dict[str, Any], output: Path, setup: dict[str, Any]
) -> TrainResult:
    """All epochs done: evaluate on the test set, save the model (process 0), write the record."""
    config = run.config
    test = _test_metrics(model, data, config.multi_process)
    if config.multi_process:
        model = _gathered(model, config, data)
        record["weights_sha256"] = weights_digest(model)
    if config.is_chief:
        save_model(model, output, meta=data.meta)
    record.update(status="completed", epochs_completed=run.epochs_done, model=str(output), test=test)
    record.update(seconds=run.seconds, **setup)
    record_path = record_path_for(output)
    if not config.is_chief:
        return TrainResult(None, record_path, None, record)
    write_text(record_path, json.dumps(record, indent=2) + "\n")
    checkpoint_path_for(output).unlink(missing_ok=True)
    if run.resumed_from is not None:  # written for another output when -o changed on resume
        retire_checkpoint(Path(run.resumed_from), record_path)
    return TrainResult(output, record_path, None, record)


def interrupted_error(result: TrainResult) -> ConvcliError:
    """The error the CLI shows for an interrupted run (with how to resume)."""
    return ConvcliError(
        tr(
            "training interrupted by {signal}; checkpoint saved to {checkpoint}; "
            "resume with: convcli train --resume {checkpoint}"
        ).format(signal=result.signal_name, checkpoint=result.checkpoint_path),
        exit_code=result.exit_code,
    )
