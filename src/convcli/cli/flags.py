"""Library messages in the CLI's words: the parameters a message names become the flags the
user typed. Library code names parameters (``max_pixels``, or one word marked with
``errors.param``: ```index```), so that Python callers read their own argument names; this
module is the one mapping from those names to flags, applied to every error and warning.
"""

from __future__ import annotations

import re

import click

_PARAM = re.compile(r"`([a-z][a-z0-9_]*)`|\b([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b")


def name_flags(message: str, flags: dict[str, str]) -> str:
    """A library message as the CLI user reads it: each parameter it names (``max_pixels``, or a
    marked one, ```index```) becomes the flag of the command being run (``--max-pixels``,
    ``--index``). The one place where parameter names map to flags."""

    def flag(match: re.Match[str]) -> str:
        marked, bare = match.groups()
        name = marked or bare
        if name in flags:
            return flags[name]
        return "--" + name.replace("_", "-") if marked else match.group(0)

    return _PARAM.sub(flag, message)


def command_flags(ctx: click.Context | None) -> dict[str, str]:
    """Parameter name → the flag as typed (its longest ``--`` form) for the command being run
    and the groups above it (global options): what :func:`name_flags` maps to. Called from the
    group after its sub-command stopped, it looks the sub-command up by name."""
    if ctx is None:
        return {}
    commands: list[click.Command] = []
    node: click.Context | None = ctx
    while node is not None:
        commands.append(node.command)
        node = node.parent
    group, name = ctx.command, ctx.invoked_subcommand
    while isinstance(group, click.Group) and name:
        sub = group.get_command(ctx, name)
        if sub is None:
            break
        commands.append(sub)
        group, name = sub, None
    flags = {}
    for command in reversed(commands):
        for option in command.params:
            longs = [o for o in option.opts if o.startswith("--")]
            if isinstance(option, click.Option) and longs and option.name:
                flags[option.name] = max(longs, key=len)
    return flags
