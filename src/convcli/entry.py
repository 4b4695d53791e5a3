"""The console-script entry point: tiny, so that Ctrl-C during start-up is still a clean exit.

The language is chosen first (:func:`convcli.i18n.setup`: Click and Typer read it when imported).
A running daemon (``convcli daemon start``) serves the command when it can (one started in the
same language: the language is part of its identity); otherwise, and always with
``CONVCLI_DAEMON=off`` or ``--no-daemon``, the command runs in this process.
"""

from __future__ import annotations

import sys

from .errors import EXIT_INTERRUPTED
from .i18n import setup
from .i18n import tr as _


def main() -> None:
    """Run ``convcli`` (and ``python -m convcli``); Ctrl-C at any moment exits 130 with one line."""
    try:
        setup()
        from .daemon.client import run_served

        status = run_served(sys.argv[1:])
    except KeyboardInterrupt:
        sys.stderr.write(_("Error: interrupted") + "\n")
        sys.exit(EXIT_INTERRUPTED)
    if status is not None:
        sys.exit(status)
    run_in_process()


def run_in_process() -> None:
    """Parse the command line and run the command here (also what a daemon's job process runs)."""
    try:
        from .cli import app
        from .cli.common import error_reported, stderr_line
    except KeyboardInterrupt:
        sys.stderr.write(_("Error: interrupted") + "\n")
        sys.exit(EXIT_INTERRUPTED)
    try:
        app(prog_name="convcli")  # also under `python -m convcli`: help and completion name the command
    except KeyboardInterrupt:
        stderr_line(_("Error: interrupted"))
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit as exc:
        # Typer turns a Ctrl-C outside the commands (while parsing) into a silent exit 130.
        if exc.code == EXIT_INTERRUPTED and not error_reported():
            stderr_line(_("Error: interrupted"))
        raise
