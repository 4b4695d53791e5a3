"""How ``--help`` looks: Click's plain layout without Typer's stray backslashes, arguments' help
restored, and every help text shown in the chosen language (:mod:`convcli.i18n`)."""

from __future__ import annotations

from typing import Any

import click

from ..i18n import N_, active
from ..i18n import tr as _

TYPE_NAMES = {
    "text": N_("TEXT"),
    "integer": N_("INTEGER"),
    "integer range": N_("INTEGER RANGE"),
    "float": N_("FLOAT"),
    "float range": N_("FLOAT RANGE"),
    "boolean": N_("BOOLEAN"),
    "path": N_("PATH"),
    "file": N_("FILE"),
    "directory": N_("DIRECTORY"),
    "filename": N_("FILENAME"),
}
"""Click's type names (``ParamType.name``) as help shows them after an option with no metavar of
its own (``--top INTEGER RANGE``); a choice lists its values instead, which never change."""
USAGE_PIECES = (N_("[OPTIONS]"), N_("COMMAND [ARGS]..."), N_("[COMMAND] [ARGS]..."))
"""The usage line's placeholders Click and Typer write (``Usage: convcli [OPTIONS] COMMAND [ARGS]...``)."""


def translate_help(command: click.Command, subcommands: bool = False) -> None:
    """Translate ``command``'s help and its parameters' help in place (and its sub-commands'
    summaries, for a group's list), when shown: declared once, in English, in the code; shown in
    the chosen language. Nothing changes in English."""
    if not active():
        return
    owners: list[Any] = [command, *command.params]
    if subcommands and isinstance(command, click.Group):
        owners += list(command.commands.values())
    for owner in owners:
        for attribute in ("help", "short_help", "epilog"):
            text = getattr(owner, attribute, None)
            if text:
                setattr(owner, attribute, _(text))
    translate_metavars(command)


def translate_metavars(command: click.Command) -> None:
    """Show the usage line's placeholders and Click's type names in the chosen language, through
    Click's own metavars: an option's type name becomes its metavar (``--top ENTERO``) where it
    declared none. Arguments' and declared metavars (``MODEL.keras``, ``FILE``) name what the
    messages name, and stay; so do a choice's values."""
    if command.options_metavar:
        command.options_metavar = _(command.options_metavar)
    if isinstance(command, click.Group) and command.subcommand_metavar:
        command.subcommand_metavar = _(command.subcommand_metavar)
    for param in command.params:
        if not isinstance(param, click.Option) or param.metavar is not None or param.is_flag or param.count:
            continue
        name = TYPE_NAMES.get(param.type.name)
        if name is not None:
            param.metavar = _(name) + ("..." if param.nargs != 1 else "")


class _HelpFormatter(click.HelpFormatter):
    """Click's plain help, without the backslash Typer puts before ``[`` for rich markup
    (Typer does so whenever rich is installed, even with rich help turned off)."""

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        super().write_dl([(term, text.replace("\\[", "[")) for term, text in rows], col_max, col_spacing)


class HelpContext(click.Context):
    formatter_class = _HelpFormatter


def restore_argument_help(command: click.Command) -> None:
    """Typer 0.20 sets an argument's help before Click 8.3+'s own ``help`` attribute resets it to
    None (fixed in Typer 0.21, which costs 90 ms of start-up): put the declared text back."""
    from typer.models import ArgumentInfo
    from typer.utils import get_params_from_function

    declared = getattr(command.callback, "__wrapped__", None)
    arguments = [p for p in command.params if isinstance(p, click.Argument) and not getattr(p, "help", None)]
    if declared is None or not arguments:
        return
    infos = get_params_from_function(declared)
    for param in arguments:
        meta = infos.get(param.name or "")
        if meta is not None and isinstance(meta.default, ArgumentInfo):
            param.help = meta.default.help  # type: ignore[attr-defined]
