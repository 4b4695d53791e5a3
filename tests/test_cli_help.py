"""Every command's ``--help`` (clean, with argument help, choices and examples), shell completion,
start-up time, and the CLI's choice lists agreeing with the library's."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import numpy as np
import pytest
import typer
from conftest import ROOT
from PIL import Image
from typer.testing import CliRunner

from convcli.cli import app

PY = sys.executable


def all_commands() -> list[list[str]]:
    """The argument lists that reach every command and group: [], ["filter"], ["kernels", "show"]…"""
    found: list[list[str]] = []

    def walk(command: click.Command, path: list[str]) -> None:
        found.append(path)
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = all_commands()


def help_text(path: list[str]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_command_is_reached() -> None:
    names = {" ".join(p) for p in COMMANDS}
    assert {"gray", "channels", "filter", "kernels", "kernels show", "summary", "train", "evaluate", "predict"} <= names
    assert {"feature-maps", "weights", "info"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "convcli")
def test_help_is_clean_on_a_pipe(path: list[str]) -> None:
    """No backslash before '[' (Typer escapes it for rich even when rich is off), arguments have
    their help, and every command ends its description with examples."""
    text = help_text(path)
    assert "\\[" not in text and "\\b" not in text
    example = text.split("Example:", 1)[1].split("Arguments:" if "Arguments:" in text else "Options:")[0]
    assert f"convcli {' '.join(path)}".strip() in example
    lines = text.splitlines()
    if "Arguments:" in lines:
        start = lines.index("Arguments:") + 1
        block = lines[start : lines.index("", start)] if "" in lines[start:] else lines[start:]
        for line in block:
            if line.startswith("  ") and not line.startswith("   "):
                assert len(line.split(None, 1)) == 2, f"argument without help: {line!r}"
    assert text.count("Arguments:") <= 1 and "Positional arguments" not in text


def test_daemon_help_loop_runs_as_written(tmp_path, color_png) -> None:
    """The shell loop in ``convcli daemon --help`` works when pasted (it once gave no output
    place, so every call was refused with exit status 2), in English and in Spanish."""
    import shutil

    shutil.copy(color_png, tmp_path / "a.png")
    for lang in ("en", "es"):
        env = {**os.environ, "CONVCLI_LANG": lang}
        text = CliRunner().invoke(app, ["daemon", "--help"], env=env, catch_exceptions=False).stdout
        (loop,) = [line.strip() for line in text.splitlines() if "for f in" in line]
        script = f'convcli() {{ "{PY}" -m convcli "$@"; }}\nset -e\n{loop}\n'
        env["CONVCLI_DAEMON"] = "off"
        done = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        written = np.asarray(Image.open(tmp_path / "edges" / "a-edges.png"))
        assert written.shape == (22, 29, 3)
        shutil.rmtree(tmp_path / "edges")


def test_argument_help_says_what_inputs_may_be() -> None:
    text = " ".join(help_text(["filter"]).split())
    assert "Arguments: [INPUT...] Images (PNG, JPEG, TIFF…), .npy arrays, text matrices" in text
    assert "or - for image bytes on stdin" in text
    assert "Arguments: [INPUT...] Image files (PNG, JPEG, TIFF, BMP…), .npy arrays, or - for stdin" in " ".join(
        help_text(["gray"]).split()
    )


@pytest.mark.parametrize(
    ("path", "listed"),
    [
        (["filter"], "--padding valid|same|P"),
        (["filter"], "--activation [linear|relu]"),
        (["filter"], "--range [clip|rescale|abs|raw]"),
        (["gray"], "--method [luma|average|bt709|bt601]"),
        (["train"], "--schedule [constant|cosine|onecycle]"),
        (["train"], "--dataset [mnist|fashion-mnist]"),
        (["train"], "--precision [float32|mixed]"),
        (["evaluate"], "--dataset [mnist|fashion-mnist]"),
        (["filter"], "--format [png|jpg|jpeg|tif|tiff|bmp|gif|webp|ppm|pgm|npy|txt|csv|tsv]"),
        ([], "--device [auto|cpu]"),
    ],
)
def test_choices_are_listed(path: list[str], listed: str) -> None:
    assert listed in help_text(path)


def test_max_pixels_default_is_the_library_constant() -> None:
    from convcli.imaging.images import DEFAULT_MAX_PIXELS

    for path in (["gray"], ["channels"], ["filter"]):
        assert f"[default: {DEFAULT_MAX_PIXELS};" in " ".join(help_text(path).split())


def test_cli_choices_agree_with_the_library(tmp_path) -> None:
    """The lists the CLI offers are the library's own (one numpy-free home each, never copied),
    and the library accepts every value offered."""
    import click
    import numpy as np
    import typer

    from convcli.backend import PRECISIONS, set_precision
    from convcli.cli import app
    from convcli.datasets.idx import COLORS, DATASETS
    from convcli.errors import ConvcliError
    from convcli.filtering.config import ACTIVATIONS, BORDERS, PADDINGS
    from convcli.imaging.color import GRAY_METHODS, to_gray
    from convcli.imaging.images import to_uint8
    from convcli.models.inspection import weights_file
    from convcli.training.config import SCHEDULES

    offered = {}
    root = typer.main.get_command(app)
    for command in root.commands.values():
        for sub in getattr(command, "commands", {"": command}).values():
            for p in sub.params:
                if isinstance(p.type, click.Choice):
                    offered.setdefault(p.name, set()).add(tuple(p.type.choices))
    assert "padding" not in offered and offered["activation"] == {ACTIVATIONS}  # --padding takes P too
    assert offered["border"] == {BORDERS} and offered["schedule"] == {SCHEDULES}
    assert offered["precision"] == {PRECISIONS} and offered["color"] == {COLORS}
    assert offered["method"] == {GRAY_METHODS} and GRAY_METHODS == ("luma", "average", "bt709", "bt601")
    assert offered["dataset"] == {DATASETS} and PADDINGS == ("valid", "same")
    for method in GRAY_METHODS:
        to_gray(np.zeros((2, 2, 3)), method)
    (ranges,) = offered["range_mode"]
    assert ranges[-1] == "raw"
    for mode in ranges[:-1]:
        to_uint8(np.zeros((2, 2)), mode)
    for mode in ("raw", "wrap"):
        with pytest.raises(ConvcliError):
            to_uint8(np.zeros((2, 2)), mode)
    with pytest.raises(ConvcliError, match=f"use {' or '.join(PRECISIONS)}$"):
        set_precision("bfloat16")
    with pytest.raises(ConvcliError, match="use png or txt"):
        weights_file(tmp_path / "m.keras", None, fmt="jpg")


@pytest.mark.parametrize(("args", "hint"), [(["gry", "x"], "'gray'"), (["kernels", "shw", "sharpen"], "'show'")])
def test_a_mistyped_command_gets_one_suggestion(args: list[str], hint: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.count("Did you mean") == 1 and f"Did you mean {hint}?" in result.stderr


@pytest.mark.parametrize("args", [[], ["daemon"]])
def test_a_group_without_a_command_shows_its_help_not_an_error(args: list[str]) -> None:
    """``convcli`` alone shows the help as Click does (on stderr, exit 2), laid out as help: it
    once came flattened into one ``Error:`` line."""
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("Usage: convcli") and "Error" not in result.stderr, result.stderr[:200]
    assert "\nCommands:\n" in result.stderr and result.stderr.count("\n") > 10


# --------------------------------------------------------------------------- completion


def complete(words: str, env: dict[str, str] | None = None) -> list[str]:
    """What bash completion offers after ``words`` (the protocol the installed script speaks)."""
    variables = {
        "_CONVCLI_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    result = CliRunner().invoke(app, [], env={**variables, **(env or {})}, prog_name="convcli")
    return result.stdout.split()


def test_completion_of_kernels_presets_samples_and_choices() -> None:
    assert complete("convcli filter -k sob") == ["sobel-x", "sobel-y"]
    assert complete("convcli kernels show sharp") == ["sharpen"]
    assert "lecture-cnn" in complete("convcli train lec") and complete("convcli summary mlp") == ["mlp"]
    assert complete("convcli gray --sample astro") == ["astronaut"]
    assert complete("convcli filter --padding ") == ["valid", "same"]
    assert complete("convcli fea") == ["feature-maps"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_script(shell: str) -> None:
    """``--show-completion`` prints the script ``--install-completion`` installs, for each shell."""
    result = subprocess.run(
        [PY, "-m", "convcli", "--show-completion", shell],
        capture_output=True,
        text=True,
        env={**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"_CONVCLI_COMPLETE=complete_{shell}" in result.stdout


# --------------------------------------------------------------------------- start-up


def cpu_seconds(args: list[str]) -> float:
    """CPU time (user + system) a child process used: steadier than wall time on a busy machine."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0
    return usage.ru_utime + usage.ru_stime


def test_help_starts_fast_and_imports_neither_numpy_nor_keras() -> None:
    """``convcli --help`` within 2× Typer's own import + 0.1 s of CPU (best of 5), without numpy,
    TensorFlow or Keras."""
    code = (
        "import sys\nfrom convcli.entry import main\nsys.argv = ['convcli', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "bad = [m for m in ('numpy', 'tensorflow', 'keras') if m in sys.modules]\nassert not bad, bad\n"
    )
    result = subprocess.run([PY, "-c", code], capture_output=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr.decode()
    # Measured against Typer's own import (what any Typer CLI pays for --help) on the same machine,
    # so the bound holds on a slow or busy machine too: at most twice it and 0.1 s (Keras would add seconds).
    typer_alone = min(cpu_seconds([PY, "-c", "import typer.main, typer.rich_utils"]) for _ in range(5))
    best = min(cpu_seconds([PY, "-m", "convcli", "--help"]) for _ in range(5))
    assert best < 2 * typer_alone + 0.1, f"convcli --help took {best:.3f} s of CPU, Typer alone {typer_alone:.3f} s"
