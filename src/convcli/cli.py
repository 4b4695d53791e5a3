"""The ``convcli`` command line: parse arguments, call one library function, render the result.

Nothing here computes: every command is a thin shell over a library function. Library
modules are imported inside the commands so that ``convcli --help`` stays fast and never
imports TensorFlow.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from .errors import EXIT_FAILURE, EXIT_INTERRUPTED, ConvcliError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="convcli",
    help=(
        "Images as matrices, convolution kernels through a Keras Conv2D layer, and MNIST "
        "classifiers (softmax, MLP, CNN): the ideas of a CNN lecture as commands.\n\n"
        "Exit status: 0 success, 1 failure while working, 2 bad usage or input, 130 Ctrl-C."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
kernels_app = typer.Typer(
    help="List the named kernels, or show one as a matrix.",
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)
app.add_typer(kernels_app, name="kernels")


# --------------------------------------------------------------------------- plumbing


_reported = False


def _stderr(message: str) -> None:
    global _reported
    _reported = True
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def handle_errors(func: F) -> F:
    """Turn library errors into one ``Error:`` line on stderr and the documented exit status."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .backend import is_verbose

        try:
            return func(*args, **kwargs)
        except ConvcliError as exc:
            if is_verbose():
                import traceback

                traceback.print_exc()
            _stderr(f"Error: {exc.message}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            _stderr("Error: interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            # The reader of our stdout went away (e.g. `| head`): not an error of ours.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            raise typer.Exit(EXIT_FAILURE) from None
        except MemoryError:
            _stderr("Error: out of memory (try a smaller input or batch)")
            raise typer.Exit(EXIT_FAILURE) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as exc:  # a bug or a library failure: still one line, never a traceback
            if is_verbose():
                import traceback

                traceback.print_exc()
            detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            _stderr(f"Error: unexpected {type(exc).__name__}: {detail} (--verbose shows the traceback)")
            raise typer.Exit(EXIT_FAILURE) from None
        except OSError as exc:
            if is_verbose():
                import traceback

                traceback.print_exc()
            _stderr(f"Error: {exc.filename or ''}{': ' if exc.filename else ''}{exc.strerror or exc}")
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper  # type: ignore[return-value]


def _is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")


def _table(title: str | None, columns: list[str], rows: list[list[str]]) -> None:
    """A rich table on a terminal; tab-separated plain text (with a header) when piped."""
    if _is_tty():
        from rich.table import Table

        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        _console().print(table)
    else:
        sys.stdout.write("\t".join(columns) + "\n")
        for row in rows:
            sys.stdout.write("\t".join(row) + "\n")


def _write_png_stdout(array: Any) -> None:
    from .images import encode_image, to_uint8

    if _is_tty():
        raise ConvcliError("refusing to write PNG bytes to a terminal: redirect stdout or use -o FILE")
    pixels = array if array.dtype.name == "uint8" else to_uint8(array, "clip")
    data = encode_image(pixels)
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _source(input_: str | None, sample: str | None) -> str:
    if sample and input_:
        raise ConvcliError("give INPUT or --sample NAME, not both")
    if sample:
        return f"sample:{sample}"
    if not input_:
        raise ConvcliError("no input given: name an image file, '-' for stdin, or --sample NAME")
    return input_


@app.callback(invoke_without_command=True)
def main_options(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks and TensorFlow's own log lines."),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
    device: str = typer.Option("auto", "--device", help="auto (a GPU when there is one) or cpu (hide every GPU)."),
) -> None:
    """Global options."""
    from .backend import select_device, set_verbose

    set_verbose(verbose)
    select_device(device)
    if verbose:
        os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
    if version:
        from importlib.metadata import version as pkg_version

        sys.stdout.write(f"convcli {pkg_version('convcli')}\n")
        raise typer.Exit(0)


# --------------------------------------------------------------------------- entry point


def main() -> None:
    """Console-script entry point (``convcli`` and ``python -m convcli``)."""
    try:
        app()
    except KeyboardInterrupt:
        _stderr("Error: interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit as exc:
        # Typer turns a Ctrl-C outside our commands (while parsing) into a silent exit 130.
        if exc.code == EXIT_INTERRUPTED and not _reported:
            _stderr("Error: interrupted")
        raise


# The commands live in two modules by group; importing them registers them on ``app``.
from . import cli_images, cli_models  # noqa: E402,F401  (after app and the helpers exist)

# isort: split
from . import cli_explain  # noqa: E402,F401  (issue 17: the lead moves it into the cli/ package)
