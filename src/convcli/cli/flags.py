"""Library messages in the CLI's words: the parameters a message names become the flags the
user typed. Library code names parameters (``max_pixels``, or one word marked with
``errors.param``: ```index```), so that Python callers read their own argument names; this
module is the one mapping from those names to flags, applied to every error and warning.
"""

from __future__ import annotations

import os
import re
from typing import Any

import click

from ..i18n import tr

_PARAM = re.compile(r"`([a-z][a-z0-9_]*)`|(?<![\w=.-])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b(?!=)")


def name_flags(message: str, flags: dict[str, str]) -> str:
    """A library message as the CLI user reads it: each parameter it names becomes the flag of
    the command being run. The forms library messages use for a parameter: a name with ``_``
    (``max_pixels`` → ``--max-pixels``), a switch set (``strict=True`` → ``--strict``), a value
    placeholder (``data_dir=DIR`` → ``--data-dir DIR``), or a marked word (```index``` from
    :func:`convcli.errors.param` → ``--index``). Prose and values such as
    ``input_shape=input_shape`` stay as written. The one place where parameter names map to flags."""
    for name, flag in flags.items():
        message = re.sub(rf"(?<![\w=-]){re.escape(name)}=True\b", flag, message)
        message = re.sub(rf"(?<![\w=-]){re.escape(name)}=(DIR|FILE|N|CHECKPOINT)\b", rf"{flag} \1", message)

    def flag(match: re.Match[str]) -> str:
        marked, bare = match.groups()
        name = marked or bare
        if name in flags:
            return flags[name]
        return name if marked else match.group(0)  # not a flag of this command: the plain name

    return _PARAM.sub(flag, message)


def flags_named(message: str, command: click.Command) -> str:
    """:func:`name_flags` with ``command``'s own options."""
    return name_flags(message, options_of([command]))


def options_of(commands: list[click.Command]) -> dict[str, str]:
    """Parameter name → its flag as typed: ``--`` plus the name when the option has that
    spelling, else its longest ``--`` form; later commands win."""
    flags = {}
    for command in commands:
        for option in command.params:
            longs = [o for o in option.opts if o.startswith("--")]
            if isinstance(option, click.Option) and longs and option.name:
                spelt = "--" + option.name.replace("_", "-")
                flags[option.name] = spelt if spelt in longs else max(longs, key=len)
    return flags


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
    return options_of(list(reversed(commands)))


DEPRECATED: dict[str, dict[str, tuple[str, ...]]] = {
    # command -> old spelling -> what it becomes (kept, hidden, for one release: 0.2 drops them)
    "predict": {"-k": ("--top",)},
    "feature-maps": {"--layer": ("--layer-name",)},
    "weights": {"--layer": ("--layer-name",), "--filter": ("--filter-index",), "--format": ()},
    "summary": {"--input": ("--image-size",)},
    "evaluate": {"--plot": ("--plot", "--out-dir")},  # only `--plot DIR` (an existing folder) is old
}
"""Old spellings that meant something else elsewhere (``-k`` is ``--kernel``; ``--layer`` beside
``--layers``; ``--filter`` beside the ``filter`` command; ``--format`` with another set of values;
``--input`` for what ``train`` calls ``--image-size``): rewritten before Click parses, with a
warning, so that no flag has two meanings in any command's parameters."""


def rewrite_deprecated(command: str, args: list[str], warn: Any) -> list[str]:
    """``args`` with ``command``'s old spellings replaced by the new ones; ``warn(message)`` once
    for each old spelling used. ``weights --format txt`` becomes ``--txt`` (``png`` is the default)."""
    table = DEPRECATED.get(command, {})
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out += args[i:]
            break
        name, eq, value = arg.partition("=")
        if arg[:2] in table and len(arg) > 2 and arg[1] != "-":  # a short option's value attached: -k3
            name, eq, value = arg[:2], "=", arg[2:]
        old_plot = command == "evaluate" and name == "--plot"
        if old_plot and not eq:  # `--plot` is a switch now; `--plot DIR` was the old form
            eq, value = ("=", args[i + 1]) if i + 1 < len(args) and os.path.isdir(args[i + 1]) else ("", "")
            i += 1 if eq else 0
        if name not in table or (old_plot and not eq):
            out.append(arg)
            i += 1
            continue
        if not eq:
            i += 1
            value = args[i] if i < len(args) else ""
        i += 1
        if old_plot:
            warn(tr("--plot {value} is deprecated: use --plot --out-dir {value}").format(value=value))
            out += ["--plot", "--out-dir", value]
        elif command == "weights" and name == "--format":
            warn(tr("--format is deprecated: use --txt for kernel files (a PNG grid is the default)"))
            out += ["--txt"] if value == "txt" else []
        elif command == "summary" and name == "--input":
            new = _image_size_and_color(value)
            warn(tr("--input is deprecated: use {flags}, as train does").format(flags=" ".join(new)))
            out += new
        else:
            warn(tr("{name} is deprecated: use {new}").format(name=name, new=table[name][0]))
            out += [table[name][0], value]
    return out


def _image_size_and_color(shape: str) -> list[str]:
    """``HxWxC`` (summary's old ``--input``) as ``--image-size HxW --color gray|rgb``."""
    parts = shape.lower().replace("×", "x").split("x")
    if len(parts) == 3 and parts[2] in ("1", "3"):
        return ["--image-size", f"{parts[0]}x{parts[1]}", "--color", "gray" if parts[2] == "1" else "rgb"]
    return ["--image-size", shape]
