"""``convcli explain``: serve the live explain page for a trained model until Ctrl-C."""

from __future__ import annotations

import contextlib
import sys

import typer

from ..errors import EXIT_INTERRUPTED, input_error
from ..i18n import tr as _
from .common import app, stderr_line


@app.command("explain")
def explain(
    model: str = typer.Argument(..., metavar="MODEL.keras", help="A trained model file (loaded in safe mode)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only)."),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="Port to listen on (default: a free one)."),
    open_: bool = typer.Option(False, "--open", help="Open the page in the default web browser."),
    out_dir: str | None = typer.Option(
        None,
        "--export-site",
        metavar="DIR",
        help="Write the page as a static site in DIR instead of serving it: the model runs in the "
        "browser, for any static web host (no convcli there).",
    ),
    force: bool = typer.Option(False, "--force", help="With --export-site: replace a DIR that is not empty."),
) -> None:
    """Watch your own model think: a local web page where you draw a digit (or upload a photo)
    and see the probabilities, every Conv2D and pooling layer's feature maps, and for any
    pixel the kernel, the input patch, the products and their sum plus bias.

    Prints the page's URL on stdout; Ctrl-C stops the server (exit status 130).

    With --export-site DIR, writes the same page as a static site instead (index.html, its
    scripts, model.json, weights.bin): copy DIR to any static host (GitHub Pages, a course web
    server) and students draw on it with nothing installed; the model runs in their browser.
    Prints DIR on stdout.

    Example:

    \b
        convcli explain cnn.keras --open
        convcli explain cnn.keras --port 8000
        convcli explain cnn.keras --export-site site/
        python -m http.server -d site/ 8000
        curl -s --data-binary @seven.png -H 'Content-Type: image/png' URL/api/predict
    """
    if out_dir is not None:
        _export(model, out_dir, force)
        return
    if force:
        raise input_error(_("force=True only applies with out_dir=DIR"))
    from ..explain.server import exposure_warning, open_server

    warning = exposure_warning(host)
    if warning:
        sys.stderr.write(_("Warning: {message}").format(message=warning) + "\n")
    server = open_server(model, host=host, port=port)
    try:
        sys.stdout.write(f"{server.url}\n")
        sys.stdout.flush()
        sys.stderr.write(_("serving {model} at {url} (Ctrl-C stops)").format(model=model, url=server.url) + "\n")
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


def _export(model: str, out_dir: str, force: bool) -> None:
    """The static site: DIR on stdout, what was written on stderr."""
    from ..explain.site import export_site

    site = export_site(model, out_dir, force=force)
    sys.stdout.write(f"{site.path}\n")
    weights = site.files.get("weights.bin", 0)
    message = _(
        "wrote {count} files ({megabytes:.2f} MB, of which weights.bin {weights:.2f} MB for {params:,} parameters) "
        "to {path}/: copy it to any static web host, or try it with: python -m http.server -d {path} 8000"
    )
    stderr_line(
        message.format(
            count=len(site.files),
            megabytes=site.total_bytes / 1e6,
            weights=weights / 1e6,
            params=site.params,
            path=site.path,
        )
    )


def _exit_now(status: int) -> None:
    """Report Ctrl-C and leave at once: the server wrote no files, and the interpreter's normal
    teardown with a backend loaded (TensorFlow's thread pools) takes 1–3 s."""
    import os

    stderr_line(_("Error: interrupted"))
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    os._exit(status)
