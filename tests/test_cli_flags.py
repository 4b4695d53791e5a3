"""One meaning per flag: walking every command's Click parameters, a short flag never stands for
two long names, and a long name is never on/off in one command and takes a value in another.
Old spellings still work for one release, with a warning."""

from __future__ import annotations

from collections import defaultdict

import click
import pytest
import typer

from convcli.cli import app
from convcli.cli.flags import DEPRECATED, rewrite_deprecated


def every_option() -> list[tuple[str, click.Option]]:
    """(command path, option) for every option of every command and group, hidden ones too."""
    found: list[tuple[str, click.Option]] = []

    def walk(command: click.Command, path: str) -> None:
        found.extend((path, p) for p in command.params if isinstance(p, click.Option))
        if isinstance(command, click.Group):
            for name in command.list_commands(click.Context(command)):
                walk(command.get_command(click.Context(command), name), f"{path} {name}".strip())

    walk(typer.main.get_command(app), "")
    return found


def test_a_short_flag_means_one_long_name_everywhere() -> None:
    meanings: dict[str, set[str]] = defaultdict(set)
    for _, option in every_option():
        shorts = [o for o in option.opts + option.secondary_opts if not o.startswith("--")]
        longs = sorted(o for o in option.opts if o.startswith("--"))
        for short in shorts:
            meanings[short].add(longs[0] if longs else f"(none: {option.name})")
    doubled = {short: names for short, names in meanings.items() if len(names) > 1}
    assert not doubled, doubled


def test_a_long_name_is_a_switch_everywhere_or_takes_a_value_everywhere() -> None:
    kinds: dict[str, set[str]] = defaultdict(set)
    where: dict[str, list[str]] = defaultdict(list)
    for path, option in every_option():
        for name in option.opts + option.secondary_opts:
            if name.startswith("--"):
                kinds[name].add("switch" if option.is_flag else "value")
                where[name].append(path or "convcli")
    mixed = {name: where[name] for name, k in kinds.items() if len(k) > 1}
    assert not mixed, mixed


def test_the_walk_sees_every_command() -> None:
    paths = {path for path, _ in every_option()}
    assert {"filter", "predict", "train", "evaluate", "weights", "feature-maps", "summary"} <= paths


@pytest.mark.parametrize(
    ("command", "old", "new"),
    [
        ("predict", ["-k", "3"], ["--top", "3"]),
        ("predict", ["-k3"], ["--top", "3"]),  # the value attached, as getopt allows
        ("feature-maps", ["--layer", "conv2d"], ["--layer-name", "conv2d"]),
        (
            "weights",
            ["--layer=conv2d", "--filter", "2", "--format", "txt"],
            ["--layer-name", "conv2d", "--filter-index", "2", "--txt"],
        ),
        ("summary", ["--input", "64x64x3"], ["--image-size", "64x64", "--color", "rgb"]),
        ("filter", ["-k", "edges"], ["-k", "edges"]),  # filter's -k is --kernel: untouched
        ("predict", ["--", "-k"], ["--", "-k"]),  # after --, a file named -k
        ("evaluate", ["--plot", "m.keras"], ["--plot", "m.keras"]),  # the switch, then MODEL
        ("evaluate", ["--plot=report"], ["--plot", "--out-dir", "report"]),
    ],
)
def test_old_spellings_are_rewritten_with_a_warning(command, old, new) -> None:
    warnings: list[str] = []
    assert rewrite_deprecated(command, old, warnings.append) == new
    assert bool(warnings) == (old != new)
    assert all("deprecated" in w for w in warnings)


def test_deprecated_spellings_are_not_click_parameters() -> None:
    """They are rewritten before parsing, so the walk above sees one meaning per flag."""
    for path, option in every_option():
        for old, new in DEPRECATED.get(path, {}).items():
            if old not in new:  # evaluate's --plot stays, as a switch: only `--plot DIR` is old
                assert old not in option.opts + option.secondary_opts, (path, old)


def test_an_old_spelling_still_works_through_the_cli(cli, tmp_path) -> None:
    result = cli("summary", "softmax", "--input", "28x28x1")
    assert result.exit_code == 0, result.stderr
    assert "Warning: --input is deprecated: use --image-size 28x28 --color gray" in result.stderr
