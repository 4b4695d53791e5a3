"""``convcli`` commands on models: summary, train, evaluate, predict."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import click
import typer

from ..errors import ConvcliError
from .common import app, console, echo, is_tty, print_json, table
from .options import (
    PRECISIONS,
    SCHEDULES,
    DataDir,
    Dataset,
    Json,
    Layers,
    ModelDataset,
    ModelFile,
    TestIndex,
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
    json_: Json = False,
) -> None:
    """Show each layer's output shape and parameter count with the arithmetic behind them.

    Example:

    \b
        convcli summary lecture-cnn        # 32·3·3·1 + 32 = 320, (28 + 2·0 − 3)/1 + 1 = 26 …
        convcli summary --layers "conv(64,3),flatten,dense(10)"     # 433,290 parameters
        convcli summary cnn.keras --json
    """
    from ..models import model_from_argument
    from ..summary import describe_model

    keras_model = model_from_argument(model, layers)
    rows = describe_model(keras_model)
    total = int(keras_model.count_params())
    if json_:
        print_json({"total_params": total, "layers": [r.as_json() for r in rows]})
        return
    table_rows = [
        [f"{r.name} ({r.type})", _shape(r.output_shape), r.shape_formula, f"{r.params:,}", r.params_formula]
        for r in rows
    ]
    table(
        f"{keras_model.name}: {total:,} parameters",
        ["Layer (type)", "Output shape", "Shape arithmetic", "Param #", "Param arithmetic"],
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
    output: Annotated[str | None, typer.Option("-o", "--output", help="Model file (default PRESET.keras).")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", "-e", help="Epochs (preset default).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", "-b", help="Batch size (preset default).")] = None,
    learning_rate: Annotated[
        float | None, typer.Option("--learning-rate", "--lr", help="Peak learning rate (preset default).")
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option("--schedule", click_type=click.Choice(SCHEDULES), help="Learning-rate schedule (preset default)."),
    ] = None,
    augment: Annotated[bool | None, typer.Option("--augment/--no-augment", help="Random 2-pixel shifts.")] = None,
    label_smoothing: Annotated[
        float | None,
        typer.Option("--label-smoothing", help="Soften the one-hot targets by this much (preset default; cnn 0.1)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (a run repeats on the same machine).")] = 0,
    validation_split: Annotated[float, typer.Option("--validation-split", help="Fraction held out.")] = 0.1,
    dataset: Dataset = "mnist",
    data_dir: DataDir = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Use only the first N training images.")] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue an interrupted run's checkpoint.")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Also write loss/accuracy curves (PNG).")] = False,
    precision: Annotated[
        str, typer.Option("--precision", click_type=click.Choice(PRECISIONS), help="mixed: float16 compute on a GPU.")
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
    """Train a classifier on MNIST; write MODEL.keras and its JSON record beside it.

    Ctrl-C or SIGTERM stops after the current batch and saves a checkpoint to resume from.
    --resume goes on with the checkpoint's settings: --epochs, -o and --data-dir may change;
    any other option that differs from the checkpoint's is refused (exit 2).

    Example:

    \b
        convcli train softmax                  # about 92%
        convcli train mlp -o mlp.keras         # 98%+
        convcli train cnn --seed 0             # 99.4%+, the recommended model
        convcli train --layers "conv(32,3),pool(2),flatten,dense(10)" --epochs 3 -o mine.keras
        convcli train --resume cnn.ckpt.keras
    """
    from ..objective import loss_key
    from ..training import TrainConfig, interrupted_error
    from ..training import train as run_training

    options = {
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "schedule": schedule,
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
    }
    changes: dict[str, Any] = {}
    if resume:
        changes, output = _resume_changes(ctx, resume, {**options, "preset": preset, "layers": layers}, output)
        config = TrainConfig(spec="", output=output)
    else:
        config = TrainConfig.from_preset(preset, layers, output=output, **options)
        config.validate()  # bad options fail before Keras loads (the progress callback needs it)
    from .progress import TrainingProgress

    progress = TrainingProgress(sys.stderr if json_ else sys.stdout, console() if is_tty() else None)
    result = run_training(config, callbacks=[progress], resume=resume, changes=changes, log=progress.log)
    if result.interrupted:
        raise interrupted_error(result)
    if plot:
        from ..plots import plot_history

        result.record["plot"] = str(plot_history(result.record, result.model_path))
    if json_:
        print_json(result.record)
        return
    test, loss = result.record["test"], loss_key("loss", result.record["hyperparameters"]["label_smoothing"])
    echo(
        f"test accuracy {test['accuracy'] * 100:.2f}%  {loss} {test['loss']:.4f}  "
        f"({result.record['seconds']:.0f} s)\nmodel: {result.model_path}\nrecord: {result.record_path}\n"
    )


def _resume_changes(
    ctx: click.Context, checkpoint: str, values: dict[str, Any], output: str | None
) -> tuple[dict[str, Any], str]:
    """The options typed beside ``--resume`` (not left at their defaults) as TrainConfig fields,
    and the output file. Those that define the run and differ from the checkpoint's are refused
    here, named by their flags; ``--epochs``, ``-o`` and ``--data-dir`` may change."""
    from click.core import ParameterSource

    from ..checkpoints import RESUMABLE, read_checkpoint_state, resume_conflicts
    from ..layerspec import read_spec_argument

    stored = read_checkpoint_state(checkpoint).get("config", {})
    typed = {k: v for k, v in values.items() if ctx.get_parameter_source(k) not in (None, ParameterSource.DEFAULT)}
    if "layers" in typed:
        typed["spec"] = read_spec_argument(typed.pop("layers"))
    conflicts = resume_conflicts(stored, typed)
    if conflicts:
        params = {p.name: p for p in ctx.command.params}
        params["spec"] = params["layers"]
        listed = "; ".join(
            f"{_as_typed(params[name], given)} (the checkpoint has "
            f"{_as_typed(params[name], old) if old is not None else 'no ' + _as_typed(params[name])})"
            for name, (old, given) in conflicts.items()
        )
        allowed = ", ".join(_as_typed(params[name]) for name in RESUMABLE)
        raise ConvcliError(
            f"--resume goes on with the checkpoint's settings, and these options differ from them: {listed}. "
            f"Only {allowed} can change on resume"
        )
    return typed, output or stored.get("output", "model.keras")


def _as_typed(param: click.Parameter, value: Any = None) -> str:
    """An option as one would type it: ``--learning-rate 0.1``, ``--no-augment``, ``PRESET cnn``."""
    if not isinstance(param, click.Option):
        return param.human_readable_name + ("" if value is None else f" {value}")
    name = max(param.opts, key=len)
    if param.is_flag and isinstance(value, bool):
        off = param.secondary_opts[0] if param.secondary_opts else f"no {name}"
        return name if value else off
    return name if value is None else f"{name} {value}"


def _class_label(index: int, names: list[str]) -> str:
    """A class as tables show it: the digit for MNIST ("7"), index and name otherwise ("9 Ankle boot")."""
    name = names[index] if index < len(names) else str(index)
    return name if name == str(index) else f"{index} {name}"


@app.command()
def evaluate(
    model: ModelFile,
    dataset: ModelDataset = None,
    data_dir: DataDir = None,
    plot: Annotated[
        str | None, typer.Option("--plot", help="Existing folder for the confusion heat map and the mistakes.")
    ] = None,
    json_: Json = False,
) -> None:
    """Test accuracy and loss, the confusion matrix, and per-class precision/recall/F1.

    The test set is the dataset the model was trained on (stored in the model file; MNIST for
    older models), classes shown by name. Models load in Keras's safe mode: a file carrying code
    is refused.

    Example:

    \b
        convcli evaluate cnn.keras
        convcli evaluate cnn.keras --json | jq .accuracy
        convcli evaluate cnn.keras --plot report/
    """
    from ..jobs import evaluate_file

    evaluation = evaluate_file(model, dataset=dataset, data_dir=data_dir, plot_dir=plot)
    result = evaluation.result
    plots = [str(path) for path in evaluation.plots]
    if json_:
        print_json({**result.as_json(), **({"plots": plots} if plot else {})})
        return
    echo(f"accuracy {result.accuracy * 100:.2f}%  loss {result.loss:.4f}  n {result.n}\n")
    n = result.confusion.shape[0]
    named = [_class_label(i, result.class_names) for i in range(n)]
    table(
        "Confusion matrix (rows: true class, columns: predicted)",
        ["true\\pred", *map(str, range(n))],
        [[named[i], *(str(v) for v in row)] for i, row in enumerate(result.confusion)],
    )
    table(
        "Per class",
        ["class", "precision", "recall", "f1", "support"],
        [
            [named[r["class"]], f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1']:.4f}", str(r["support"])]
            for r in result.per_class
        ],
    )
    for path in plots:
        echo(f"plot: {path}\n")


@app.command()
def predict(
    model: ModelFile,
    images: Annotated[
        list[str] | None,
        typer.Argument(metavar="IMAGE...", help="Photos or scans of one digit each (any image format, or -)."),
    ] = None,
    top: Annotated[int, typer.Option("--top", "-k", min=1, help="How many classes to show.")] = 3,
    index: TestIndex = None,
    show_input: Annotated[
        str | None,
        typer.Option(
            "--show-input",
            help="Save the 28×28 image(s) the model saw: a PNG (a grid for several), or a folder for "
            "<stem>-seen.png each.",
        ),
    ] = None,
    digits: Annotated[bool, typer.Option("--digits", help="Read a whole number written on one line.")] = False,
    dataset: ModelDataset = None,
    data_dir: DataDir = None,
    json_: Json = False,
) -> None:
    """Classify your own digit images, prepared the way MNIST was: the digit's ink found (noise,
    lighting, paper colour and lines removed), cropped, fit into 20×20, centred by mass in 28×28.

    A picture with no digit is an error (exit 2). A prediction whose top probability is below 0.5
    is marked uncertain ("uncertain": true in --json). Classes are shown by the model's names
    ("label" in --json); --index takes a test image of the dataset the model was trained on.

    Example:

    \b
        convcli predict cnn.keras my-seven.jpg --top 3
        convcli predict cnn.keras --index 0 --json
        convcli predict cnn.keras scan.png --show-input seen.png
        convcli predict cnn.keras *.jpg --show-input seen/     # seen/<stem>-seen.png each
        convcli predict cnn.keras year.jpg --digits            # 2026, with each digit's probability
    """
    from ..prediction import predict_files, predict_number_files

    if digits:
        if index is not None:
            raise ConvcliError("--digits reads IMAGE files, not --index")
        for number in predict_number_files(model, list(images or []), show_input=show_input):
            if json_:
                print_json(number.as_json(top))
            else:
                _render_number(number)
        return
    results = predict_files(
        model, list(images or []), index=index, dataset=dataset, data_dir=data_dir, show_input=show_input
    )
    for result in results:
        if json_:
            print_json(result.as_json(top))
            continue
        _render_prediction(result, top)


def _render_prediction(result: Any, top: int) -> None:
    """One prediction: a table at a terminal, else one tab-separated line (``uncertain`` appended
    when so); classes by name ("Ankle boot"; the digit for MNIST)."""
    pairs = result.top(min(top, len(result.probabilities)))
    if is_tty():
        from rich.table import Table

        doubt = f" (uncertain: {result.probability * 100:.0f}%)" if result.uncertain else ""
        grid = Table(title=f"{result.input}: {result.label}{doubt}")
        grid.add_column("class")
        grid.add_column("probability", justify="right")
        grid.add_column("")
        for c, p in pairs:
            grid.add_row(result.label_of(c), f"{p * 100:.2f}%", "█" * max(0, round(p * 30)))
        console().print(grid)
        return
    shown = "  ".join(f"{result.label_of(c)}:{p:.4f}" for c, p in pairs)
    doubt = "\tuncertain" if result.uncertain else ""
    echo(f"{result.input}\t{result.label}\t{shown}{doubt}\n")


def _render_number(number: Any) -> None:
    """One number read by ``predict --digits``: a table at a terminal, else one tab-separated line."""
    if is_tty():
        from rich.table import Table

        grid = Table(title=f"{number.input}: {number.number}" + (" (uncertain)" if number.uncertain else ""))
        for column in ("position", "digit", "probability", ""):
            grid.add_column(column, justify="right" if column == "probability" else "left")
        for i, digit in enumerate(number.digits):
            grid.add_row(
                str(i + 1),
                str(digit.prediction),
                f"{digit.probability * 100:.2f}%",
                "uncertain" if digit.uncertain else "",
            )
        console().print(grid)
        return
    shown = "  ".join(f"{d.prediction}:{d.probability:.4f}" for d in number.digits)
    doubt = "\tuncertain" if number.uncertain else ""
    echo(f"{number.input}\t{number.number}\t{shown}{doubt}\n")
