"""``convcli`` commands that make models: summary (the lecture's arithmetic) and train."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import click
import typer

from ..backend import PRECISIONS
from ..datasets.idx import COLORS
from ..errors import ConvcliError
from ..i18n import N_
from ..i18n import tr as _
from ..training.config import SCHEDULES
from .common import app, console, echo, is_tty, print_json, stderr_is_tty, table, warning_line
from .options import (
    DataDir,
    DataFolder,
    Dataset,
    Json,
    Layers,
    LayersFrom,
    choice,
    complete_presets,
)


def _shape(shape: tuple[int, ...]) -> str:
    return "(None, " + ", ".join(str(d) for d in shape) + ")"


@app.command()
def summary(
    model: Annotated[
        str | None,
        typer.Argument(
            metavar="PRESET|MODEL.keras",
            help="A preset name (softmax, mlp, cnn, lecture-cnn…) or a saved model.",
            autocompletion=complete_presets,
        ),
    ] = None,
    layers: Layers = None,
    layers_from: LayersFrom = None,
    image_size: Annotated[
        str | None,
        typer.Option("--image-size", metavar="H[xW]", help="Build the preset or spec for pictures of this size (28)."),
    ] = None,
    color: Annotated[str | None, choice("--color", choices=COLORS, help="gray (default) or rgb pictures.")] = None,
    json_: Json = False,
) -> None:
    """Show each layer's output shape and parameter count with the arithmetic behind them.

    Example:

    \b
        convcli summary lecture-cnn        # 32·3·3·1 + 32 = 320, (28 + 2·0 − 3)/1 + 1 = 26 …
        convcli summary --layers "conv(64,3),flatten,dense(10)"     # 433,290 parameters
        convcli summary cnn --image-size 64x48 --color rgb           # the same preset on colour photos
        convcli summary cnn.keras --json
        convcli summary --layers 'Conv2D(64, kernel_size=3, activation="relu"), Flatten(), Dense(10)'
        convcli summary --layers-from slide.py --image-size 28   # model.add(...) lines from the slides
    """
    from ..models.build import model_from_argument, parse_input_shape

    shape = None
    if image_size is not None or color is not None:
        from ..datasets.folders import parse_image_size

        h, w = parse_image_size(image_size) if image_size is not None else (28, 28)
        shape = parse_input_shape(f"{h}x{w}x{3 if color == 'rgb' else 1}")
    from ..i18n import retranslate
    from ..models.summary import SHAPE_WORDS, describe_model

    keras_model = model_from_argument(model, _layers(layers, layers_from), shape, given_as="--image-size (--color)")
    rows = describe_model(keras_model)
    total = int(keras_model.count_params())
    if json_:
        print_json({"total_params": total, "layers": [r.as_json() for r in rows]})
        return
    words = SHAPE_WORDS if is_tty() else ()  # piped: the formula as JSON has it, for scripts
    table_rows = [
        [
            f"{r.name} ({r.type})",
            _shape(r.output_shape),
            retranslate(r.shape_formula, words),
            f"{r.params:,}",
            retranslate(r.params_formula, words),
        ]
        for r in rows
    ]
    table(
        _("{name}: {total:,} parameters").format(name=keras_model.name, total=total),
        [N_("Layer (type)"), N_("Output shape"), N_("Shape arithmetic"), N_("Param #"), N_("Param arithmetic")],
        table_rows,
    )
    if not is_tty():
        echo(f"Total params: {total:,}\n")


@app.command()
def train(
    ctx: typer.Context,
    preset: Annotated[
        str | None,
        typer.Argument(
            metavar="PRESET",
            help="softmax, mlp, cnn, lecture-cnn, slide-… (see `convcli summary PRESET`).",
            autocompletion=complete_presets,
        ),
    ] = None,
    layers: Layers = None,
    layers_from: LayersFrom = None,
    output: Annotated[str | None, typer.Option("-o", "--output", help="Model file (default PRESET.keras).")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", "-e", help="Epochs (preset default).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", "-b", help="Batch size (preset default).")] = None,
    learning_rate: Annotated[
        float | None, typer.Option("--learning-rate", "--lr", help="Peak learning rate (preset default).")
    ] = None,
    schedule: Annotated[
        str | None,
        choice("--schedule", choices=SCHEDULES, help="Learning-rate schedule (preset default)."),
    ] = None,
    warmup: Annotated[
        float | None,
        typer.Option("--warmup", help="Share of the steps the onecycle schedule warms up over (preset default)."),
    ] = None,
    augment: Annotated[
        bool | None,
        typer.Option(
            "--augment/--no-augment",
            help=(
                "Random shifts of 2 px on 28×28, from epoch 2 on "
                "(preset default; cnn: on, off with --dataset fashion-mnist)."
            ),
        ),
    ] = None,
    label_smoothing: Annotated[
        float | None,
        typer.Option("--label-smoothing", help="Soften the one-hot targets by this much (preset default; cnn 0.1)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (a run repeats on the same machine).")] = 0,
    validation_split: Annotated[
        float | None, typer.Option("--validation-split", help="Fraction held out for validation (preset default).")
    ] = None,
    dataset: Dataset = "mnist",
    data_dir: DataDir = None,
    data: DataFolder = None,
    image_size: Annotated[
        str | None,
        typer.Option("--image-size", metavar="H[xW]", help="Resize --data pictures (default: their own size)."),
    ] = None,
    color: Annotated[
        str | None,
        choice(
            "--color",
            choices=COLORS,
            help="--data as gray or rgb (default: rgb if any picture has colour).",
        ),
    ] = None,
    test_split: Annotated[
        float,
        typer.Option("--test-split", help="Fraction of each class held out for testing when --data has no test/."),
    ] = 0.2,
    flip: Annotated[bool, typer.Option("--flip", help="Mirror half the pictures left to right (photos).")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse a --data folder holding unreadable files (default: skip them).")
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", help="Use only the first N training images.")] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue an interrupted run's checkpoint.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing model file, its record and checkpoint (else refused).")
    ] = False,
    plot: Annotated[bool, typer.Option("--plot", help="Also write loss/accuracy curves (PNG).")] = False,
    precision: Annotated[
        str, choice("--precision", choices=PRECISIONS, help="mixed: float16 compute on a GPU.")
    ] = "float32",
    distribute: Annotated[
        bool, typer.Option("--distribute", help="Data-parallel over every local device (JAX or TensorFlow).")
    ] = False,
    coordinator: Annotated[
        str | None,
        typer.Option("--coordinator", envvar="CONVCLI_COORDINATOR", help="HOST:PORT of process 0 (JAX multi-process)."),
    ] = None,
    num_processes: Annotated[int | None, typer.Option("--num-processes", envvar="CONVCLI_NUM_PROCESSES")] = None,
    process_id: Annotated[int | None, typer.Option("--process-id", envvar="CONVCLI_PROCESS_ID")] = None,
    json_: Json = False,
) -> None:
    """Train a classifier on MNIST, Fashion-MNIST or your own images (--data DIR); write
    MODEL.keras and its JSON record beside it.

    An existing model file (or its record) is never replaced silently: train refuses it
    (exit 2) unless --force.

    Ctrl-C or SIGTERM stops after the current batch and saves a checkpoint to resume from.
    --resume goes on with the checkpoint's settings: --epochs, -o and --data-dir may change;
    any other option that differs from the checkpoint's is refused (exit 2).

    Example:

    \b
        convcli train softmax                  # about 92%
        convcli train mlp -o mlp.keras         # 98%+
        convcli train cnn --seed 0             # 99.4%+, the recommended model
        convcli train --layers "conv(32,3),pool(2),flatten,dense(10)" --epochs 3 -o mine.keras
        convcli train cnn --data leaves/ --image-size 64 --flip -o leaves.keras
        convcli train --resume cnn.ckpt.keras
    """
    from ..datasets.folders import parse_image_size
    from ..training.run import TrainConfig, interrupted_error
    from ..training.run import train as run_training

    options = {
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "schedule": schedule,
        "warmup": warmup,
        "augment": augment,
        "label_smoothing": label_smoothing,
        "seed": seed,
        "validation_split": validation_split,
        "dataset": dataset,
        "data_dir": data_dir,
        "limit": limit,
        "precision": precision,
        "distribute": distribute,
        "coordinator": coordinator,
        "num_processes": num_processes,
        "process_id": process_id,
        "data": data,
        "image_size": parse_image_size(image_size) if image_size is not None else None,
        "color": color,
        "test_split": test_split,
        "flip": flip,
        "strict": strict,
    }
    changes: dict[str, Any] = {}
    layers = _layers(layers, layers_from)
    if data is not None and _typed(ctx, "dataset"):
        warning_line(
            _("--dataset {dataset} ignored: --data trains on the pictures in {data}").format(dataset=dataset, data=data)
        )
    if resume:
        changes, output = _resume_changes(ctx, resume, {**options, "preset": preset, "layers": layers}, output)
        config = TrainConfig(spec="", output=output)
    else:
        config = TrainConfig.from_preset(preset, layers, output=output, **options)
        config.validate()  # bad options fail before Keras loads (the progress callback needs it)
    from .progress import TrainingProgress

    # Progress is for a person and goes to stderr; stdout holds only the results (files, accuracy).
    progress = TrainingProgress(sys.stderr, console(stderr=True) if stderr_is_tty() else None)
    if not resume and config.preset_note:
        progress.log(config.preset_note)
    result = run_training(
        config,
        callbacks=[progress],
        resume=resume,
        changes=changes,
        log=progress.log,
        warn=warning_line,
        force=force,
    )
    if result.interrupted:
        raise interrupted_error(result)
    _render_trained(result, plot, json_)


def _typed(ctx: click.Context, name: str) -> bool:
    """Whether the user gave option ``name`` (on the command line or through its variable)."""
    from click.core import ParameterSource

    return ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)


def _layers(layers: str | None, layers_from: str | None) -> str | None:
    """``--layers`` as typed, or the spec read from ``--layers-from``'s Keras code."""
    if layers_from is None:
        return layers
    if layers is not None:
        raise ConvcliError(_("give --layers or --layers-from, not both"))
    from ..models.kerascode import read_layers_file

    return read_layers_file(layers_from)


def _render_trained(result: Any, plot: bool, json_: bool) -> None:
    """A finished run: its record as JSON, or the test accuracy and where the files went."""
    from ..training.objective import loss_key

    if plot:
        from ..plots import plot_history

        result.record["plot"] = str(plot_history(result.record, result.model_path))
    if json_:
        print_json(result.record)
        return
    test, loss = result.record["test"], loss_key("loss", result.record["hyperparameters"]["label_smoothing"])
    line = _("test accuracy {accuracy:.2f}%  {loss} {value:.4f}  ({seconds:.0f} s)\nmodel: {model}\nrecord: {record}")
    values = {
        "accuracy": test["accuracy"] * 100,
        "loss": loss,
        "value": test["loss"],
        "seconds": result.record["seconds"],
    }
    echo(line.format(**values, model=result.model_path, record=result.record_path) + "\n")


def _resume_changes(
    ctx: click.Context, checkpoint: str, values: dict[str, Any], output: str | None
) -> tuple[dict[str, Any], str]:
    """The options typed beside ``--resume`` (not left at their defaults) as TrainConfig fields,
    and the output file. Those that define the run and differ from the checkpoint's are refused
    here, named by their flags; ``--epochs``, ``-o`` and ``--data-dir`` may change."""
    from ..models.layerspec import read_spec_argument
    from ..training.checkpoints import RESUMABLE, model_path_for, read_checkpoint_state, resume_conflicts

    stored = read_checkpoint_state(checkpoint).get("config", {})
    typed = {k: v for k, v in values.items() if _typed(ctx, k)}
    if _typed(ctx, "layers_from"):
        typed["layers"] = values["layers"]  # the spec read from --layers-from's code
    if "layers" in typed:
        typed["spec"] = read_spec_argument(typed.pop("layers"))
    conflicts = resume_conflicts(stored, typed)
    if conflicts:
        params = {p.name: p for p in ctx.command.params}
        params["spec"] = params["layers"]
        has, has_not = _("{given} (the checkpoint has {old})"), _("no {option}")
        listed = "; ".join(
            has.format(
                given=_as_typed(params[name], given),
                old=_as_typed(params[name], old) if old is not None else has_not.format(option=_as_typed(params[name])),
            )
            for name, (old, given) in conflicts.items()
        )
        allowed = ", ".join(_as_typed(params[name]) for name in RESUMABLE)
        message = _(
            "--resume goes on with the checkpoint's settings, and these options differ from them: {listed}. "
            "Only {allowed} can change on resume"
        )
        raise ConvcliError(message.format(listed=listed, allowed=allowed))
    # The model beside the checkpoint: the stored output is relative to where the run started.
    return typed, output or str(model_path_for(checkpoint) or stored.get("output", "model.keras"))


def _as_typed(param: click.Parameter, value: Any = None) -> str:
    """An option as one would type it: ``--learning-rate 0.1``, ``--no-augment``, ``PRESET cnn``."""
    if not isinstance(param, click.Option):
        return param.human_readable_name + ("" if value is None else f" {value}")
    name = max(param.opts, key=len)
    if param.is_flag and isinstance(value, bool):
        off = param.secondary_opts[0] if param.secondary_opts else f"no {name}"
        return name if value else off
    return name if value is None else f"{name} {value}"
