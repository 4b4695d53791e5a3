"""``convcli`` commands that use a trained model: evaluate (on a test set) and predict (your pictures)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import EXIT_FAILURE, ConvcliError
from ..i18n import N_
from ..i18n import tr as _
from .batch import BatchView
from .common import app, console, echo, is_tty, print_json, table, warning_line
from .options import (
    DataDir,
    FilesFrom,
    Json,
    KeepGoing,
    ModelDataset,
    ModelFile,
    Null,
    ShardOption,
    TestIndex,
    batch_inputs,
    shard_option,
    shard_size,
)


def _class_label(index: int, names: list[str]) -> str:
    """A class as tables show it: the digit for MNIST ("7"), index and name otherwise ("9 Ankle boot")."""
    name = names[index] if index < len(names) else str(index)
    return name if name == str(index) else f"{index} {name}"


@app.command()
def evaluate(
    model: ModelFile,
    dataset: ModelDataset = None,
    data_dir: DataDir = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            metavar="DIR",
            help="Labelled pictures laid out as for training (its test/ folder if it has one; the run's own "
            "test split if it is the training folder), or an IDX set. Default for a model trained on a "
            "folder: its run's test split.",
        ),
    ] = None,
    plot: Annotated[
        bool,
        typer.Option("--plot", help="Also draw the confusion heat map and the mistakes (PNG), beside the model."),
    ] = False,
    out_dir: Annotated[
        str | None, typer.Option("--out-dir", "-d", help="With --plot: an existing folder for the pictures instead.")
    ] = None,
    json_: Json = False,
) -> None:
    """Test accuracy and loss, the confusion matrix, and per-class precision/recall/F1.

    The test set is the dataset the model was trained on (stored in the model file; MNIST for
    older models), classes shown by name. Models load in Keras's safe mode: a file carrying code
    is refused.
    MODEL may also be an export (.onnx, .tflite: `convcli export`), run without TensorFlow.

    Example:

    \b
        convcli evaluate cnn.keras
        convcli evaluate cnn.keras --json | jq .accuracy
        convcli evaluate cnn.keras --plot -d report/
        convcli evaluate leaves.keras --data more-leaves/
    """
    from ..jobs import evaluate_file

    if out_dir is not None and not plot:
        raise ConvcliError(_("--out-dir is where --plot draws: give --plot too"))
    plot_dir = (out_dir or str(Path(model).parent)) if plot else None
    evaluation = evaluate_file(
        model, dataset=dataset, data_dir=data_dir, plot_dir=plot_dir, data=data, warn=warning_line
    )
    result = evaluation.result
    plots = [str(path) for path in evaluation.plots]
    if json_:
        extra = {"evaluated_on": evaluation.evaluated_on, "class_names": evaluation.class_names}
        print_json(
            {**result.as_json(), **(extra if evaluation.class_names else {}), **({"plots": plots} if plot else {})}
        )
        return
    n = result.confusion.shape[0]
    # a folder model's own class names head the columns; a built-in dataset's classes are numbered
    named = evaluation.class_names or [_class_label(i, result.class_names) for i in range(n)]
    if evaluation.evaluated_on:
        from ..datasets.wording import shown

        echo(_("evaluated on {data}").format(data=shown(evaluation.evaluated_on)) + "\n")
    line = _("accuracy {accuracy:.2f}%  loss {loss:.4f}  n {n}")
    echo(line.format(accuracy=result.accuracy * 100, loss=result.loss, n=result.n) + "\n")
    table(
        N_("Confusion matrix (rows: true class, columns: predicted)"),
        ["true\\pred", *(evaluation.class_names or map(str, range(n)))],
        [[named[i], *(str(v) for v in row)] for i, row in enumerate(result.confusion)],
    )
    table(
        N_("Per class"),
        [N_("class"), "precision", "recall", "f1", "support"],
        [
            [named[r["class"]], f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1']:.4f}", str(r["support"])]
            for r in result.per_class
        ],
    )
    for path in plots:
        echo(_("plot: {path}").format(path=path) + "\n")


@app.command()
def predict(
    model: ModelFile,
    images: Annotated[
        list[str] | None,
        typer.Argument(metavar="IMAGE...", help="Photos or scans of one digit each (any image format, or -)."),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many classes to show.")] = 3,
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
    keep_going: KeepGoing = False,
    files_from: FilesFrom = None,
    null: Null = False,
    shard: ShardOption = None,
) -> None:
    """Classify your own digit images, prepared the way MNIST was: the digit's ink found (noise,
    lighting, paper colour and lines removed), cropped, fit into 20×20, centred by mass in 28×28.
    A model trained on a folder (train --data) gets each picture resized as its training
    pictures were, and its class names are printed. Transparent areas are read as white paper
    (alpha composited onto white, like convert -background white -alpha remove).

    A picture with no digit is an error (exit 2) that stops the batch there, or, with
    --keep-going, one failure record (exit 1 at the end) while the others are classified.
    Results stream as they come; with --json every picture gets one line: its prediction, its
    error, or "not_started": true. A prediction whose top probability is below 0.5 is marked
    uncertain ("uncertain": true in --json). Classes are shown by the model's names ("label" in
    --json); --index takes a test image of the dataset the model was trained on. MODEL may also
    be an export (.onnx, .tflite: `convcli export`), run without TensorFlow.

    Example:

    \b
        convcli predict cnn.keras my-seven.jpg --top 3
        convcli predict cnn.keras --index 0 --json
        convcli predict cnn.keras scan.png --show-input seen.png
        convcli predict cnn.keras *.jpg --show-input seen/     # seen/<stem>-seen.png each
        convcli predict cnn.keras year.jpg --digits            # 2026, with each digit's probability
        convcli predict leaves.keras oak.jpg                   # oak  oak:0.9712  maple:0.0201 …
        find scans -name '*.png' | convcli predict cnn.keras --files-from - --keep-going --json
        convcli predict cnn.onnx my-seven.jpg                  # the same answer, no TensorFlow
    """
    if index is not None:
        if digits:
            raise ConvcliError(_("--digits reads IMAGE files, not --index"))
        if files_from is not None or shard is not None:
            raise ConvcliError(_("--index takes one test image: no --files-from or --shard"))
        _predict_index(model, list(images or []), index, dataset, data_dir, show_input, top, json_)
        return
    _predict_batch(
        model,
        batch_inputs(images, files_from, null),
        digits,
        dataset,
        show_input,
        top,
        json_,
        keep_going,
        shard_option(shard),
    )


def _predict_index(
    model: str,
    images: list[str],
    index: int,
    dataset: str | None,
    data_dir: str | None,
    show_input: str | None,
    top: int,
    json_: bool,
) -> None:
    """``predict --index N``: one test image of the dataset, as before batches."""
    from ..prediction.predict import predict_files

    results = predict_files(model, images, index=index, dataset=dataset, data_dir=data_dir, show_input=show_input)
    for result in results:
        if json_:
            print_json(result.as_json(top))
            continue
        _render_prediction(result, top)


def _predict_batch(
    model: str,
    sources: list[str],
    digits: bool,
    dataset: str | None,
    show_input: str | None,
    top: int,
    json_: bool,
    keep_going: bool,
    shard: Any,
) -> None:
    """Pictures (or numbers, ``digits``) classified as a batch: records stream through the batch
    view, failures too; exit 1 at the end when a picture failed under ``keep_going``."""
    from ..batches.events import path_json
    from ..batches.predicting import predict_batch

    def as_json(result: Any) -> dict[str, Any]:
        return {**result.as_json(top), **path_json("input", result.input)}

    def plain(result: Any) -> None:
        if digits:
            _render_number(result)
        else:
            _render_prediction(result, top)

    view = BatchView(
        inputs=shard_size(sources, shard),
        outputs_per_input=1,
        json_=json_,
        keep_going=keep_going,
        label="predict",
        plain=plain,
        json_of=as_json,
    )
    view.tally.verb, view.tally.noun = "predicted", "picture"
    with view.running():
        result = predict_batch(
            model,
            sources,
            digits=digits,
            dataset=dataset,
            keep_going=keep_going,
            shard=shard,
            show_input=show_input,
            report=view.report,
        )
    if result.failures:
        raise typer.Exit(EXIT_FAILURE)


def _render_prediction(result: Any, top: int) -> None:
    """One prediction: a table at a terminal, else one tab-separated line (``uncertain`` appended
    when so); classes by name ("Ankle boot"; the digit for MNIST)."""
    pairs = result.top(min(top, len(result.probabilities)))
    if is_tty():
        from rich.table import Table

        doubt = _(" (uncertain: {percent:.0f}%)").format(percent=result.probability * 100) if result.uncertain else ""
        grid = Table(title=f"{result.input}: {result.label}{doubt}")
        grid.add_column(_("class"))
        grid.add_column(_("probability"), justify="right")
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

        grid = Table(title=f"{number.input}: {number.number}" + (_(" (uncertain)") if number.uncertain else ""))
        for column in (N_("position"), N_("digit"), N_("probability"), ""):
            grid.add_column(_(column) if column else "", justify="right" if column == "probability" else "left")
        for i, digit in enumerate(number.digits):
            grid.add_row(
                str(i + 1),
                str(digit.prediction),
                f"{digit.probability * 100:.2f}%",
                _("uncertain") if digit.uncertain else "",
            )
        console().print(grid)
        return
    shown = "  ".join(f"{d.prediction}:{d.probability:.4f}" for d in number.digits)
    doubt = "\tuncertain" if number.uncertain else ""
    echo(f"{number.input}\t{number.number}\t{shown}{doubt}\n")
