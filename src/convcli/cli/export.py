"""``convcli export``: a trained model as ONNX, LiteRT or a SavedModel, verified against Keras."""

from __future__ import annotations

from typing import Annotated

import typer

from ..i18n import tr as _
from ..models.metadata import EXPORT_FORMATS
from .common import app, echo, print_json
from .options import DataDir, Json, choice


@app.command("export")
def export_cmd(
    model: Annotated[str, typer.Argument(metavar="MODEL.keras", help="A trained model file (loaded in safe mode).")],
    output: Annotated[
        str, typer.Option("-o", "--output", help="The exported file (.onnx, .tflite), or a folder for a SavedModel.")
    ],
    fmt: Annotated[
        str | None,
        choice(
            "--format",
            choices=list(EXPORT_FORMATS),
            help="Default: from the output's suffix (.onnx, .tflite; none: savedmodel).",
        ),
    ] = None,
    samples: Annotated[
        int, typer.Option("--samples", min=1, help="Test pictures to verify on (made odd: one odd batch).")
    ] = 65,
    data_dir: DataDir = None,
    json_: Json = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an export already at --output.")] = False,
) -> None:
    """Export a trained model to ONNX, LiteRT (.tflite) or a TensorFlow SavedModel, and prove it.

    The file keeps the model's class names, input shape and colour, scaling and preparation
    (ONNX: metadata_props["convcli"]; LiteRT: NAME.tflite.json beside it; SavedModel:
    convcli.json inside), and takes any batch size. Before anything is written the export is run
    by its own runtime (onnxruntime, ai-edge-litert, TensorFlow) on a sample of the model's test
    set, one picture at a time and all at once: the same top class and every probability within
    1e-5 of Keras's, or an error (exit 1). Needs the export extra: pip install 'convcli[export]'.
    `predict` and `evaluate` take .onnx and .tflite files and run them without TensorFlow.

    Example:

    \b
        convcli export cnn.keras -o cnn.onnx
        convcli export cnn.keras -o cnn.tflite --json | jq .verification.max_abs_diff
        convcli export cnn.keras --format savedmodel -o cnn_savedmodel
        convcli predict cnn.onnx my-seven.jpg
    """
    from ..models.export import export_model

    result = export_model(model, output, fmt=fmt, samples=samples, data_dir=data_dir, force=force)
    if json_:
        print_json(result.as_json())
        return
    from ..datasets.wording import shown

    check = result.verification
    line = _(
        "{output}\t{format}\tverified with {runtime} on {data}: same top class {agree}/{samples}, "
        "max |Δ| {diff:.2g} (batches {batches})"
    )
    fields = {"output": result.output, "format": result.format, "runtime": check.runtime, "data": shown(check.data)}
    echo(
        line.format(
            **fields,
            agree=check.top1_agree,
            samples=check.samples,
            diff=check.max_abs_diff,
            batches=", ".join(map(str, check.batch_sizes)),
        )
        + "\n"
    )
