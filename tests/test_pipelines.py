"""Pipelines at scale (issue 25): lists of inputs, shards that add up to one run byte for byte,
--no-clobber and --skip-existing, every input accounted for on stdout, names that are not
UTF-8, and the recipes of docs/pipelines.md run in simulated scheduler environments."""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, write_png
from PIL import Image

import convcli
from convcli.batches.inputs import Shard, parse_shard, read_list, select, shard_of
from convcli.errors import ConvcliError

DOCS = ROOT / "docs" / "pipelines.md"
NAME = "{index:02d}-{stem}-{kernel}"


def make_inputs(folder: Path, count: int, *, colour: bool = False, seed: int = 0) -> list[str]:
    """``count`` small PNGs of varied sizes under ``folder`` (relative paths when it is)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        shape = (6 + i % 5, 7 + i % 3, 3) if colour else (6 + i % 5, 7 + i % 3)
        paths.append(str(write_png(folder / f"p{i:03d}.png", rng.integers(0, 256, shape))))
    return paths


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``: relative path → bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def stats(folder: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every file: an atomic rewrite changes the inode even with the same bytes."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()}


def records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def write_list(path: Path, items: list[str], *, null: bool = False) -> Path:
    sep = b"\0" if null else b"\n"
    path.write_bytes(sep.join(os.fsencode(i) for i in items) + sep)
    return path


# --------------------------------------------------------------------------- lists and shards


def test_lists_read_lines_or_nul_separated_bytes(tmp_path) -> None:
    names = ["a b.png", "caf\udce9.png", "x\r.png"]  # a space, a Latin-1 byte, a carriage return
    assert read_list(str(write_list(tmp_path / "l.txt", names))) == names
    assert read_list(str(write_list(tmp_path / "n.txt", names, null=True)), null=True) == names
    with pytest.raises(ConvcliError, match="null=True"):
        read_list(str(tmp_path / "n.txt"))
    with pytest.raises(ConvcliError, match="no such file"):
        read_list(str(tmp_path / "missing.txt"))


def test_a_shard_depends_on_the_path_alone() -> None:
    """The same path lands in the same shard whatever the list's order or completeness; every
    path is in exactly one shard; the split is roughly even."""
    paths = [f"photos/{i:05d}.jpg" for i in range(3000)]
    shards = [Shard(k, 3) for k in (1, 2, 3)]
    whole = [{paths[i] for i in select(paths, s)} for s in shards]
    assert set().union(*whole) == set(paths) and sum(map(len, whole)) == len(paths)
    assert all(900 < len(part) < 1100 for part in whole)
    partial = random.Random(1).sample(paths, 1000)  # another node's listing: shuffled, a third of it
    for shard, part in zip(shards, whole):
        assert {partial[i] for i in select(partial, shard)} == part & set(partial)
    # pinned: the hash is SHA-256, stable across runs and Python versions (unlike hash())
    assert [shard_of(p, 8) for p in ("a.png", "b.png", "photos/00001.jpg")] == [
        int.from_bytes(__import__("hashlib").sha256(p.encode()).digest()[:8], "big") % 8 + 1
        for p in ("a.png", "b.png", "photos/00001.jpg")
    ]


def test_shard_auto_reads_slurm_and_kubernetes() -> None:
    slurm = {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_COUNT": "4"}
    assert parse_shard("auto", slurm) == Shard(3, 4)
    stepped = {**slurm, "SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_STEP": "2", "SLURM_ARRAY_TASK_COUNT": "3"}
    assert parse_shard("auto", stepped) == Shard(3, 3)
    assert parse_shard("auto", {"JOB_COMPLETION_INDEX": "0", "CONVCLI_SHARD_COUNT": "8"}) == Shard(1, 8)
    assert parse_shard("2/5", {}) == Shard(2, 5)
    for text, env, message in [
        ("auto", {}, "no scheduler found"),
        ("auto", {"JOB_COMPLETION_INDEX": "3"}, "CONVCLI_SHARD_COUNT"),
        ("auto", {"JOB_COMPLETION_INDEX": "8", "CONVCLI_SHARD_COUNT": "8"}, "is not below"),
        ("auto", {**slurm, "SLURM_ARRAY_TASK_ID": "9"}, "not one of 4"),
        ("0/3", {}, "K from 1 to N"),
        ("4/3", {}, "K from 1 to N"),
        ("3", {}, "K from 1 to N"),
    ]:
        with pytest.raises(ConvcliError, match=message):
            parse_shard(text, env)


def test_three_shards_and_slurm_auto_equal_one_run(cli, tmp_path, monkeypatch) -> None:
    """The issue's test: 30 inputs, {index} in the names; shards 1/3, 2/3, 3/3 and the three
    tasks of a simulated Slurm array (--shard auto) each give exactly the unsharded run's files,
    byte for byte, every output written once and every input reported once."""
    monkeypatch.chdir(tmp_path)
    inputs = make_inputs(Path("in"), 30)
    listed = write_list(Path("list.txt"), inputs)
    common = ["filter", "-k", "edges", "--files-from", listed, "--name", NAME, "--json"]
    Path("whole").mkdir()
    whole = cli(*common, "-d", "whole")
    assert whole.exit_code == 0, whole.stderr
    reference = snapshot(Path("whole"))
    assert len(reference) == 30 and sorted(reference)[0] == "01-p000-edges.png"
    for how, runs in [
        ("shards", [({}, ["--shard", f"{k}/3"]) for k in (1, 2, 3)]),
        ("slurm", [({"SLURM_ARRAY_TASK_ID": str(t), "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "3"},
                    ["--shard", "auto"]) for t in (0, 1, 2)]),
    ]:  # fmt: skip
        Path(how).mkdir()
        outputs = []
        for env, extra in runs:
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            result = cli(*common, "-d", how, *extra)
            assert result.exit_code == 0, result.stderr
            part = records(result.stdout)
            assert part, "each of the three shards holds some of the 30 inputs"
            outputs += [r["output"] for r in part]
        assert len(outputs) == len(set(outputs)) == 30  # each output written by one shard only
        assert snapshot(Path(how)) == reference


def test_quick_names_are_the_exact_names() -> None:
    """A shard names the whole list with string operations; they agree with pathlib's names."""
    from convcli.batches.names import quick_fields
    from convcli.filtering.naming import source_fields

    tricky = ["a.", ".bashrc", "a.tar.gz", "d/x.png/", "./x.png", "../up/x.png", "/abs/x.png", "a//b.png",
              "caf\udce9.png", "-", "sample:coffee", "x", "/", "in/./sub/.hidden.png", "..", "a..b"]  # fmt: skip
    for index, source in enumerate(tricky, start=1):
        assert quick_fields(source, index) == source_fields(source, index), source


def test_a_collision_across_shards_is_refused_by_every_shard(cli, tmp_path, monkeypatch) -> None:
    """``a/x.png`` and ``c/x.png`` in two different shards would both write ``x-edges.png``:
    each shard refuses, with the unsharded run's error, before any work."""
    monkeypatch.chdir(tmp_path)
    inputs = make_inputs(Path("in"), 20)
    for folder in ("a", "c"):
        Path(folder).mkdir()
        write_png(Path(folder, "x.png"), np.full((8, 8), 9))
    listed = [*inputs, "a/x.png", "c/x.png"]
    assert shard_of("a/x.png", 2) != shard_of("c/x.png", 2)  # in different shards
    Path("out").mkdir()
    whole = cli("filter", *listed, "-k", "edges", "-d", "out")
    assert whole.exit_code == 2 and "outputs collide" in whole.stderr
    for k in (1, 2):
        part = cli("filter", *listed, "-k", "edges", "-d", "out", "--shard", f"{k}/2")
        assert part.exit_code == 2 and part.stderr == whole.stderr
    assert not any(Path("out").iterdir())


# --------------------------------------------------------------------------- existing outputs


@pytest.fixture
def thirty(cli, tmp_path, monkeypatch) -> tuple[list[str], Path, dict[str, bytes]]:
    """30 inputs filtered once into out/: (inputs, out, the files' bytes)."""
    monkeypatch.chdir(tmp_path)
    inputs = make_inputs(Path("in"), 30)
    Path("out").mkdir()
    assert cli("filter", *inputs, "-k", "edges", "-d", "out").exit_code == 0
    return inputs, Path("out"), snapshot(Path("out"))


def test_skip_existing_after_deleting_5_of_30_writes_exactly_those_5(cli, thirty) -> None:
    inputs, out, before = thirty
    deleted = sorted(before)[3::6][:5]
    for name in deleted:
        (out / name).unlink()
    kept = stats(out)
    result = cli("filter", *inputs, "-k", "edges", "-d", out, "--skip-existing", "--json")
    assert result.exit_code == 0, result.stderr
    found = records(result.stdout)
    written = [r for r in found if not r.get("skipped")]
    assert sorted(Path(r["output"]).name for r in written) == deleted
    assert len(found) == 30 and sum(1 for r in found if r.get("skipped") is True) == 25
    assert {k: v for k, v in stats(out).items() if k in kept} == kept  # the 25 untouched (same inode)
    assert snapshot(out) == before  # and the 5 made again, identical


def test_no_clobber_refuses_before_any_work_and_touches_no_file(cli, thirty) -> None:
    inputs, out, _ = thirty
    (out / "p004-edges.png").unlink()
    kept = stats(out)
    result = cli("filter", *inputs, "-k", "edges", "-d", out, "--no-clobber", "--json")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --no-clobber: 29 outputs exist already: 'out/p000-edges.png'")
    assert records(result.stdout) == [{"input": i, "not_started": True} for i in inputs]
    assert stats(out) == kept and not (out / "p004-edges.png").exists()  # not even the missing one
    single = cli("filter", inputs[0], "-k", "edges", "-o", out / "p000-edges.png", "--no-clobber")
    assert single.exit_code == 2 and "--no-clobber" in single.stderr and stats(out) == kept
    both = cli("filter", *inputs, "-k", "edges", "-d", out, "--no-clobber", "--skip-existing")
    assert both.exit_code == 2 and "not both" in both.stderr


def test_one_call_per_file_with_no_clobber_never_replaces_another_folders_picture(cli, tmp_path, monkeypatch) -> None:
    """The issue's ``xargs -n 1``: ladybird.png in three folders, one call each. With --no-clobber
    the first call writes and the two others refuse (exit 2), so the file on disk holds the
    pixels its one success record names (before: 3 success records, 1 file)."""
    monkeypatch.chdir(tmp_path)
    for n, folder in enumerate("abc"):
        Path(folder).mkdir()
        write_png(Path(folder, "ladybird.png"), np.full((8, 8), 40 * n) + np.arange(8) * n)
    Path("out").mkdir()
    codes, successes = [], []
    for folder in "abc":
        result = cli("filter", f"{folder}/ladybird.png", "-k", "sharpen", "-d", "out", "--json", "--no-clobber")
        codes.append(result.exit_code)
        successes += [r for r in records(result.stdout) if "output" in r]
    assert codes == [0, 2, 2] and [r["input"] for r in successes] == ["a/ladybird.png"]
    assert cli("filter", "a/ladybird.png", "-k", "sharpen", "-o", "a.png").exit_code == 0
    assert Path("out/ladybird-sharpen.png").read_bytes() == Path("a.png").read_bytes()


@pytest.mark.parametrize("existing", ["refuse", "skip"])
def test_an_output_another_run_writes_meanwhile_is_never_replaced(tmp_path, existing) -> None:
    """Two ``--no-clobber`` (or ``--skip-existing``) runs into one folder at once: the check before
    work passes for both, so the second writer of a name must fail at the write itself. Here a
    "second run" writes p003's output while this run is at p000; this run then fails p003 with a
    message naming it, leaves the other run's bytes alone, and records exactly the files it wrote.
    Before: both runs reported every file written, and the files on disk were only one run's."""
    from convcli.filtering.pipeline import filter_images

    inputs = make_inputs(tmp_path / "in", 6)
    out = tmp_path / "out"
    out.mkdir()
    foreign = b"the other run's picture"
    events: list = []

    def report(event) -> None:
        events.append(event)
        if len(events) == 1:
            (out / "p003-edges.png").write_bytes(foreign)

    result = filter_images(inputs, ["edges"], out_dir=out, existing=existing, keep_going=True, workers=1, report=report)
    assert [f.input for f in result.failures] == [inputs[3]]
    assert "p003-edges.png: written meanwhile by another run" in result.failures[0].message
    assert (out / "p003-edges.png").read_bytes() == foreign
    written = sorted(Path(r.output).name for r in result.records)
    assert written == sorted(p.name for p in out.iterdir() if p.name != "p003-edges.png") and len(written) == 5
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_gray_to_one_output_with_no_clobber_holds_against_a_run_writing_it_meanwhile(
    cli, tmp_path, monkeypatch
) -> None:
    """``gray IN -o OUT --no-clobber`` in a shell loop: another call writing OUT after the check
    and before the write is not overwritten (exit 1, the message names OUT) (review: it was)."""
    import convcli.jobs

    source = write_png(tmp_path / "in.png", np.random.default_rng(0).integers(0, 255, (20, 20, 3)))
    out = tmp_path / "out.png"
    real = convcli.jobs.gray_file

    def racing(*args, **kwargs):
        out.write_bytes(b"the other run's picture")
        return real(*args, **kwargs)

    monkeypatch.setattr(convcli.jobs, "gray_file", racing)
    result = cli("gray", source, "-o", out, "--no-clobber")
    assert result.exit_code == 1 and f"{out}: written meanwhile by another run" in result.stderr
    assert out.read_bytes() == b"the other run's picture"


def test_a_kept_output_is_written_only_where_no_file_is(tmp_path) -> None:
    """:func:`never_replacing` itself: a file that appears during the block stays; after the
    block, writes replace as usual."""
    from convcli.outputs import never_replacing, write_bytes

    target = tmp_path / "x.png"
    with never_replacing([target]):
        target.write_bytes(b"theirs")
        with pytest.raises(ConvcliError, match="written meanwhile by another run"):
            write_bytes(target, b"ours")
    assert target.read_bytes() == b"theirs" and write_bytes(target, b"ours").read_bytes() == b"ours"


def test_a_list_with_windows_line_ends_is_named_so(cli, tmp_path, monkeypatch) -> None:
    """A list saved on Windows leaves a carriage return at each name's end: the error shows it
    (quoted) and says why, rather than ``p000.png: no such file`` about a file that is there."""
    monkeypatch.chdir(tmp_path)
    make_inputs(tmp_path, 1)
    Path("out").mkdir()
    result = cli("filter", "-k", "edges", "-d", "out", "--files-from", "-", input=b"p000.png\r\n")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "Error: 'p000.png\\r': no such file ('p000.png' exists: the list has Windows line ends"
    )


def test_an_empty_list_is_nothing_to_do(cli, tmp_path, monkeypatch) -> None:
    """``find … | convcli … --files-from -`` finding nothing ends with a warning and status 0, as
    ``tar -T`` does (before: exit 2, "no input given", failing a ``set -e`` script); an empty
    command line without a list is still a usage error."""
    monkeypatch.chdir(tmp_path)
    Path("out").mkdir()
    for command in (["filter", "-k", "edges", "-d", "out"], ["gray", "-d", "out"]):
        result = cli(*command, "--files-from", "-", "--json", input=b"")
        assert result.exit_code == 0 and result.stdout == "" and "the list names no inputs" in result.stderr
    assert not list(Path("out").iterdir())
    assert cli("filter", "-k", "edges", "-d", "out").exit_code == 2


def test_default_is_to_overwrite(cli, thirty) -> None:
    inputs, out, before = thirty
    kept = stats(out)
    assert cli("filter", *inputs, "-k", "edges", "-d", out).exit_code == 0
    after = stats(out)
    assert all(after[name][0] != kept[name][0] for name in kept) and snapshot(out) == before


# --------------------------------------------------------------------------- every input accounted


def test_a_missing_input_under_keep_going_leaves_the_others_written_and_reported(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    a, b = make_inputs(Path("in"), 2)
    Path("out").mkdir()
    result = cli("filter", a, "missing.png", b, "-k", "edges", "-d", "out", "--keep-going", "--json")
    assert result.exit_code == 1
    found = records(result.stdout)
    assert {"input": "missing.png", "error": "missing.png: no such file"} in found
    assert sorted(r["output"] for r in found if "output" in r) == ["out/p000-edges.png", "out/p001-edges.png"]
    assert sorted(snapshot(Path("out"))) == ["p000-edges.png", "p001-edges.png"]
    stopped = cli("filter", a, "missing.png", b, "-k", "edges", "-d", "out2", "--json")
    assert stopped.exit_code == 2 and [r["input"] for r in records(stopped.stdout)] == [a, "missing.png", b]


def test_without_keep_going_every_input_still_appears_once(cli, tmp_path, monkeypatch) -> None:
    """8 inputs, the 4th corrupt: 3 written, 1 failed, 4 not started (before: 3 records + 1 error)."""
    monkeypatch.chdir(tmp_path)
    inputs = make_inputs(Path("in"), 8)
    Path(inputs[3]).write_bytes(Path(inputs[3]).read_bytes()[:40])
    Path("out").mkdir()
    result = cli("filter", *inputs, "-k", "edges", "-d", "out", "--json", "-j", "1")
    assert result.exit_code == 2
    found = records(result.stdout)
    assert sorted(r["input"] for r in found) == sorted(inputs)
    assert [r["input"] for r in found if "output" in r] == inputs[:3]
    assert [r["input"] for r in found if "error" in r] == [inputs[3]]
    assert [r["input"] for r in found if r.get("not_started")] == inputs[4:]


def test_a_dash_file_name_is_explained(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_png(Path("-dash.png"), np.full((8, 8), 100))
    result = cli("filter", "-dash.png", "-k", "edges")
    assert result.exit_code == 2 and "put -- before file names that start with '-'" in result.stderr
    fixed = cli("filter", "-k", "edges", "-o", "e.png", "--", "-dash.png")
    assert fixed.exit_code == 0 and Path("e.png").exists()


# --------------------------------------------------------------------------- names that are not UTF-8


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_a_latin1_name_round_trips_through_jq(cli, tmp_path, monkeypatch) -> None:
    """``café.png`` in Latin-1 (byte E9): records are valid UTF-8 JSON that jq reads, and the
    ``*_bytes`` fields give back the exact names of the input and of the file written."""
    monkeypatch.chdir(tmp_path)
    raw = b"caf\xe9.png"
    write_png(Path(os.fsdecode(raw)), np.full((8, 8), 50))
    Path("olatin").mkdir()
    result = cli("filter", os.fsdecode(raw), "-k", "edges", "-d", "olatin", "--json")
    assert result.exit_code == 0, result.stderr
    line = result.stdout.encode("utf-8")  # what a pipe carries
    line.decode("utf-8", errors="strict")
    assert b"\\udc" not in line  # no lone surrogate escapes (jq turns them into U+FFFD)
    jq = subprocess.run(
        ["jq", "-r", ".input, .input_bytes, .output, .output_bytes"], input=line, capture_output=True, check=True
    )
    shown_in, in_b64, shown_out, out_b64 = jq.stdout.decode("utf-8").splitlines()
    assert shown_in == "caf\ufffd.png" and base64.b64decode(in_b64) == raw
    assert shown_out == "olatin/caf\ufffd-edges.png"
    assert Path(os.fsdecode(base64.b64decode(out_b64))).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the recipe in the docs: exact bytes through the shell
    script = "jq -r '.output_bytes // (.output | @base64)' | while read -r b; do printf %s \"$b\" | base64 -d; done"
    shell = subprocess.run(["bash", "-c", script], input=line, capture_output=True, check=True)
    assert shell.stdout == b"olatin/caf\xe9-edges.png"


# --------------------------------------------------------------------------- gray and channels batches


def luma(rgb: np.ndarray) -> np.ndarray:
    """The lecture's 0.3 R + 0.59 G + 0.11 B, rounded half up, in exact integers (an independent
    reference: floats would round ties such as 166.5 either way)."""
    ints = rgb.astype(np.int64)
    return ((30 * ints[..., 0] + 59 * ints[..., 1] + 11 * ints[..., 2] + 50) // 100).astype(np.uint8)


def test_gray_files_from_writes_many_files(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    inputs = make_inputs(Path("in"), 120, colour=True)
    Path("g").mkdir()
    listing = b"\0".join(os.fsencode(i) for i in inputs) + b"\0"
    result = cli("gray", "--files-from", "-", "--null", "-d", "g", "--json", input=listing)
    assert result.exit_code == 0, result.stderr
    found = records(result.stdout)
    assert [r["input"] for r in found] == inputs and len(list(Path("g").iterdir())) == 120
    for record in found[::17]:
        expected = luma(np.asarray(Image.open(record["input"])))
        np.testing.assert_array_equal(np.asarray(Image.open(record["output"])), expected)
        assert record["shape"] == list(expected.shape) and record["method"] == "luma"


def test_gray_batch_matches_the_one_input_command_and_skips_numpy(color_png, tmp_path) -> None:
    """The same bytes as ``gray X -o Y``; a batch of 8-bit pictures never imports numpy either."""
    out = tmp_path / "batch"
    out.mkdir()
    listed = write_list(tmp_path / "l.txt", [str(color_png)])
    code = (
        "import sys\nfrom convcli.cli import app\n"
        f"for args in (['gray', {str(color_png)!r}, '-o', {str(tmp_path / 'one.png')!r}],\n"
        f"             ['gray', '--files-from', {str(listed)!r}, '-d', {str(out)!r}]):\n"
        "    try:\n        app(args)\n    except SystemExit as e:\n        assert not e.code, e.code\n"
        "assert 'numpy' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert (out / f"{color_png.stem}-gray.png").read_bytes() == (tmp_path / "one.png").read_bytes()


def test_channels_takes_several_inputs(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    inputs = make_inputs(Path("in"), 3, colour=True)
    Path("one").mkdir(), Path("many").mkdir()
    for source in inputs:
        assert cli("channels", source, "-d", "one").exit_code == 0
    result = cli("channels", *inputs, "missing.png", "-d", "many", "--json", "--keep-going")
    assert result.exit_code == 1
    found = records(result.stdout)
    assert {r["input"]: len(r.get("outputs", [])) for r in found} == {**dict.fromkeys(inputs, 6), "missing.png": 0}
    assert found[0] == {"input": "missing.png", "error": "missing.png: no such file"}  # missing: reported first
    assert snapshot(Path("many")) == snapshot(Path("one")) and len(snapshot(Path("one"))) == 18
    again = cli("channels", *inputs, "-d", "many", "--json", "--skip-existing")
    assert [r.get("skipped") for r in records(again.stdout)] == [True] * 3


def test_one_channels_input_takes_name_and_parents(cli, tmp_path, monkeypatch) -> None:
    """--name and --parents apply to one input as to several (the one-input path ignored them)."""
    monkeypatch.chdir(tmp_path)
    source = make_inputs(Path("in"), 1, colour=True)[0]
    Path("out").mkdir()
    result = cli("channels", source, "-d", "out", "--name", "{kernel}_{stem}", "--json")
    assert result.exit_code == 0, result.stderr
    stem = Path(source).stem
    planes = ["red", "red-Reds", "green", "green-Greens", "blue", "blue-Blues"]
    assert records(result.stdout)[0]["outputs"] == [f"out/{plane}_{stem}.png" for plane in planes]
    red = np.asarray(Image.open(f"out/red_{stem}.png"))
    np.testing.assert_array_equal(red, np.asarray(Image.open(source))[..., 0])
    result = cli("channels", source, "-d", "out", "--parents", "--json")
    assert result.exit_code == 0, result.stderr
    assert records(result.stdout)[0]["outputs"][0] == f"out/in/{stem}-red.png"
    assert Path(f"out/in/{stem}-red.png").is_file()


PLANES = ["red", "red-Reds", "green", "green-Greens", "blue", "blue-Blues"]


def test_one_input_keeps_name_and_parents(cli, tmp_path, monkeypatch) -> None:
    """A single input to ``channels -d`` is named by --name and --parents as a list of them is
    (it used to skip both), and ``gray -o`` refuses them as ``filter -o`` does."""
    monkeypatch.chdir(tmp_path)
    (source,) = make_inputs(Path("in"), 1, colour=True)
    Path("named").mkdir(), Path("mirrored").mkdir()
    named = cli("channels", source, "-d", "named", "--name", "x-{stem}-{kernel}")
    assert named.exit_code == 0, named.stderr
    assert sorted(snapshot(Path("named"))) == sorted(f"x-p000-{p}.png" for p in PLANES)
    mirrored = cli("channels", source, "-d", "mirrored", "--parents")
    assert mirrored.exit_code == 0, mirrored.stderr
    assert sorted(snapshot(Path("mirrored"))) == sorted(f"in/p000-{p}.png" for p in PLANES)
    for flag in (["--name", "{stem}"], ["--parents"]):
        refused = cli("gray", source, "-o", "g.png", *flag)
        assert refused.exit_code == 2 and "--out-dir" in refused.stderr
        assert not Path("g.png").exists()


# --------------------------------------------------------------------------- predict as a batch


@pytest.fixture(scope="module")
def flat_model(tmp_path_factory) -> Path:
    """A digit model with zero weights: 0.1 for every class (quick; no training)."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, "softmax", kernel_initializer="zeros"),
        ]
    )
    path = tmp_path_factory.mktemp("flat") / "flat.keras"
    model.save(path)
    return path


def test_one_blank_picture_does_not_cancel_a_predict_batch(cli, flat_model, tmp_path, monkeypatch) -> None:
    """Issue 23: ``a.png blank.png b.png``: with --keep-going, two predictions and one failure
    record (exit 1); without it, a's prediction, the failure, and b not started (exit 2)."""
    monkeypatch.chdir(tmp_path)
    digit = np.pad(np.full((14, 4), 255), 7)
    a, b = (str(write_png(Path(f"{n}.png"), digit)) for n in "ab")
    blank = str(write_png(Path("blank.png"), np.full((28, 28), 255)))
    going = cli("predict", flat_model, a, blank, b, "--keep-going", "--json")
    assert going.exit_code == 1
    found = records(going.stdout)
    assert [r["input"] for r in found] == [a, blank, b]
    assert found[0]["probability"] == pytest.approx(0.1) and found[2]["prediction"] == found[0]["prediction"]
    assert set(found[1]) == {"input", "error"} and found[1]["error"].startswith(f"{blank}: no digit found")
    stopped = cli("predict", flat_model, a, blank, b, "--json")
    assert stopped.exit_code == 2
    assert [sorted(r) for r in records(stopped.stdout)][1:] == [["error", "input"], ["input", "not_started"]]
    write_list(Path("l.txt"), [a, "missing.png", b])
    listed = cli("predict", flat_model, "--files-from", "l.txt", "--keep-going")
    assert listed.exit_code == 1 and [line.split("\t")[0] for line in listed.stdout.splitlines()] == [a, b]
    assert "Error: missing.png: no such file" in listed.stderr


# --------------------------------------------------------------------------- recipes (docs/pipelines.md)


def recipe(name: str) -> str:
    """The code block that follows ``<!-- recipe: NAME -->`` in docs/pipelines.md."""
    text = DOCS.read_text(encoding="utf-8")
    after = text.split(f"<!-- recipe: {name} -->", 1)[1]
    return after.split("```", 2)[1].split("\n", 1)[1]


def workspace(tmp_path: Path, count: int) -> tuple[Path, dict[str, str]]:
    """A data folder with ``count`` pictures in photos/, photos.txt listing them, out/, grays/ and
    records/; and an environment whose PATH has a ``convcli`` running this checkout."""
    data = tmp_path / "data"
    inputs = make_inputs(data / "photos", count, colour=True)
    write_list(data / "photos.txt", [str(Path(p).relative_to(data)) for p in inputs])
    for folder in ("out", "grays", "records", "logs"):
        (data / folder).mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "convcli"
    src = Path(convcli.__file__).resolve().parents[1]
    shim.write_text(f'#!/bin/sh\nPYTHONPATH={src} exec {sys.executable} -m convcli "$@"\n')
    shim.chmod(0o755)
    return data, {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def unsharded(data: Path, env: dict[str, str], command: list[str], folder: str) -> dict[str, bytes]:
    (data / f"{folder}-whole").mkdir()
    args = ["convcli", *command, "--out-dir", f"{folder}-whole", "--files-from", "photos.txt"]
    subprocess.run(args, cwd=data, env=env, check=True, capture_output=True, timeout=600)
    return snapshot(data / f"{folder}-whole")


@pytest.mark.slow
def test_slurm_recipe(tmp_path) -> None:
    """The sbatch script, run as the tasks of ``--array=1-3`` would run it."""
    data, env = workspace(tmp_path, 12)
    (data / "edges.sh").write_text(recipe("slurm"))
    for task in (1, 2, 3):
        slurm = {"SLURM_ARRAY_TASK_ID": str(task), "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "3"}
        done = subprocess.run(["bash", "edges.sh"], cwd=data, env={**env, **slurm}, capture_output=True, timeout=600)
        assert done.returncode == 0, done.stderr.decode()
    jsonl = [r for p in sorted((data / "records").iterdir()) for r in records(p.read_text())]
    assert len(jsonl) == 12 and all("output" in r for r in jsonl)
    assert snapshot(data / "out") == unsharded(data, env, ["filter", "-k", "edges"], "out")


def test_kubernetes_recipe(tmp_path) -> None:
    """The Indexed Job's command, run in each of its pods' environments (JOB_COMPLETION_INDEX
    0…completions-1 and the manifest's env); CONVCLI_SHARD_COUNT must equal completions."""
    manifest = recipe("kubernetes")
    completions = int(manifest.split("completions:", 1)[1].split()[0])
    count = manifest.split("name: CONVCLI_SHARD_COUNT", 1)[1].split("value:", 1)[1].split()[0]
    assert json.loads(count) == str(completions)
    command = json.loads(manifest.split("command:", 1)[1].split("\n", 1)[0])
    data, env = workspace(tmp_path, 16)
    for index in range(completions):
        pod = {**env, "JOB_COMPLETION_INDEX": str(index), "CONVCLI_SHARD_COUNT": json.loads(count)}
        done = subprocess.run(command, cwd=data, env=pod, capture_output=True, timeout=300)
        assert done.returncode == 0, done.stderr.decode()
    jsonl = [r for p in sorted((data / "records").iterdir()) for r in records(p.read_text())]
    assert sorted(r["input"] for r in jsonl) == sorted((data / "photos.txt").read_text().split())
    assert snapshot(data / "grays") == unsharded(data, env, ["gray"], "grays")


FAKE_PARALLEL = r"""#!/usr/bin/env python3
# GNU parallel's part in the recipe, on one machine: each line of stdin replaces {} in the
# command, run by a shell in --workdir; --sshloginfile's hosts are this machine.
import subprocess, sys
args, command, workdir = sys.argv[1:], None, None
while args:
    arg = args.pop(0)
    if arg in ("--sshloginfile", "--slf", "-S"):
        args.pop(0)
    elif arg in ("--workdir", "--wd"):
        workdir = args.pop(0)
    else:
        command = arg
codes = [subprocess.run(["sh", "-c", command.replace("{}", line)], cwd=workdir).returncode
         for line in sys.stdin.read().split()]
sys.exit(max(codes, default=0))
"""


@pytest.mark.slow
def test_gnu_parallel_recipe(tmp_path) -> None:
    data, env = workspace(tmp_path, 12)
    parallel = Path(env["PATH"].split(":")[0]) / "parallel"
    parallel.write_text(FAKE_PARALLEL)
    parallel.chmod(0o755)
    (data / "hosts.txt").write_text("node1\nnode2\n")
    done = subprocess.run(["bash", "-c", recipe("parallel")], cwd=data, env=env, capture_output=True, timeout=900)
    assert done.returncode == 0, done.stderr.decode()
    assert len(list((data / "records").iterdir())) == 4
    assert snapshot(data / "out") == unsharded(data, env, ["filter", "-k", "edges"], "out")


FAKE_DASK_BAG = '''"""dask.bag's part in the recipe, on one machine, when Dask is not installed."""
class Bag:
    def __init__(self, partitions):
        self.partitions = partitions
    def map_partitions(self, function):
        return Bag([list(function(part)) for part in self.partitions])
    def compute(self):
        return [item for part in self.partitions for item in part]
def from_sequence(seq, npartitions=1):
    seq = list(seq)
    size = -(-len(seq) // npartitions) or 1
    return Bag([seq[i : i + size] for i in range(0, len(seq), size)])
'''


@pytest.mark.slow
def test_dask_recipe(tmp_path) -> None:
    """The Dask example maps filter_images over partitions of the list (Dask's synchronous
    scheduler, or a stand-in for dask.bag when Dask is not installed)."""
    data, env = workspace(tmp_path, 12)
    src = Path(convcli.__file__).resolve().parents[1]
    path = [str(src)]
    try:
        import dask  # noqa: F401
    except ImportError:
        fake = tmp_path / "fake" / "dask"
        fake.mkdir(parents=True)
        (fake / "__init__.py").write_text("")
        (fake / "bag.py").write_text(FAKE_DASK_BAG)
        path.append(str(fake.parent))
    (data / "run.py").write_text(recipe("dask"))
    run_env = {**env, "PYTHONPATH": os.pathsep.join(path + sys.path[1:]), "DASK_SCHEDULER": "synchronous"}
    done = subprocess.run([sys.executable, "run.py"], cwd=data, env=run_env, capture_output=True, timeout=900)
    assert done.returncode == 0, done.stderr.decode()
    assert "12 files written, 0 failed" in done.stderr.decode()
    assert snapshot(data / "out") == unsharded(data, env, ["filter", "-k", "edges"], "out")


def test_filter_config_and_keywords_give_the_same_run(tmp_path) -> None:
    """``filter_images`` takes a FilterConfig (as ``train`` takes a TrainConfig); keywords fill
    one in and update a given one; an unknown keyword names the known options."""
    from convcli.filtering.config import FilterConfig
    from convcli.filtering.pipeline import filter_images

    rng = np.random.default_rng(3)
    src = tmp_path / "in.png"
    Image.fromarray(rng.integers(0, 256, (9, 11), dtype=np.uint8)).save(src)
    for name in "abcdx":
        (tmp_path / name).mkdir()
    a = filter_images([str(src)], ["edges"], FilterConfig(out_dir=tmp_path / "a", padding="same"))
    b = filter_images([str(src)], ["edges"], out_dir=tmp_path / "b", padding="same")
    c = filter_images(
        [str(src)], ["edges"], FilterConfig(out_dir=tmp_path / "x", padding="same"), out_dir=tmp_path / "c"
    )
    pictures = [np.asarray(Image.open(r.records[0].output)) for r in (a, b, c)]
    assert pictures[0].shape == (9, 11) and [Path(r.records[0].output).parent.name for r in (a, b, c)] == [
        "a",
        "b",
        "c",
    ]
    np.testing.assert_array_equal(pictures[0], pictures[1])
    np.testing.assert_array_equal(pictures[0], pictures[2])
    with pytest.raises(ConvcliError, match=r"unknown option 'paddng'.*padding"):
        filter_images([str(src)], ["edges"], paddng="same", out_dir=tmp_path / "d")
    assert not any((tmp_path / "d").iterdir())


def test_gray_to_one_file_refuses_a_format_its_suffix_contradicts(cli, tmp_path, monkeypatch) -> None:
    """``gray -o x.png --format jpg`` wrote a PNG silently; like ``filter``, it is refused now,
    and a --format that agrees with the suffix (jpeg for .jpg) still writes."""
    monkeypatch.chdir(tmp_path)
    (source,) = make_inputs(Path("in"), 1, colour=True)
    refused = cli("gray", source, "-o", "x.png", "--format", "jpg")
    assert refused.exit_code == 2 and "x.png: format 'jpg' disagrees" in refused.stderr
    assert not Path("x.png").exists()
    written = cli("gray", source, "-o", "x.jpg", "--format", "jpeg")
    assert written.exit_code == 0, written.stderr
    assert Image.open("x.jpg").format == "JPEG"
