"""``convcli explain``: serve the live explain page for a trained model until Ctrl-C."""

from __future__ import annotations

import contextlib
import sys

import typer

from ..errors import EXIT_INTERRUPTED
from ..i18n import tr as _
from .common import app, stderr_line


@app.command("explain")
def explain(
    model: str = typer.Argument(..., metavar="MODEL.keras", help="A trained model file (loaded in safe mode)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only)."),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="Port to listen on (default: a free one)."),
    open_: bool = typer.Option(False, "--open", help="Open the page in the default web browser."),
) -> None:
    """Watch your own model think: a local web page where you draw a digit (or upload a photo)
    and see the probabilities, every Conv2D and pooling layer's feature maps, and for any
    pixel the kernel, the input patch, the products and their sum plus bias.

    Prints the page's URL on stdout; Ctrl-C stops the server (exit status 130).

    Example:

    \b
        convcli explain cnn.keras --open
        convcli explain cnn.keras --port 8000
        curl -s --data-binary @seven.png -H 'Content-Type: image/png' URL/api/predict
    """
    from ..explain.server import exposure_warning, open_server

    warning = exposure_warning(host)
    if warning:
        sys.stderr.write(f"Warning: {warning}\n")
    server = open_server(model, host=host, port=port)
    try:
        sys.stdout.write(f"{server.url}\n")
        sys.stdout.flush()
        sys.stderr.write(f"serving {model} at {server.url} (Ctrl-C stops)\n")
        sys.stderr.flush()
        if open_:
            import webbrowser

            webbrowser.open(server.url)
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()
        _exit_now(EXIT_INTERRUPTED)
    finally:
        server.server_close()


def _exit_now(status: int) -> None:
    """Report Ctrl-C and leave at once: the server wrote no files, and the interpreter's normal
    teardown with a backend loaded (TensorFlow's thread pools) takes 1–3 s."""
    import os

    stderr_line(_("Error: interrupted"))
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    os._exit(status)
