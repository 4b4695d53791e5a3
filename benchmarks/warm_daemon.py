"""One-file calls with a warm daemon (issue 26), beside ImageMagick: the measurements behind
``python benchmarks/run.py daemon`` (run.py renders the table and saves ``results/daemon.json``).

Shell scripts call convcli once per file; each call in process pays for importing Keras. With
``convcli daemon start`` a call only starts the tiny client, which hands the job to a process
forked from the warm daemon. Measured here, side by side and interleaved run by run:

- 20 one-file ``filter`` calls in a shell loop (daemon) against the ImageMagick loop;
- a single call against a single ImageMagick call, and against the same call in process;
- ``predict`` of one PNG with a warm daemon (wall and CPU seconds);
- the client's own start (interpreter + client import + identity) against ``python -c pass``,
  and a whole served call that does almost nothing (``filter --help``);
- the idle daemon's memory (RSS, and PSS: its share once jobs fork from it).

The daemon runs in a private runtime folder, started and stopped here.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONVCLI = str(Path(sys.executable).parent / "convcli")  # the console script, as scripts call it
BYTECODE_OFF = "PYTHONDONTWRITEBYTECODE"


def _check(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, **kwargs)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {cmd}\n{proc.stderr[-2000:]}")
    return proc


def _timed(cmd: list[str] | str, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        cmd, shell=isinstance(cmd, str), capture_output=True, cwd=ROOT, env={**os.environ, **(env or {})}
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {cmd}\n{proc.stderr.decode()[-2000:]}")
    return elapsed


def _memory_mib(pid: int) -> dict[str, int]:
    """RSS and PSS of one process (MiB), from /proc."""
    out = {}
    for key, name in (("VmRSS", "rss"), ("Pss", "pss")):
        source = "status" if key == "VmRSS" else "smaps_rollup"
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(key + ":"):
                out[name] = int(line.split()[1]) // 1024
    return out


def _predict_inputs(work: Path) -> tuple[Path, Path]:
    """A small CNN (one epoch on 2,000 MNIST images: the speed of ``predict`` does not depend on
    its accuracy) and one digit drawn as a PNG."""
    from PIL import Image, ImageDraw

    model = work / "daemon-cnn.keras"
    if not model.exists():
        args = ["train", "cnn", "--epochs", "1", "--limit", "2000", "--seed", "0", "-o", str(model)]
        _check([CONVCLI, *args], env={**os.environ, "CONVCLI_DAEMON": "off"})
    digit = work / "one.png"
    picture = Image.new("L", (120, 120), 255)
    ImageDraw.Draw(picture).line([(40, 20), (80, 20), (55, 100)], fill=0, width=10)
    picture.save(digit)
    return model, digit


def _cpu_of_reaped_children(pid: int) -> float:
    """User + system seconds of the processes ``pid`` has reaped (its jobs), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def _predict_runs(model: Path, digit: Path, runs: int, daemon: int) -> dict[str, Any]:
    """``predict`` of one PNG through the daemon: median wall seconds and median CPU seconds
    (the client's and its job's, the job counted once the daemon reaped it: load-independent,
    unlike the wall time on a shared machine); its stdout checked against an in-process run."""
    walls, cpus, outs = [], [], set()
    for _ in range(runs):
        before, job_before = resource.getrusage(resource.RUSAGE_CHILDREN), _cpu_of_reaped_children(daemon)
        started = time.perf_counter()
        outs.add(_check([CONVCLI, "predict", str(model), str(digit)]).stdout)
        walls.append(time.perf_counter() - started)
        time.sleep(1.0)  # the daemon reaps the job (and forks the next spare)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        cpus.append(client + _cpu_of_reaped_children(daemon) - job_before)
    in_process = _check([CONVCLI, "predict", str(model), str(digit)], env={**os.environ, "CONVCLI_DAEMON": "off"})
    if outs != {in_process.stdout}:
        raise SystemExit("predict through the daemon printed other bytes than in process")
    return {"predict_seconds": statistics.median(walls), "predict_cpu_seconds": statistics.median(cpus)}


def _client_start(runs: int) -> dict[str, float]:
    """Median seconds: ``python -c pass``; the client's start up to the socket (interpreter,
    client import, identity); a whole served call that does almost nothing."""
    client = "from convcli.daemon import client, protocol; protocol.socket_path(protocol.identity())"
    cmds = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "client start (interpreter + client + identity)": [sys.executable, "-c", client],
        "served call: convcli filter --help": [CONVCLI, "filter", "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            times[name].append(_timed(cmd))
    return {name: statistics.median(v) for name, v in times.items()}


def measure(
    repeat: int, inputs: list[Path], convert: str, edges_im: str, work: Path, paired_runs: Callable[..., Any]
) -> dict[str, Any]:
    """Start a daemon in a private runtime folder, measure, stop it; the figures as a dict."""
    runtime = tempfile.mkdtemp(prefix="cvb-", dir="/tmp")
    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "PYTHONPATH", "CONVCLI_DAEMON", BYTECODE_OFF)}
    os.environ.update(XDG_RUNTIME_DIR=runtime, PYTHONPATH=str(ROOT / "src"))
    os.environ.pop("CONVCLI_DAEMON", None)
    os.environ.pop(BYTECODE_OFF, None)  # as installed: modules load from cached bytecode
    try:
        model, digit = _predict_inputs(work)
        started = time.perf_counter()
        _check([CONVCLI, "daemon", "start"])
        start_seconds = time.perf_counter() - started
        pid = json.loads(_check([CONVCLI, "daemon", "status", "--json"]).stdout)["pid"]
        time.sleep(10)  # the spare process warms up meanwhile
        idle_memory = _memory_mib(pid)
        spares = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        idle_memory["spare"] = {"pids": len(spares), **_memory_mib(int(spares[0]))} if spares else None
        return {
            "daemon_start_seconds": start_seconds,
            "idle_daemon_mib": idle_memory,
            **_filter_runs(repeat, inputs, convert, edges_im, work, paired_runs),
            **_predict_runs(model, digit, max(repeat, 5), pid),
            "client": _client_start(max(repeat, 10)),
            "served": json.loads(_check([CONVCLI, "daemon", "status", "--json"]).stdout)["served"],
        }
    finally:
        subprocess.run([CONVCLI, "daemon", "stop"], capture_output=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(runtime, ignore_errors=True)


def _filter_runs(
    repeat: int, inputs: list[Path], convert: str, edges_im: str, work: Path, paired_runs: Callable[..., Any]
) -> dict[str, Any]:
    """The loop of 20 and the single call, paired with ImageMagick; one in-process single call;
    the served files checked byte for byte against the in-process ones."""
    outs = {name: work / f"daemon-{name}" for name in ("convcli", "magick", "inproc")}
    for folder in outs.values():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    files = " ".join(str(p) for p in inputs)
    loop = {
        "convcli": f'for f in {files}; do {CONVCLI} filter "$f" -k edges -o {outs["convcli"]}/$(basename "$f"); done',
        "magick": f'for f in {files}; do {convert} "$f" -morphology Convolve "{edges_im}" '
        f'{outs["magick"]}/$(basename "$f"); done',
    }
    loop_times, loop_ratios = paired_runs(loop, repeat, ("magick",))
    one = inputs[0]
    single = {
        "convcli": [CONVCLI, "filter", str(one), "-k", "edges", "-o", str(outs["convcli"] / "single.png")],
        "magick": [convert, str(one), "-morphology", "Convolve", edges_im, str(outs["magick"] / "single.png")],
    }
    single_times, single_ratios = paired_runs(single, max(repeat, 5), ("magick",))
    in_process = [CONVCLI, "filter", str(one), "-k", "edges", "-o", str(outs["inproc"] / one.name)]
    in_process_seconds = _timed(in_process, env={"CONVCLI_DAEMON": "off"})
    identical = (outs["inproc"] / one.name).read_bytes() == (outs["convcli"] / one.name).read_bytes()
    if not identical:
        raise SystemExit("the daemon wrote a different file than the in-process run")
    med = statistics.median
    return {
        "loop20_seconds": {k: med(v) for k, v in loop_times.items()},
        "loop20_ratio_vs_magick": med(loop_ratios["magick"]),
        "loop20_ratios_per_run": loop_ratios["magick"],
        "single_seconds": {k: med(v) for k, v in single_times.items()},
        "single_ratio_vs_magick": med(single_ratios["magick"]),
        "single_in_process_seconds": in_process_seconds,
        "identical_to_in_process": identical,
    }
