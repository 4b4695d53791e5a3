"""``convcli`` commands on models: summary, train, evaluate, predict, feature-maps, weights, info."""

from __future__ import annotations

import sys

import typer

from .cli import (
    ConvcliError,
    _console,
    _is_tty,
    _print_json,
    _table,
    app,
    handle_errors,
)

# --------------------------------------------------------------------------- models


def _shape(shape: tuple[int, ...]) -> str:
    return "(None, " + ", ".join(str(d) for d in shape) + ")"


@app.command()
@handle_errors
def summary(
    model: str = typer.Argument(None, metavar="PRESET|MODEL.keras", help="A preset name or a saved model."),
    layers: str = typer.Option(None, "--layers", "-l", help="Layer spec, or @FILE holding one."),
    json_: bool = typer.Option(False, "--json", help="Print {total_params, layers: [...]} as JSON."),
) -> None:
    """Show each layer's output shape and parameter count with the arithmetic behind them.

    Example:

    \b
        convcli summary lecture-cnn        # 32·3·3·1 + 32 = 320, (28 + 2·0 − 3)/1 + 1 = 26 …
        convcli summary --layers "conv(64,3),flatten,dense(10)"     # 433,290 parameters
        convcli summary cnn.keras --json
    """
    from .models import model_from_argument
    from .summary import describe_model

    keras_model = model_from_argument(model, layers)
    rows = describe_model(keras_model)
    total = int(keras_model.count_params())
    if json_:
        _print_json({"total_params": total, "layers": [r.as_json() for r in rows]})
        return
    table_rows = [
        [f"{r.name} ({r.type})", _shape(r.output_shape), r.shape_formula, f"{r.params:,}", r.params_formula]
        for r in rows
    ]
    _table(
        f"{keras_model.name}: {total:,} parameters",
        ["Layer (type)", "Output shape", "Shape arithmetic", "Param #", "Param arithmetic"],
        table_rows,
    )
    if not _is_tty():
        sys.stdout.write(f"Total params: {total:,}\n")


@app.command()
@handle_errors
def train(
    preset: str = typer.Argument(None, metavar="PRESET", help="softmax, mlp, cnn, lecture-cnn, slide-…"),
    layers: str = typer.Option(None, "--layers", "-l", help="Layer spec, or @FILE holding one."),
    output: str = typer.Option(None, "-o", "--output", help="Model file (default PRESET.keras)."),
    epochs: int = typer.Option(None, "--epochs", "-e", help="Epochs (preset default)."),
    batch_size: int = typer.Option(None, "--batch-size", "-b", help="Batch size (preset default)."),
    learning_rate: float = typer.Option(None, "--learning-rate", "--lr", help="Peak learning rate."),
    schedule: str = typer.Option(None, "--schedule", help="constant, cosine or onecycle."),
    augment: bool = typer.Option(None, "--augment/--no-augment", help="Random 2-pixel shifts."),
    label_smoothing: float = typer.Option(
        None, "--label-smoothing", help="Soften the one-hot targets by this much (preset default; cnn 0.1)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed (a run repeats on the same machine)."),
    validation_split: float = typer.Option(0.1, "--validation-split", help="Fraction held out."),
    dataset: str = typer.Option("mnist", "--dataset", help="mnist or fashion-mnist."),
    data_dir: str = typer.Option(None, "--data-dir", help="Folder with the dataset files."),
    limit: int = typer.Option(None, "--limit", help="Use only the first N training images."),
    resume: str = typer.Option(None, "--resume", help="Continue an interrupted run's checkpoint."),
    plot: bool = typer.Option(False, "--plot", help="Also write loss/accuracy curves (PNG)."),
    precision: str = typer.Option("float32", "--precision", help="float32, or mixed (on a GPU)."),
    distribute: bool = typer.Option(
        False, "--distribute", help="Data-parallel over every local device (JAX or TensorFlow)."
    ),
    coordinator: str = typer.Option(
        None, "--coordinator", envvar="CONVCLI_COORDINATOR", help="HOST:PORT of process 0 (JAX multi-process)."
    ),
    num_processes: int = typer.Option(None, "--num-processes", envvar="CONVCLI_NUM_PROCESSES"),
    process_id: int = typer.Option(None, "--process-id", envvar="CONVCLI_PROCESS_ID"),
    json_: bool = typer.Option(False, "--json", help="Print the run's record as JSON."),
) -> None:
    """Train a classifier on MNIST; write MODEL.keras and its JSON record beside it.

    Ctrl-C or SIGTERM stops after the current batch and saves a checkpoint to resume from.

    Example:

    \b
        convcli train softmax                  # about 92%
        convcli train mlp -o mlp.keras         # 98%+
        convcli train cnn --seed 0             # 99.4%+, the recommended model
        convcli train --layers "conv(32,3),pool(2),flatten,dense(10)" --epochs 3 -o mine.keras
        convcli train --resume cnn.ckpt.keras
    """
    from .checkpoints import read_checkpoint_state
    from .objective import loss_key
    from .training import TrainConfig, interrupted_error
    from .training import train as run_training

    if resume:
        output = output or read_checkpoint_state(resume)["config"]["output"]
        config = TrainConfig(spec="", output=output, data_dir=data_dir)
    else:
        config = TrainConfig.from_preset(
            preset,
            layers,
            output=output,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            schedule=schedule,
            augment=augment,
            label_smoothing=label_smoothing,
            seed=seed,
            validation_split=validation_split,
            dataset=dataset,
            data_dir=data_dir,
            limit=limit,
            precision=precision,
            distribute=distribute,
            coordinator=coordinator,
            num_processes=num_processes,
            process_id=process_id,
        )
        config.validate()  # bad options fail before Keras loads (the progress callback needs it)
    from .progress_callback import TrainingProgress

    progress = TrainingProgress(sys.stderr if json_ else sys.stdout, _console() if _is_tty() else None)
    result = run_training(config, callbacks=[progress], resume=resume, log=progress.log)
    if result.interrupted:
        raise interrupted_error(result)
    if plot:
        from .plots import plot_history

        result.record["plot"] = str(plot_history(result.record, result.model_path))
    if json_:
        _print_json(result.record)
        return
    test, loss = result.record["test"], loss_key("loss", result.record["hyperparameters"]["label_smoothing"])
    sys.stdout.write(
        f"test accuracy {test['accuracy'] * 100:.2f}%  {loss} {test['loss']:.4f}  "
        f"({result.record['seconds']:.0f} s)\nmodel: {result.model_path}\nrecord: {result.record_path}\n"
    )


@app.command()
@handle_errors
def evaluate(
    model: str = typer.Argument(..., metavar="MODEL.keras", help="A trained model file."),
    dataset: str = typer.Option("mnist", "--dataset", help="mnist or fashion-mnist."),
    data_dir: str = typer.Option(None, "--data-dir", help="Folder with the dataset files."),
    plot: str = typer.Option(None, "--plot", help="Folder for the confusion heat map and mistakes."),
    json_: bool = typer.Option(False, "--json", help="Print accuracy, loss, confusion, per-class as JSON."),
) -> None:
    """Test accuracy and loss, the confusion matrix, and per-class precision/recall/F1.

    Models load in Keras's safe mode: a file carrying code is refused.

    Example:

    \b
        convcli evaluate cnn.keras
        convcli evaluate cnn.keras --json | jq .accuracy
        convcli evaluate cnn.keras --plot report/
    """
    from .evaluation import evaluate_file

    if plot:
        from .outputs import check_output_dir

        check_output_dir(plot)
    result = evaluate_file(model, dataset=dataset, data_dir=data_dir)
    if plot:
        from .plots import plot_evaluation

        plot_evaluation(result, model, plot, dataset=dataset, data_dir=data_dir)
    if json_:
        _print_json(result.as_json())
        return
    sys.stdout.write(f"accuracy {result.accuracy * 100:.2f}%  loss {result.loss:.4f}  n {result.n}\n")
    n = result.confusion.shape[0]
    _table(
        "Confusion matrix (rows: true class, columns: predicted)",
        ["true\\pred", *map(str, range(n))],
        [[str(i), *(str(v) for v in row)] for i, row in enumerate(result.confusion)],
    )
    _table(
        "Per class",
        ["class", "precision", "recall", "f1", "support"],
        [
            [str(r["class"]), f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1']:.4f}", str(r["support"])]
            for r in result.per_class
        ],
    )


# --------------------------------------------------------------------------- inspection


@app.command()
@handle_errors
def predict(
    model: str = typer.Argument(..., metavar="MODEL.keras", help="A trained model file."),
    images: list[str] = typer.Argument(None, metavar="IMAGE...", help="Photos or scans of one digit each."),
    top: int = typer.Option(3, "--top", "-k", help="How many classes to show."),
    index: int = typer.Option(None, "--index", "-i", help="Predict test image N instead of files."),
    show_input: str = typer.Option(None, "--show-input", help="Save the 28×28 image the model saw (PNG)."),
    dataset: str = typer.Option("mnist", "--dataset", help="Dataset for --index."),
    data_dir: str = typer.Option(None, "--data-dir", help="Folder with the dataset files."),
    json_: bool = typer.Option(False, "--json", help="One JSON object per image."),
) -> None:
    """Classify your own digit images, prepared the way MNIST was (gray, inverted if the
    background is light, cropped, fit into 20×20, centred by mass in 28×28).

    Example:

    \b
        convcli predict cnn.keras my-seven.jpg --top 3
        convcli predict cnn.keras --index 0 --json
        convcli predict cnn.keras scan.png --show-input seen.png
    """
    from .prediction import predict_files

    if top < 1:
        raise ConvcliError(f"--top must be at least 1, got {top}")
    if show_input:
        from .outputs import check_output_path

        check_output_path(show_input, inputs=tuple(images or []))
        if len(images or []) > 1:
            raise ConvcliError("--show-input takes one IMAGE (or --index)")
    results = predict_files(model, list(images or []), index=index, dataset=dataset, data_dir=data_dir)
    if show_input:
        from .images import write_array

        write_array(show_input, results[0].digit.astype("float32"))
    for result in results:
        if json_:
            _print_json(result.as_json(top))
            continue
        pairs = result.top(min(top, len(result.probabilities)))
        if _is_tty():
            from rich.table import Table

            table = Table(title=f"{result.input}: {result.prediction}")
            table.add_column("class")
            table.add_column("probability", justify="right")
            table.add_column("")
            for c, p in pairs:
                table.add_row(str(c), f"{p * 100:.2f}%", "█" * max(0, round(p * 30)))
            _console().print(table)
        else:
            shown = "  ".join(f"{c}:{p:.4f}" for c, p in pairs)
            sys.stdout.write(f"{result.input}\t{result.prediction}\t{shown}\n")


@app.command("feature-maps")
@handle_errors
def feature_maps_cmd(
    model: str = typer.Argument(..., metavar="MODEL.keras", help="A trained model file."),
    image: str = typer.Argument(None, metavar="IMAGE", help="A digit image (or use --index)."),
    output: str = typer.Option(..., "-o", "--output", help="Grid PNG (one per layer: GRID-<layer>.png)."),
    layer: str = typer.Option(None, "--layer", help="Only this layer (default: every conv and pool)."),
    index: int = typer.Option(None, "--index", "-i", help="Use test image N instead of IMAGE."),
    dataset: str = typer.Option("mnist", "--dataset", help="Dataset for --index."),
    data_dir: str = typer.Option(None, "--data-dir", help="Folder with the dataset files."),
    json_: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
) -> None:
    """Draw what each Conv2D and pooling layer sees: one tile per filter, like the lecture's figures.

    Example:

    \b
        convcli feature-maps lecture-cnn.keras --index 0 -o maps.png
        convcli feature-maps cnn.keras my-digit.png --layer conv2d -o conv1.png
    """
    from .inspection import feature_maps_file

    written = feature_maps_file(
        model, output, image=image, index=index, layer=layer, dataset=dataset, data_dir=data_dir
    )
    for maps, path, _ in written:
        if json_:
            _print_json({"layer": maps.name, "type": maps.type, "shape": list(maps.maps.shape), "output": str(path)})
        else:
            sys.stdout.write(
                f"{path}\t{maps.name}\t{maps.maps.shape[-1]} maps of {maps.maps.shape[0]}×{maps.maps.shape[1]}\n"
            )


@app.command()
@handle_errors
def weights(
    model: str = typer.Argument(..., metavar="MODEL.keras", help="A trained model file."),
    output: str = typer.Option(None, "-o", "--output", help="Grid PNG, or a folder with --format txt."),
    layer: str = typer.Option(None, "--layer", help="Only this Conv2D layer."),
    fmt: str = typer.Option("png", "--format", help="png (a grid) or txt (kernel files)."),
    filter_index: int = typer.Option(None, "--filter", help="With txt: only filter N."),
) -> None:
    """Show the learned kernels of each Conv2D layer, as a picture or as kernel files
    that `convcli filter` can apply.

    Example:

    \b
        convcli weights cnn.keras -o kernels.png
        convcli weights cnn.keras --format txt --layer conv2d --filter 3 > k3.txt
        convcli filter --sample camera --gray -k k3.txt -o what-filter-3-sees.png
    """
    from .inspection import weights_file

    _, paths, texts = weights_file(model, output, layer=layer, fmt=fmt, filter_index=filter_index)
    if fmt == "txt" and output is None:
        sys.stdout.write("\n# ----\n".join(texts))
    else:
        for path in paths:
            sys.stdout.write(f"{path}\n")


@app.command()
@handle_errors
def info(json_: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Show the versions, the Keras backend (set KERAS_BACKEND to tensorflow, jax or torch) and
    the devices it sees.

    Example:

    \b
        convcli info
        KERAS_BACKEND=jax convcli info --json
        convcli --device cpu info
    """
    from importlib.metadata import version as pkg_version

    from .backend import backend_info

    data = {"convcli": pkg_version("convcli"), **backend_info()}
    if json_:
        _print_json(data)
        return
    _table(
        "convcli", ["what", "value"], [[k, ", ".join(v) if isinstance(v, list) else str(v)] for k, v in data.items()]
    )
