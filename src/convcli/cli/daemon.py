"""``convcli daemon start|status|stop``: the warm daemon that serves one-file calls fast."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..i18n import retranslate
from ..i18n import tr as _
from .common import HelpGroup, Typer, app, echo, print_json
from .options import Json

daemon_app = Typer(
    cls=HelpGroup,
    help="A background process that imported Keras once and serves every later convcli call of\n"
    "this user, installation and environment (filter, predict, evaluate, summary, feature-maps,\n"
    "weights, info) in a fraction of a second. CONVCLI_DAEMON=off or --no-daemon: in process.\n\n"
    "Example:\n\n"
    "\b\n"
    "    convcli daemon start\n"
    '    mkdir -p edges && for f in *.png; do convcli filter "$f" -k edges -d edges/; done\n'
    "    convcli daemon status --json\n"
    "    convcli daemon stop",
    short_help="Start, show or stop the warm daemon (fast one-file calls in scripts).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(daemon_app, name="daemon")


def _render(info: dict[str, Any]) -> None:
    if not info["running"]:
        from ..daemon.control import REASONS

        reason = retranslate(info.get("reason", ""), REASONS)
        echo(_("not running: {reason}").format(reason=reason) + "\n")
    else:
        line = _(
            "running: pid {pid}, convcli {version}, {served} jobs served, {jobs_running} running, "
            "idle timeout {idle_timeout:g} s"
        )
        echo(line.format(**info) + "\n")
    echo(_("socket: {socket}").format(socket=info["socket"]) + "\n")
    for other in info.get("others", []):
        echo(_("also running for another installation or environment: pid {pid} ({socket})").format(**other) + "\n")


@daemon_app.command("start")
def start_cmd(
    idle: Annotated[
        float, typer.Option("--idle", metavar="SECONDS", help="Exit after this long without a job.", min=0.001)
    ] = 900.0,
    json_: Json = False,
) -> None:
    """Start the daemon (a no-op when one is running) and wait until it answers.

    Example:

    \b
        convcli daemon start --idle 3600
    """
    from ..daemon.control import start

    info = start(idle)
    if json_:
        print_json(info)
    else:
        line = (
            _("started: pid {pid}, socket {socket}")
            if info["started"]
            else _("already running: pid {pid}, socket {socket}")
        )
        echo(line.format(**info) + "\n")


@daemon_app.command("status")
def status_cmd(json_: Json = False) -> None:
    """Say whether a daemon serves this installation and environment; exit status 1 when not.

    Example:

    \b
        convcli daemon status --json
    """
    from ..daemon.control import status

    info = status()
    if json_:
        print_json(info)
    else:
        _render(info)
    if not info["running"]:
        raise typer.Exit(1)


@daemon_app.command("stop")
def stop_cmd() -> None:
    """Stop this user's daemons (running jobs finish first, on their own).

    Example:

    \b
        convcli daemon stop
    """
    from ..daemon.control import stop

    stopped = stop()
    echo(
        "".join(_("stopped: pid {pid}").format(pid=pid) + "\n" for pid in stopped) or _("no daemon was running") + "\n"
    )
