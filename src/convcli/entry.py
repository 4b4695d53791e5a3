"""The console-script entry point: tiny, so that Ctrl-C during start-up is still a clean exit.

The language is chosen first (:func:`convcli.i18n.setup`: Click and Typer read it when imported).
A running daemon (``convcli daemon start``) serves the command when it can (one started in the
same language: the language is part of its identity); otherwise, and always with
``CONVCLI_DAEMON=off`` or ``--no-daemon``, the command runs in this process.
"""

from __future__ import annotations

import os
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
        exit_interrupted()
        return  # not reached (typing is not imported for NoReturn: start-up time)
    if status is not None:
        sys.exit(status)
    try:
        run_in_process()
    except SystemExit as exc:
        if exc.code == EXIT_INTERRUPTED and _from_keyboard_interrupt(exc):
            exit_interrupted()
        raise  # any other exit, an interrupted training's too, ends the usual way (atexit handlers run)


def _from_keyboard_interrupt(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt is among the exceptions ``exc`` was raised while handling."""
    seen = exc.__context__
    for _depth in range(10):
        if seen is None or isinstance(seen, KeyboardInterrupt):
            return seen is not None
        seen = seen.__context__
    return False


def exit_interrupted() -> None:
    """Exit with status 130 at once (never returns), streams flushed.

    Not ``sys.exit``: a Ctrl-C that lands in code a C extension runs through ``PyRun_*`` while it
    is imported leaves CPython's "unhandled KeyboardInterrupt" flag set even though convcli caught
    it, and the interpreter then ends the process by SIGINT (-2) instead of the documented 130
    (seen in 4 of 22 interrupted start-ups here; 0 of 50 since)."""
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105  (contextlib is not imported: start-up time)
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(EXIT_INTERRUPTED)


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
