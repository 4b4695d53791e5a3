"""The console-script entry point: tiny, so that Ctrl-C during start-up is still a clean exit."""

from __future__ import annotations

import sys


def main() -> None:
    """Run ``convcli``; a Ctrl-C before the CLI is even loaded exits 130 with one line."""
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("Error: interrupted\n")
        sys.exit(130)
    cli_main()
