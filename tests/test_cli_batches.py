"""``convcli filter`` batches that never lose or misreport a file: outputs named apart (or refused
before any work), JSON records streamed only for files in place, failures as records, Ctrl-C and
bad files mid-batch, read-only output folders, the terminal's progress bar and summary line, and
usage mistakes refused before TensorFlow is imported."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, convcli_argv, write_png
from PIL import Image

PY = sys.executable


def make_batch(folder: Path, count: int, *, size: int = 8, corrupt: int | None = None, seed: int = 0) -> list[str]:
    """``count`` small PNGs named i000.png…; the one at ``corrupt`` is cut short (undecodable)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = write_png(folder / f"i{i:03d}.png", rng.integers(0, 256, (size, size)))
        if i == corrupt:
            path.write_bytes(path.read_bytes()[:40])
        paths.append(str(path))
    return paths


def records_match_files(stdout: str, out: Path, inputs: list[str] | None = None) -> tuple[list[dict], list[dict]]:
    """Parse stdout's JSON lines and check that the success records name exactly the files under
    ``out`` (and no temporary file is left), and that the others are failures or inputs not
    started; with ``inputs``, that each input appears exactly once. Return (successes, failures)."""
    records = [json.loads(line) for line in stdout.splitlines()]
    successes = [r for r in records if "output" in r]
    failures = [r for r in records if "error" in r]
    not_started = [r for r in records if r.get("not_started")]
    assert len(successes) + len(failures) + len(not_started) == len(records)
    assert all(set(r) == {"input", "error"} for r in failures)
    assert all(set(r) == {"input", "not_started"} for r in not_started)
    if inputs is not None:
        assert sorted(r["input"] for r in records) == sorted(inputs)
    written = sorted(r["output"] for r in successes)
    on_disk = sorted(str(p) for p in out.rglob("*") if p.is_file())
    assert written == on_disk
    return successes, failures


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[str]:
    """Make ``folder`` refuse new files. We run as root, which chmod does not stop, so: the
    immutable attribute (chattr +i: no file may be created in the folder, even by root), else a
    read-only bind mount of the folder onto itself; a non-root user gets chmod 555. Skips when
    none of these works; always undone."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield "chmod 555"
        finally:
            folder.chmod(0o755)
        return
    ways = [
        ("chattr +i", [["chattr", "+i", str(folder)]], [["chattr", "-i", str(folder)]]),
        (
            "read-only bind mount",
            [["mount", "--bind", str(folder), str(folder)], ["mount", "-o", "remount,bind,ro", str(folder)]],
            [["umount", str(folder)]],
        ),
    ]
    for name, make, undo in ways:
        try:
            done = all(subprocess.run(cmd, capture_output=True).returncode == 0 for cmd in make)
        except OSError:
            continue
        try:
            if done and not _writable(folder):
                yield name
                return
        finally:
            for cmd in undo:
                subprocess.run(cmd, capture_output=True)
    pytest.skip("cannot make a folder read-only for root here (no chattr +i, no bind mount)")


def _writable(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.write_bytes(b"")
    except OSError:
        return False
    probe.unlink()
    return True


# --------------------------------------------------------------------------- no silent loss


def test_same_name_in_two_folders_is_refused_before_any_work(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    make_batch(Path("in"), 1)
    make_batch(Path("in/sub"), 1)
    os.rename("in/i000.png", "in/my photo.png")
    os.rename("in/sub/i000.png", "in/sub/my photo.png")
    Path("out").mkdir()
    result = cli("filter", "in/my photo.png", "in/sub/my photo.png", "-k", "edges", "--out-dir", "out", "--json")
    assert result.exit_code == 2  # refused before any work: both inputs reported as not started
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"input": "in/my photo.png", "not_started": True},
        {"input": "in/sub/my photo.png", "not_started": True},
    ]
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: outputs collide: ")
    assert "'in/my photo.png' and 'in/sub/my photo.png'" in lines[0] and "--parents" in lines[0]
    assert not any(Path("out").iterdir())
    result = cli("filter", "in/my photo.png", "in/sub/my photo.png", "-k", "edges", "-d", "out", "--json", "--parents")
    assert result.exit_code == 0, result.stderr
    successes, _ = records_match_files(result.stdout, Path("out"))
    assert [r["output"] for r in successes] == ["out/in/my photo-edges.png", "out/in/sub/my photo-edges.png"]


def test_same_stem_other_suffixes_and_the_ext_field(cli, tmp_path) -> None:
    pixels = np.random.default_rng(3).integers(0, 256, (9, 9, 3)).astype(np.uint8)
    inputs = []
    for suffix in ("bmp", "tif", "webp"):
        Image.fromarray(pixels).save(tmp_path / f"astro.{suffix}", lossless=True)
        inputs.append(tmp_path / f"astro.{suffix}")
    out = tmp_path / "out"
    out.mkdir()
    result = cli("filter", *inputs, "-k", "edges", "--out-dir", out, "--json")
    assert result.exit_code == 2 and "outputs collide" in result.stderr and "{stem}-{ext}-{kernel}" in result.stderr
    result = cli("filter", *inputs, "-k", "edges", "--out-dir", out, "--json", "--name", "{stem}-{ext}-{kernel}")
    assert result.exit_code == 0, result.stderr
    successes, _ = records_match_files(result.stdout, out)
    assert sorted(Path(r["output"]).name for r in successes) == [
        "astro-bmp-edges.png",
        "astro-tif-edges.png",
        "astro-webp-edges.png",
    ]


def test_kernel_file_named_like_another_kernel_takes_its_file_stem(cli, gray_png, tmp_path) -> None:
    my = tmp_path / "my.txt"
    my.write_text(cli("kernels", "show", "sharpen").stdout)  # '# name: sharpen' inside
    out = tmp_path / "out"
    out.mkdir()
    result = cli("filter", gray_png, "-k", "sharpen", "-k", my, "--out-dir", out, "--json")
    assert result.exit_code == 0, result.stderr
    successes, _ = records_match_files(result.stdout, out)
    assert [r["kernel"] for r in successes] == ["sharpen", "my"]
    same = [np.asarray(Image.open(out / f"gray-{k}.png")) for k in ("sharpen", "my")]
    np.testing.assert_array_equal(*same)  # the same kernel, two files
    result = cli("filter", gray_png, "-k", "sharpen", "-k", my, "-o", tmp_path / "res.png")
    assert result.exit_code == 0 and (tmp_path / "res-sharpen.png").exists() and (tmp_path / "res-my.png").exists()
    twice = tmp_path / "b" / "my.txt"
    twice.parent.mkdir()
    twice.write_text(my.read_text())
    result = cli("filter", gray_png, "-k", my, "-k", twice, "--out-dir", out)  # both files are 'my'
    assert result.exit_code == 2 and "outputs collide" in result.stderr


def test_name_template_fields_and_mistakes(cli, tmp_path) -> None:
    inputs = make_batch(tmp_path / "in", 3)
    out = tmp_path / "out"
    out.mkdir()
    result = cli(
        "filter", *inputs, "-k", "edges", "-k", "sharpen", "-d", out, "--json", "--name", "{index:02d}.{kernel}"
    )
    assert result.exit_code == 0, result.stderr
    successes, _ = records_match_files(result.stdout, out)
    assert [Path(r["output"]).name for r in successes][:3] == ["01.edges.png", "01.sharpen.png", "02.edges.png"]
    for template, fragment in [
        ("{stme}", "unknown field {stme} (did you mean 'stem'?)"),
        ("{stem}", "add {kernel} to --name"),
        ("{parent}", "outputs collide"),
    ]:
        result = cli("filter", *inputs, "-k", "edges", "-k", "sharpen", "-d", out, "--name", template)
        assert result.exit_code == 2 and fragment in result.stderr, (template, result.stderr)
    result = cli("filter", inputs[0], "-k", "edges", "-o", tmp_path / "x.png", "--name", "{stem}")
    assert result.exit_code == 2 and "give --out-dir" in result.stderr


def test_output_that_is_another_input_is_refused(cli, tmp_path) -> None:
    out = tmp_path / "out"
    first = make_batch(tmp_path / "x", 1)[0]
    second = make_batch(out, 1)[0]  # out/i000.png
    victim = Path(second).with_name("i000-edges.png")
    os.rename(second, victim)
    before = victim.read_bytes()
    result = cli("filter", first, victim, "-k", "edges", "--out-dir", out)
    assert result.exit_code == 2 and "would overwrite the input" in result.stderr
    assert victim.read_bytes() == before and sorted(p.name for p in out.iterdir()) == ["i000-edges.png"]


# --------------------------------------------------------------------------- honest reports


@pytest.mark.parametrize("keep_going", [False, True], ids=["stop", "keep-going"])
def test_corrupt_file_in_a_200_file_batch(cli, tmp_path, keep_going: bool) -> None:
    """Without --keep-going the batch stops at the bad file with exactly the 100 files before it
    written and reported; with it, 199 files and one error record."""
    inputs = make_batch(tmp_path / "in", 200, corrupt=100)
    out = tmp_path / "out"
    out.mkdir()
    result = cli("filter", *inputs, "-k", "edges", "--out-dir", out, "--json", *(["--keep-going"] * keep_going))
    successes, failures = records_match_files(result.stdout, out, inputs)  # every input once: 99 not started
    assert [f["input"] for f in failures] == [inputs[100]] and "cannot decode" in failures[0]["error"]
    expected = [i for n, i in enumerate(inputs) if n != 100] if keep_going else inputs[:100]
    assert [r["input"] for r in successes] == expected
    assert result.exit_code == (1 if keep_going else 2)


@pytest.mark.parametrize("keep_going", [False, True], ids=["stop", "keep-going"])
def test_read_only_output_folder(cli, tmp_path, keep_going: bool) -> None:
    """Nothing can be written: refused before any work (exit 1, one error naming the folder),
    every input reported as not started (before: 9 s of work, then one error per write)."""
    inputs = make_batch(tmp_path / "in", 200, corrupt=100)
    out = tmp_path / "out"
    out.mkdir()
    with read_only(out):
        result = cli("filter", *inputs, "-k", "edges", "-d", out, "--json", *(["--keep-going"] * keep_going))
        successes, failures = records_match_files(result.stdout, out, inputs)
    assert successes == [] and failures == [] and result.exit_code == 1
    assert result.stderr.startswith(f"Error: {out}: cannot write into this folder")


@pytest.mark.parametrize("keep_going", [False, True], ids=["stop", "keep-going"])
def test_200_files_corrupt_one_and_a_read_only_folder(cli, tmp_path, monkeypatch, keep_going: bool) -> None:
    """--parents: in/a (a corrupt file in its middle) mirrors to a writable folder, in/b to a
    read-only one; whatever happens, stdout's records are exactly the files on disk."""
    monkeypatch.chdir(tmp_path)
    inputs = make_batch(Path("in/a"), 100, corrupt=50) + make_batch(Path("in/b"), 100, seed=1)
    blocked = Path("out/in/b")
    blocked.mkdir(parents=True)
    with read_only(blocked):
        result = cli(
            "filter", *inputs, "-k", "edges", "-d", "out", "--parents", "--json", *["--keep-going"] * keep_going
        )
        successes, failures = records_match_files(result.stdout, Path("out"), inputs)
    # the read-only mirrored folder is found before any work: nothing written, all not started
    assert result.exit_code == 1 and successes == [] and failures == []
    assert "out/in/b: cannot write into this folder" in result.stderr


def test_piped_batch_prints_no_progress_and_no_summary(cli, tmp_path) -> None:
    inputs = make_batch(tmp_path / "in", 8)
    out = tmp_path / "out"
    out.mkdir()
    result = cli("filter", *inputs, "-k", "edges", "--out-dir", out)
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""


def test_sigint_mid_batch_reports_exactly_the_files_written(tmp_path) -> None:
    """A real process, Ctrl-C once some records have arrived (so they stream): exit 130 and the
    records, streamed before and flushed after the signal, name exactly the files on disk."""
    inputs = make_batch(tmp_path / "in", 200, size=160)
    out = tmp_path / "out"
    out.mkdir()
    argv = convcli_argv("filter", *inputs, "-k", "edges", "--out-dir", out, "--json", "-j", "1")
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    first = [process.stdout.readline() for _ in range(3)]  # type: ignore[union-attr]
    process.send_signal(signal.SIGINT)
    rest = process.stdout.read()  # type: ignore[union-attr] # the same buffered reader as readline's
    err = process.stderr.read()  # type: ignore[union-attr]
    process.wait(timeout=60)
    assert process.returncode == 130, err.decode()
    assert err.decode().strip().endswith("Error: interrupted")
    successes, _ = records_match_files(b"".join(first).decode() + rest.decode(), out, inputs)
    assert 3 <= len(successes) < 200
    assert [r["input"] for r in successes] == inputs[: len(successes)]


def test_terminal_gets_a_progress_bar_and_a_summary_line(tmp_path) -> None:
    """stderr on a terminal (a pty): a rich progress bar while it runs and 'wrote …, 1 failed,
    … not started' at the end; stdout (a pipe) still carries JSON only."""
    inputs = make_batch(tmp_path / "in", 12, corrupt=6)
    out = tmp_path / "out"
    out.mkdir()
    master, slave = pty.openpty()
    argv = convcli_argv("filter", *inputs, "-k", "edges", "--out-dir", out, "--json")
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=slave, cwd=ROOT, env={**os.environ, "COLUMNS": "100"}
    )
    os.close(slave)
    stdout = process.stdout.read()  # type: ignore[union-attr]
    process.wait(timeout=120)
    terminal = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(master, 65536):
            terminal += chunk
    os.close(master)
    text = terminal.decode(errors="replace")
    assert process.returncode == 2
    assert "/12" in text  # the bar's M/N column
    assert "Error: " in text and text.rstrip().endswith("wrote 6 files, 1 failed, 5 not started")
    successes, _ = records_match_files(stdout.decode(), out)
    assert len(successes) == 6


# --------------------------------------------------------------------------- fail fast

FAIL_FAST = r"""
import contextlib, io, json, sys, time
from convcli.cli import app
results = []
for args in json.loads(sys.argv[1]):
    err = io.StringIO()
    start = time.process_time()  # CPU time: a loaded machine stretches wall time, not this
    with contextlib.redirect_stderr(err):
        try:
            app(args)
            code = 0
        except SystemExit as exc:
            code = exc.code
    seconds = time.process_time() - start
    heavy = [m for m in ("tensorflow", "keras") if m in sys.modules]
    results.append({"code": code, "seconds": seconds, "heavy": heavy, "stderr": err.getvalue()})
with open(sys.argv[2], "w") as f:
    json.dump(results, f)
"""


def test_usage_mistakes_are_refused_before_tensorflow(tmp_path) -> None:
    """Each mistake exits 2 in well under a second of CPU and never imports TensorFlow (before:
    the image, -o - and several-input checks came after the 4-second import)."""
    (one, other) = make_batch(tmp_path / "in", 2)
    twin = make_batch(tmp_path / "in" / "sub", 1)[0]
    out = tmp_path / "out"
    out.mkdir()
    mistakes = [
        (["filter", one, "-k", "edges"], "needs --output FILE"),
        (["filter", one, other, "-k", "edges"], "need --out-dir"),
        (["filter", one, "-k", "edges", "-o", "-"], "refusing to write PNG bytes to a terminal"),
        (["filter", one, "-k", "edges", "--range", "foo", "-o", str(out / "x.png")], "Invalid value for '--range'"),
        (["filter", one, "-k", "edges", "--range", "raw", "-o", str(out / "x.png")], "range mode 'raw'"),
        (["filter", one, twin, "-k", "edges", "-d", str(out)], "outputs collide"),
        (["filter", one, str(tmp_path / "gone.png"), "-k", "edges", "-d", str(out)], "gone.png: no such file"),
        (["filter", one, other, "-k", "edges", "-d", str(out), "--name", "{nope}"], "unknown field {nope}"),
        (["filter", one, other, "-k", "edgez", "-d", str(out)], "unknown kernel 'edgez'"),
        (["filter", one, one, "-k", "edges", "-d", str(out)], "is given twice"),
        (["filter", one, "-k", "edges", "--parents", "-o", str(out / "x.png")], "give --out-dir"),
        (["gray", one, "-o", "-"], "refusing to write PNG bytes to a terminal"),
    ]
    report = tmp_path / "report.json"
    master, slave = pty.openpty()  # stdout is a terminal (for the -o - mistakes)
    argv = [PY, "-c", FAIL_FAST, json.dumps([m for m, _ in mistakes]), str(report)]
    done = subprocess.run(argv, stdout=slave, stderr=subprocess.PIPE, cwd=ROOT, timeout=120)
    os.close(slave)
    os.close(master)
    assert done.returncode == 0, done.stderr.decode()
    for (args, fragment), result in zip(mistakes, json.loads(report.read_text())):
        assert result["code"] == 2 and fragment in result["stderr"], (args, result)
        assert result["heavy"] == [], (args, result)
        assert result["seconds"] < 1.0, (args, result)
    assert not any(out.iterdir())
