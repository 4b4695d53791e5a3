"""``convcli predict`` with an exported ``.onnx`` model against the ``.keras`` model it came from.

    python benchmarks/export.py [--repeat N] [--model M.keras] [--runtime-python PYTHON]
    (``make bench BENCH=export`` runs it)

Trains a small ``cnn`` (one epoch on 3,000 digits) unless ``--model`` names one, exports it with
``convcli export`` (verified there), draws a "7" on white paper, then times whole ``convcli
predict`` processes, start-up included, ``.keras`` and ``.onnx`` paired run by run: wall and CPU
seconds, peak RSS, and whether the answers agree (same class, probabilities within 1e-5).
``--runtime-python``: also run the ``.onnx`` with another environment's interpreter, e.g. a
venv holding only what ``convcli[runtime]`` lists (no TensorFlow). Writes
``benchmarks/results/export.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "work"
RESULT = HERE / "results" / "export.json"
TARGETS = {"onnx_seconds_max": 1.0, "max_abs_diff": 1e-5}


def convcli(python: str, *args: str | Path) -> list[str]:
    """``convcli ARGS`` run from this checkout's source by ``python``."""
    return ["env", f"PYTHONPATH={ROOT / 'src'}", python, "-m", "convcli", *map(str, args)]


def timed(cmd: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds, peak RSS (MiB) and stdout of one process (its own rusage)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, out


def prepare(model: Path | None) -> tuple[Path, Path, Path]:
    """The model (trained when not given), its ONNX export, and a picture of a 7."""
    from PIL import Image, ImageDraw, ImageFont

    WORK.mkdir(parents=True, exist_ok=True)
    if model is None:
        model = WORK / "export-cnn.keras"
        if not model.exists():
            cmd = convcli(sys.executable, "train", "cnn", "--epochs", "1", "--limit", "3000", "-o", model)
            subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    onnx = WORK / f"{model.stem}.onnx"
    subprocess.run(convcli(sys.executable, "export", model, "-o", onnx, "--force"), check=True, cwd=ROOT)
    seven = WORK / "export-seven.png"
    picture = Image.new("RGB", (120, 160), "white")
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 130)
    ImageDraw.Draw(picture).text((20, 10), "7", fill="black", font=font)
    picture.save(seven)
    return model, onnx, seven


def run(repeat: int, model: Path | None, runtime_python: str | None) -> dict[str, Any]:
    """The paired runs; returns the results written to ``RESULT``."""
    keras_model, onnx, seven = prepare(model)
    cmds = {
        "keras": convcli(sys.executable, "predict", keras_model, seven, "--json"),
        "onnx": convcli(sys.executable, "predict", onnx, seven, "--json"),
    }
    if runtime_python:
        cmds["onnx-runtime-only"] = convcli(runtime_python, "predict", onnx, seven, "--json")
    runs: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": [], "rss": []} for name in cmds}
    answers: dict[str, dict[str, Any]] = {}
    load_before = os.getloadavg()[0]
    for _ in range(repeat):
        for name, cmd in cmds.items():
            wall, cpu, rss, out = timed(cmd)
            runs[name]["wall"].append(wall)
            runs[name]["cpu"].append(cpu)
            runs[name]["rss"].append(rss)
            answers[name] = json.loads(out)
    ratios = [o / k for o, k in zip(runs["onnx"]["wall"], runs["keras"]["wall"])]
    expected = answers["keras"]
    diffs = {
        name: max(abs(a - b) for a, b in zip(answer["probabilities"], expected["probabilities"]))
        for name, answer in answers.items()
    }
    return {
        "repeat": repeat,
        "load_average": os.getloadavg()[0],
        "load_average_before": load_before,
        "median_seconds": {name: statistics.median(r["wall"]) for name, r in runs.items()},
        "median_cpu_seconds": {name: statistics.median(r["cpu"]) for name, r in runs.items()},
        "min_seconds": {name: min(r["wall"]) for name, r in runs.items()},
        "min_cpu_seconds": {name: min(r["cpu"]) for name, r in runs.items()},
        "peak_rss_mib": {name: max(r["rss"]) for name, r in runs.items()},
        "seconds": {name: r["wall"] for name, r in runs.items()},
        "cpu_seconds": {name: r["cpu"] for name, r in runs.items()},
        "ratio_onnx_vs_keras": statistics.median(ratios),
        "same_class": all(a["prediction"] == expected["prediction"] for a in answers.values()),
        "max_abs_diff": diffs,
        "targets": TARGETS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--model", type=Path, help="a trained .keras model (default: train a small cnn)")
    parser.add_argument("--runtime-python", help="an environment without TensorFlow to run the .onnx with too")
    args = parser.parse_args()
    result = run(args.repeat, args.model, args.runtime_python)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"predict one picture, median (minimum) of {args.repeat}: seconds, CPU seconds, peak RSS (MiB)")
    for name, seconds in result["median_seconds"].items():
        cpu, rss = result["median_cpu_seconds"][name], result["peak_rss_mib"][name]
        low, low_cpu = result["min_seconds"][name], result["min_cpu_seconds"][name]
        print(f"  {name:<24} {seconds:6.2f} ({low:.2f})   {cpu:6.2f} ({low_cpu:.2f})   {rss:6d}")
    print(f"  load average {result['load_average_before']:.1f} before, {result['load_average']:.1f} after")
    print(f"  ratio onnx / keras    {result['ratio_onnx_vs_keras']:.2f}×")
    print(f"  same class: {result['same_class']}; max |Δ| {max(result['max_abs_diff'].values()):.2g}")


if __name__ == "__main__":
    main()
