"""convcli against the tools people would pick instead, measured side by side in one run.

    python benchmarks/run.py [startup] [single] [filter] [large] [train] [train-rss] [memory] [rounding] [folders]
    [export] [daemon] [epochs] [train-one-epoch]
    [--repeat N] [--compare PYTHON]
    (default: all)

``--compare PYTHON`` runs convcli with a second environment's interpreter beside the first (e.g. a
venv holding the CUDA ``tensorflow`` build), paired run by run, so that one table says how much
one set-up saves over the other; ``--compare-src DIR`` gives that run another checkout's ``src``
(e.g. the main branch: "today"), else it runs this checkout's source.

Each benchmark prints a table and writes ``benchmarks/results/<name>.json``. Every figure is a
median over repeated runs, and each ratio (convcli / anchor) is computed pair by pair within
one run, since absolute seconds on shared machines drift while ratios hold. Whole processes
are timed, start-up included. Anchors: ImageMagick (``convert``), libvips (``vips``), the Keras
"Simple MNIST convnet" recipe, scipy.ndimage.correlate; ``benchmarks/setup.sh`` installs them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "work"
RESULTS = HERE / "results"
PY = sys.executable


def convcli_cmd(python: str, src: Path = ROOT / "src") -> list[str]:
    """``convcli`` from the source in ``src`` run by ``python`` (whatever venv it belongs to)."""
    return ["env", f"PYTHONPATH={src}", python, "-m", "convcli"]


CONVCLI = convcli_cmd(PY)
COMPARE: str | None = None  # --compare: a second environment's python
ONEDNN_AS_GIVEN = os.environ.get("TF_ENABLE_ONEDNN_OPTS")  # the user's, before convcli sets it
COMPARE_SRC = ROOT / "src"  # --compare-src: the source that python runs


def labels() -> dict[str, str]:
    """Table labels for this set-up and the compared one: the TensorFlow build, and whose source."""
    out = {"convcli": f"convcli ({tensorflow_build(PY)})"}
    if COMPARE:
        whose = "" if COMPARE_SRC == ROOT / "src" else f", {COMPARE_SRC}"
        out["compare"] = f"convcli ({tensorflow_build(COMPARE)}{whose})"
    return out


def compare_cmd() -> list[str]:
    """The compared set-up's ``convcli`` command (``--compare``, ``--compare-src``)."""
    assert COMPARE is not None
    return convcli_cmd(COMPARE, COMPARE_SRC)


CONVERT = shutil.which("convert-im6.q16") or "/usr/bin/convert"
VIPS = shutil.which("vips") or "vips"
EDGES_IM = "3x3: -1,-1,-1 -1,8,-1 -1,-1,-1"


def run_timed(cmd: list[str] | str, env: dict[str, str] | None = None, shell: bool = False) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MiB, of the child and its children), and stdout of one process."""
    started = time.perf_counter()
    child_env = {**os.environ, **(env or {})}
    if ONEDNN_AS_GIVEN is None and "TF_ENABLE_ONEDNN_OPTS" not in (env or {}):
        # convcli's keras() (machine(), in-process benches) sets it in this process; the Keras
        # recipe runs as a user runs it, with TensorFlow's default kernels (convcli sets its own)
        child_env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    proc = subprocess.Popen(cmd, shell=shell, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env, cwd=ROOT)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {cmd}\n{err.decode()[-2000:]}")
    import resource

    rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return elapsed, int(rss_mib), out.decode()


def peak_rss_mib(cmd: list[str]) -> int:
    """Peak RSS of one command, measured alone with GNU time (KiB → MiB)."""
    timer = shutil.which("time") or "/usr/bin/time"
    proc = subprocess.run([timer, "-f", "%M", *cmd], capture_output=True, text=True, cwd=ROOT)
    return int(proc.stderr.strip().splitlines()[-1]) // 1024


def tensorflow_build(python: str) -> str:
    """Which TensorFlow distribution ``python`` has installed, e.g. ``tensorflow-cpu 2.21.0``."""
    code = (
        "import importlib.metadata as m\n"
        "for d in ('tensorflow-cpu', 'tensorflow'):\n"
        "    try:\n        print(d, m.version(d)); break\n"
        "    except m.PackageNotFoundError:\n        pass\n"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()
    return out or "none"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import PIL

    from convcli.backend import keras as quiet_keras

    keras = quiet_keras()

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "tensorflow_build": tensorflow_build(PY),
        "compared_with": None
        if COMPARE is None
        else {"python": COMPARE, "src": str(COMPARE_SRC), "tensorflow_build": tensorflow_build(COMPARE)},
        "pillow": PIL.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*r)
    Console().print(t)


def save(name: str, data: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    data = {"benchmark": name, "machine": machine(), **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(scrub(data), indent=2) + "\n")


def scrub(value: Any) -> Any:
    """``value`` without this machine's folders (``/work/x/y.png`` → ``…/y.png``): results are
    shared, paths are not."""
    return json.loads(re.sub(r"(?<![\w.])/(?:[\w.+-]+/)+", "…/", json.dumps(value)))


def median(values: list[float]) -> float:
    return float(statistics.median(values))


# --------------------------------------------------------------------------- inputs


def make_batch(n: int = 100, size: int = 512) -> list[Path]:
    """n distinct colour PNGs (the astronaut, shifted, with noise), made once."""
    from PIL import Image
    from skimage import data

    folder = WORK / "batch"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"in{i:03d}.png" for i in range(n)]
    if all(p.exists() for p in paths):
        return paths
    rng = np.random.default_rng(0)
    base = np.asarray(Image.fromarray(data.astronaut()).resize((size, size)))
    for i, path in enumerate(paths):
        img = np.roll(base, (i * 7, i * 13), axis=(0, 1)).astype(int) + rng.integers(-8, 9, base.shape)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return paths


def make_large(size: int = 4096) -> Path:
    from PIL import Image
    from skimage import data

    path = WORK / f"large-{size}.png"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(1)
        base = np.asarray(Image.fromarray(data.camera()).resize((size, size), Image.Resampling.BICUBIC))
        img = np.clip(base.astype(int) + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(path)
    return path


def edges_mat() -> Path:
    path = WORK / "edges.mat"
    path.write_text("3 3\n-1 -1 -1\n-1 8 -1\n-1 -1 -1\n")
    return path


def same_interior(convcli_png: Path, anchor_png: Path) -> tuple[int, int]:
    """Compare convcli's valid-padding output with the anchor's interior: (differing, total) pixels."""
    from PIL import Image

    a = np.asarray(Image.open(convcli_png)).astype(int)
    b = np.asarray(Image.open(anchor_png)).astype(int)[1:-1, 1:-1]
    if a.shape != b.shape:
        b = b[..., : a.shape[-1]] if b.ndim == 3 else b
    return int((a != b).sum()), int(a.size)


def children_cpu_seconds() -> float:
    """User + system CPU seconds of every finished child so far (a steadier gauge than wall time
    on a machine shared with other work)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def paired_runs(
    cmds: dict[str, list[str] | str],
    repeat: int,
    anchors: tuple[str, ...] = ("magick", "vips"),
    cpu: dict[str, list[float]] | None = None,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Run every command ``repeat`` times, interleaved; ratios convcli / anchor pair by pair.
    ``cpu``, when given, receives each run's CPU seconds by command name."""
    times: dict[str, list[float]] = {k: [] for k in cmds}
    ratios: dict[str, list[float]] = {a: [] for a in anchors}
    for _ in range(repeat):
        for name, cmd in cmds.items():
            before = children_cpu_seconds()
            times[name].append(run_timed(cmd, shell=isinstance(cmd, str))[0])
            if cpu is not None:
                cpu.setdefault(name, []).append(children_cpu_seconds() - before)
        for anchor in anchors:
            ratios[anchor].append(times["convcli"][-1] / times[anchor][-1])
    return times, ratios


# --------------------------------------------------------------------------- benchmarks


def bench_startup(repeat: int) -> None:
    from PIL import Image

    img = make_batch(1)[0]
    out = WORK / "startup-out.png"
    commands = {
        "convcli --help": [*CONVCLI[:0], str(Path(PY).parent / "convcli"), "--help"],
        "convcli kernels": [str(Path(PY).parent / "convcli"), "kernels"],
        "convcli gray 512×512": [str(Path(PY).parent / "convcli"), "gray", str(img), "-o", str(out)],
        "convert -colorspace gray 512×512": [CONVERT, str(img), "-colorspace", "gray", str(WORK / "im-gray.png")],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    ratios: list[float] = []
    runs = max(repeat, 10)
    for _ in range(runs):
        for name, cmd in commands.items():
            times[name].append(run_timed(cmd)[0])
        ratios.append(times["convcli gray 512×512"][-1] / times["convert -colorspace gray 512×512"][-1])
    Image.open(out).verify()
    result = {name: median(v) for name, v in times.items()}
    rows = [[name, f"{secs:.3f}"] for name, secs in result.items()]
    rows.append(["ratio gray: convcli / ImageMagick (median of pairs)", f"{median(ratios):.2f}×"])
    table(f"Start-up, median of {runs} runs (seconds)", ["command", "seconds"], rows)
    save(
        "startup",
        {
            "runs": runs,
            "median_seconds": result,
            "gray_ratio_vs_imagemagick": median(ratios),
            "targets": {"gray_ratio_max": 2.0, "help_kernels_max_seconds": 0.3},
        },
    )


def bench_single(repeat: int) -> None:
    """One 512×512 colour PNG through one kernel: the case start-up dominates."""
    image = make_batch(1)[0]
    outs = {name: WORK / f"single-{name}.png" for name in ("convcli", "compare", "magick")}
    cmds: dict[str, list[str] | str] = {
        "convcli": [*CONVCLI, "filter", str(image), "-k", "edges", "-o", str(outs["convcli"])],
        "magick": [CONVERT, str(image), "-morphology", "Convolve", EDGES_IM, str(outs["magick"])],
    }
    anchors: tuple[str, ...] = ("magick",)
    if COMPARE:
        cmds["compare"] = [*compare_cmd(), "filter", str(image), "-k", "edges", "-o", str(outs["compare"])]
        anchors = ("compare", "magick")
    cpu: dict[str, list[float]] = {}
    times, ratios = paired_runs(cmds, repeat, anchors, cpu)
    cpu_ratio = [a / b for a, b in zip(cpu["convcli"], cpu.get("compare", []))]
    rss = {name: peak_rss_mib(cmd) for name, cmd in cmds.items() if name != "magick"}
    builds = {"convcli": tensorflow_build(PY), "compare": tensorflow_build(COMPARE) if COMPARE else None}
    if COMPARE and outs["convcli"].read_bytes() != outs["compare"].read_bytes():
        raise SystemExit("the two builds wrote different files")
    label = labels()
    rows = [[label.get(name, "ImageMagick convert"), f"{median(v):.2f}"] for name, v in times.items()]
    rows += [[f"ratio convcli / {label.get(a, 'ImageMagick')}", f"{median(r):.2f}×"] for a, r in ratios.items()]
    rows += [[f"CPU seconds, {label.get(n, 'ImageMagick convert')}", f"{median(v):.2f}"] for n, v in cpu.items()]
    if cpu_ratio:
        rows.append([f"CPU ratio convcli / {label['compare']}", f"{median(cpu_ratio):.2f}×"])
    rows += [[f"peak RSS of {label[name]} (MiB)", str(v)] for name, v in rss.items()]
    table(f"One 512×512 colour PNG, edges kernel, median of {repeat}", ["what", "value"], rows)
    save(
        "filter-single",
        {
            "repeat": repeat,
            "builds": builds,
            "median_seconds": {k: median(v) for k, v in times.items()},
            "seconds": times,
            "ratios": {k: median(v) for k, v in ratios.items()},
            "ratios_per_run": ratios,
            "median_cpu_seconds": {k: median(v) for k, v in cpu.items()},
            "cpu_seconds": cpu,
            "cpu_ratio_vs_compare": median(cpu_ratio) if cpu_ratio else None,
            "peak_rss_mib": rss,
            "identical_outputs": bool(COMPARE),
            "targets": {"ratio_vs_compare_max": 0.82, "ratio_vs_magick_max": 26},
        },
    )


def bench_filter(repeat: int) -> None:
    inputs = make_batch(100)
    mat = edges_mat()
    out = {name: WORK / f"batch-{name}" for name in ("convcli", "magick", "vips")}
    for folder in out.values():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    files = " ".join(str(p) for p in inputs)
    cmds = {
        "convcli": [*CONVCLI, "filter", *map(str, inputs), "-k", "edges", "--out-dir", str(out["convcli"])],
        "magick": (
            f'for f in {files}; do {CONVERT} "$f" -morphology Convolve "{EDGES_IM}" '
            f'{out["magick"]}/$(basename "$f"); done'
        ),
        "vips": f'for f in {files}; do {VIPS} conv "$f" {out["vips"]}/$(basename "$f") {mat}; done',
    }
    anchors: tuple[str, ...] = ("magick", "vips")
    if COMPARE:
        out["compare"] = WORK / "batch-compare"
        shutil.rmtree(out["compare"], ignore_errors=True)
        out["compare"].mkdir(parents=True)
        cmds["compare"] = [
            *compare_cmd(),
            "filter",
            *map(str, inputs),
            "-k",
            "edges",
            "--out-dir",
            str(out["compare"]),
        ]
        anchors = (*anchors, "compare")
    cpu: dict[str, list[float]] = {}
    times, ratios = paired_runs(cmds, repeat, anchors, cpu)
    agree = {}
    for anchor in ("magick", "vips"):
        diff = total = 0
        for path in inputs[:10]:
            d, t = same_interior(out["convcli"] / f"{path.stem}-edges.png", out[anchor] / path.name)
            diff, total = diff + d, total + t
        agree[anchor] = {"differing_values": diff, "compared_values": total}
    if COMPARE and any(
        (out["convcli"] / p.name).read_bytes() != (out["compare"] / p.name).read_bytes()
        for p in out["convcli"].iterdir()
    ):
        raise SystemExit("the two builds wrote different files")
    label = labels()
    rows = [[label.get(name, name), f"{median(v):.2f}"] for name, v in times.items()]
    rows += [[f"ratio convcli / {label.get(a, a)} (median of pairs)", f"{median(r):.2f}×"] for a, r in ratios.items()]
    rows += [
        [f"outputs differing from {a} (interior, 10 images)", f"{v['differing_values']} of {v['compared_values']:,}"]
        for a, v in agree.items()
    ]
    table(f"100 colour 512×512 PNGs, edges kernel, median of {repeat}", ["tool", "seconds"], rows)
    save(
        "filter-batch",
        {
            "repeat": repeat,
            "median_seconds": {k: median(v) for k, v in times.items()},
            "seconds": times,
            "ratios": {k: median(v) for k, v in ratios.items()},
            "speedup_vs_magick": 1 / median(ratios["magick"]),
            "ratios_per_run": ratios,
            "median_cpu_seconds": {k: median(v) for k, v in cpu.items()},
            "agreement": agree,
            "target": "convcli / magick <= 0.5 (issue 15: <= 1/2.2 = 0.45)",
        },
    )


def bench_large(repeat: int) -> None:
    from PIL import Image
    from scipy import ndimage

    big = make_large()
    mat = edges_mat()
    outs = {name: WORK / f"large-{name}.png" for name in ("convcli", "magick", "vips")}
    cmds = {
        "convcli": [*CONVCLI, "filter", str(big), "-k", "edges", "-o", str(outs["convcli"])],
        "magick": [CONVERT, str(big), "-morphology", "Convolve", EDGES_IM, str(outs["magick"])],
        "vips": [VIPS, "conv", str(big), str(outs["vips"]), str(mat)],
    }
    times, ratios = paired_runs(cmds, repeat)
    rss = peak_rss_mib(cmds["convcli"])
    rss_compare = None
    if COMPARE:
        cmd = [*compare_cmd(), "filter", str(big), "-k", "edges", "-o", str(WORK / "large-compare.png")]
        rss_compare = peak_rss_mib(cmd)
    agree = {a: same_interior(outs["convcli"], outs[a]) for a in ("magick", "vips")}

    from convcli.filtering.convolution import Convolver
    from convcli.filtering.kernels import load_kernel

    image = np.asarray(Image.open(big), dtype=np.float32)
    kernel = load_kernel("edges")
    conv = Convolver([kernel])
    conv.apply(image[:64, :64])  # build the layer and warm up
    inproc: dict[str, list[float]] = {"convcli Convolver.apply": [], "scipy.ndimage.correlate": []}
    for _ in range(max(repeat, 5)):
        t = time.perf_counter()
        ours = conv.apply(image)[0]
        inproc["convcli Convolver.apply"].append(time.perf_counter() - t)
        t = time.perf_counter()
        ref = ndimage.correlate(image, kernel.weights, mode="constant")[1:-1, 1:-1]
        inproc["scipy.ndimage.correlate"].append(time.perf_counter() - t)
    max_diff = float(np.abs(ours - ref).max())
    in_ratio = median(inproc["convcli Convolver.apply"]) / median(inproc["scipy.ndimage.correlate"])
    rows = [[name, f"{median(v):.2f}"] for name, v in times.items()]
    rows += [[f"ratio convcli / {a}", f"{median(r):.2f}×"] for a, r in ratios.items()]
    rows += [[f"in-process {k}", f"{median(v):.3f}"] for k, v in inproc.items()]
    rows += [
        ["in-process ratio convcli / scipy", f"{in_ratio:.2f}×"],
        ["max |convcli − scipy|", f"{max_diff:g}"],
        ["peak RSS of convcli filter (MiB)", str(rss)],
    ]
    if rss_compare is not None:
        rows.append([f"peak RSS of {labels()['compare']} filter (MiB)", str(rss_compare)])
    rows += [[f"outputs differing from {a}", f"{d} of {t:,}"] for a, (d, t) in agree.items()]
    table(f"One 4096×4096 gray PNG, edges kernel, median of {repeat}", ["what", "value"], rows)
    save(
        "large-image",
        {
            "repeat": repeat,
            "median_seconds": {k: median(v) for k, v in times.items()},
            "ratios": {k: median(v) for k, v in ratios.items()},
            "in_process_seconds": {k: median(v) for k, v in inproc.items()},
            "in_process_ratio_vs_scipy": in_ratio,
            "max_abs_diff_vs_scipy": max_diff,
            "peak_rss_mib": rss,
            "peak_rss_mib_compare": rss_compare,
            "agreement": {a: {"differing": d, "total": t} for a, (d, t) in agree.items()},
            "target": "peak RSS < 1024 MiB",
        },
    )


def _probe(cmd: list[str]) -> dict[str, Any]:
    """Run a training probe; time to 99.0% test accuracy (start-up included) and final accuracy."""
    t0 = time.time()
    elapsed, _, out = run_timed(cmd, env={"BENCH_T0": repr(t0), "TF_CPP_MIN_LOG_LEVEL": "3"})
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    epochs = [line for line in lines if "epoch" in line]
    first = next((e for e in epochs if e["test_accuracy"] >= 0.99), None)
    # The probe's own evaluation time is not training: subtract the evaluations before the milestone.
    probe_cost = sum(e["eval_seconds"] for e in epochs if first and e["epoch"] < first["epoch"])
    final = next((line["final_test_accuracy"] for line in lines if "final_test_accuracy" in line), None)
    return {
        "seconds_to_99": None if first is None else first["t"] - probe_cost,
        "epoch_reaching_99": None if first is None else first["epoch"],
        "final_test_accuracy": final,
        "total_seconds": elapsed,
        "epochs": epochs,
    }


def train_rss() -> dict[str, int]:
    """Peak RSS of one epoch of ``convcli train cnn``, in this environment and the compared one."""
    data_dir = os.environ.get("CONVCLI_DATA_DIR", str(ROOT.parent / "shared" / "datasets"))
    prefixes = {"convcli": CONVCLI, **({"compare": compare_cmd()} if COMPARE else {})}
    args = ["train", "cnn", "--epochs", "1", "--seed", "0", "--data-dir", data_dir, "-o"]
    return {name: peak_rss_mib([*prefix, *args, str(WORK / f"rss-{name}.keras")]) for name, prefix in prefixes.items()}


def bench_train_rss(repeat: int) -> None:
    """Only the peak RSS of ``train cnn`` (one epoch): the training benchmark takes minutes."""
    runs = [train_rss() for _ in range(repeat)]
    result = {name: max(r[name] for r in runs) for name in runs[0]}
    builds = {"convcli": tensorflow_build(PY), "compare": tensorflow_build(COMPARE) if COMPARE else None}
    rows = [[f"{labels()[n]} train cnn --epochs 1", str(v)] for n, v in result.items()]
    table(f"Peak RSS (MiB), highest of {repeat}", ["what", "MiB"], rows)
    save(
        "train-rss",
        {"repeat": repeat, "builds": builds, "runs": runs, "peak_rss_mib": result, "target": "<= 900 MiB"},
    )


def bench_train(repeat: int) -> None:
    data_dir = os.environ.get("CONVCLI_DATA_DIR", str(ROOT.parent / "shared" / "datasets"))
    ours_cmd = [PY, str(HERE / "train_probe.py"), "cnn", "--data-dir", data_dir, "-o", str(WORK / "cnn.keras")]
    recipe_cmd = [PY, str(HERE / "keras_recipe.py"), data_dir]
    runs = []
    for _ in range(repeat):
        ours = _probe(ours_cmd)
        recipe = _probe(recipe_cmd)
        ratio = (
            ours["seconds_to_99"] / recipe["seconds_to_99"]
            if ours["seconds_to_99"] and recipe["seconds_to_99"]
            else None
        )
        runs.append({"convcli": ours, "recipe": recipe, "ratio_time_to_99": ratio})
    rss = train_rss()["convcli"]

    def med(key: str, who: str) -> str:
        values = [r[who][key] for r in runs if r[who][key] is not None]
        if not values:
            return "not reached"
        value = median(values)
        return f"{value:.4f}" if key == "final_test_accuracy" else f"{value:.1f}"

    ratios = [r["ratio_time_to_99"] for r in runs if r["ratio_time_to_99"] is not None]
    rows = [
        [
            "seconds to 99.0% test accuracy (start-up included)",
            med("seconds_to_99", "convcli"),
            med("seconds_to_99", "recipe"),
        ],
        ["epoch reaching 99.0%", med("epoch_reaching_99", "convcli"), med("epoch_reaching_99", "recipe")],
        ["final test accuracy", med("final_test_accuracy", "convcli"), med("final_test_accuracy", "recipe")],
        ["whole run (seconds)", med("total_seconds", "convcli"), med("total_seconds", "recipe")],
        ["ratio time to 99.0%: convcli / recipe", f"{median(ratios):.2f}×" if ratios else "n/a", ""],
        ["peak RSS of convcli train cnn (MiB)", str(rss), ""],
    ]
    table(f"Training on MNIST, {repeat} run(s) each", ["", "convcli cnn", "Keras recipe"], rows)
    save(
        "train",
        {
            "repeat": repeat,
            "runs": runs,
            "ratio_time_to_99": median(ratios) if ratios else None,
            "peak_rss_mib": rss,
            "targets": {"ratio_max": 0.25, "final_min": 0.994, "rss_max_mib": 2048},
        },
    )


def _one_epoch_run(seed: int, data_dir: str) -> dict[str, Any]:
    """``convcli train cnn --epochs 1 --seed SEED``, the whole process: wall seconds, peak RSS,
    and the test accuracy its record states."""
    out = WORK / f"one-epoch-{seed}.keras"
    for stale in (out, out.with_suffix(".json")):
        stale.unlink(missing_ok=True)
    timer = shutil.which("time") or "/usr/bin/time"
    args = ["train", "cnn", "--epochs", "1", "--seed", str(seed), "--data-dir", data_dir, "-o", str(out)]
    started = time.perf_counter()
    proc = subprocess.run([timer, "-f", "%M", *CONVCLI, *args], capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"convcli train failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    record = json.loads(out.with_suffix(".json").read_text())
    rss = int(proc.stderr.strip().splitlines()[-1]) // 1024
    return {"seed": seed, "seconds": elapsed, "test_accuracy": record["test"]["accuracy"], "peak_rss_mib": rss}


def bench_train_one_epoch(repeat: int) -> None:
    """Issue 28's one-epoch budget: the whole ``train cnn --epochs 1`` process against the Keras
    recipe's time to 99.0% (the recipe stops there), pair by pair, seeds 0..repeat-1."""
    data_dir = os.environ.get("CONVCLI_DATA_DIR", str(ROOT.parent / "shared" / "datasets"))
    recipe_cmd = [PY, str(HERE / "keras_recipe.py"), data_dir]
    pairs = []
    for seed in range(repeat):
        ours = _one_epoch_run(seed, data_dir)
        os.environ["RECIPE_STOP_AT"] = "0.99"
        try:
            recipe = _probe(recipe_cmd)
        finally:
            del os.environ["RECIPE_STOP_AT"]
        to_99 = recipe["seconds_to_99"]
        ratio = ours["seconds"] / to_99 if to_99 else None
        pairs.append({"convcli": ours, "recipe": recipe, "ratio": ratio, "load_after": os.getloadavg()[0]})
    ratios = [p["ratio"] for p in pairs if p["ratio"] is not None]
    accuracies = [p["convcli"]["test_accuracy"] for p in pairs]
    rows = [
        [
            str(p["convcli"]["seed"]),
            f"{p['convcli']['test_accuracy']:.2%}",
            f"{p['convcli']['seconds']:.1f}",
            f"{p['recipe']['seconds_to_99']:.1f} (epoch {p['recipe']['epoch_reaching_99']})"
            if p["recipe"]["seconds_to_99"]
            else "not reached",
            f"{p['ratio']:.3f}×" if p["ratio"] else "n/a",
            str(p["convcli"]["peak_rss_mib"]),
        ]
        for p in pairs
    ]
    columns = ["seed", "convcli 1 epoch: test", "its whole run (s)", "recipe: s to 99%", "ratio", "RSS MiB"]
    table("train cnn --epochs 1 against the Keras recipe's time to 99.0%, pair by pair", columns, rows)
    save(
        "train-one-epoch",
        {
            "repeat": repeat,
            "pairs": pairs,
            "ratio_median": median(ratios) if ratios else None,
            "ratio_max": max(ratios) if ratios else None,
            "accuracy_mean": sum(accuracies) / len(accuracies),
            "accuracy_min": min(accuracies),
            "targets": {"ratio_max": 0.1, "accuracy_mean_min": 0.99, "accuracy_min": 0.989},
        },
    )


def bench_memory(repeat: int) -> None:
    """Peak RSS of large colour photographs (issue 12's targets), beside ImageMagick and vips."""
    from pictures import bench_memory as measure

    results = measure(repeat, CONVCLI, CONVERT, VIPS, EDGES_IM, edges_mat())
    rows = []
    for name, result in results.items():
        for tool, run in result["median"].items():
            figure = (
                f"failed: {run['error']}" if "error" in run else f"{run['peak_rss_mib']} MiB, {run['seconds']:.1f} s"
            )
            rows.append([f"{name} {result['pixels'][0]}×{result['pixels'][1]}", tool, figure])
    table(f"Large colour photographs, median of {repeat}", ["image", "tool", "peak RSS, wall"], rows)
    save("memory", {"repeat": repeat, **results})


def bench_rounding(repeat: int) -> None:
    """Fractional kernels: ImageMagick and vips truncate where convcli rounds half up."""
    from pictures import bench_rounding as measure

    results = measure(CONVCLI, CONVERT, VIPS)
    rows = [
        [kernel, tool, f"{r['share_differing']:.1%}", f"{r['equal_to_raw_rounded_down']:.1%}"]
        for kernel, tools in results.items()
        for tool, r in tools.items()
    ]
    table("512×512 astronaut, valid interior", ["kernel", "tool", "differs from convcli", "= raw rounded down"], rows)
    save("rounding", results)


def bench_daemon(repeat: int) -> None:
    """One-file calls with a warm daemon against ImageMagick (issue 26): see warm_daemon.py."""
    from warm_daemon import measure

    r = measure(repeat, make_batch(20), CONVERT, EDGES_IM, WORK, paired_runs)
    loop, single, client = r["loop20_seconds"], r["single_seconds"], r["client"]
    rows = [
        ["20 one-file filter calls, warm daemon", f"{loop['convcli']:.2f} s"],
        ["20 one-file ImageMagick calls", f"{loop['magick']:.2f} s"],
        ["ratio (median of pairs; target <= 1.5)", f"{r['loop20_ratio_vs_magick']:.2f}x"],
        ["one filter call, warm daemon", f"{single['convcli']:.3f} s"],
        ["one ImageMagick call", f"{single['magick']:.3f} s"],
        ["ratio (median of pairs; target <= 1.5)", f"{r['single_ratio_vs_magick']:.2f}x"],
        ["one filter call in process (CONVCLI_DAEMON=off)", f"{r['single_in_process_seconds']:.2f} s"],
        ["predict one.png, warm daemon (target <= 0.5 s)", f"{r['predict_seconds']:.3f} s"],
        ["its CPU time (client + job)", f"{r['predict_cpu_seconds']:.3f} s"],
        *[[name, f"{secs * 1000:.0f} ms"] for name, secs in client.items()],
        ["daemon start (imports Keras once)", f"{r['daemon_start_seconds']:.1f} s"],
        ["idle daemon RSS / PSS", f"{r['idle_daemon_mib']['rss']} / {r['idle_daemon_mib']['pss']} MiB"],
        [
            "its warmed spare process RSS / PSS",
            "{rss} / {pss} MiB".format(**(r["idle_daemon_mib"]["spare"] or {"rss": "-", "pss": "-"})),
        ],
    ]
    table(f"Warm daemon: 512x512 colour PNGs, edges kernel, median of {repeat}", ["what", "value"], rows)
    save(
        "daemon",
        {
            "repeat": repeat,
            **r,
            "targets": {
                "loop20_ratio_max": 1.5,
                "single_ratio_max": 1.5,
                "predict_max_seconds": 0.5,
                "client_start_max_ms": 60,
            },
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    benches = {
        "startup": bench_startup,
        "single": bench_single,
        "filter": bench_filter,
        "large": bench_large,
        "train": bench_train,
        "train-rss": bench_train_rss,
        "train-one-epoch": bench_train_one_epoch,
        "memory": bench_memory,
        "rounding": bench_rounding,
        "daemon": bench_daemon,
    }
    parser.add_argument(
        "which",
        nargs="*",
        default=["startup", "single", "filter", "large", "train", "memory", "rounding", "folders"],
        choices=[*benches, "folders", "export", "epochs"],
    )
    parser.add_argument("--repeat", type=int, help="repetitions (default 3; training: 1)")
    parser.add_argument("--compare", metavar="PYTHON", help="a second environment's python to run convcli beside")
    parser.add_argument("--compare-src", metavar="DIR", type=Path, help="the src folder --compare runs (default: ours)")
    args = parser.parse_args()
    global COMPARE, COMPARE_SRC
    COMPARE = args.compare
    COMPARE_SRC = (args.compare_src or COMPARE_SRC).resolve()
    WORK.mkdir(parents=True, exist_ok=True)
    for name in args.which:
        if name == "folders":  # its own script (benchmarks/folders.py): PNG folder against IDX files
            subprocess.run([PY, str(HERE / "folders.py")], check=True, cwd=ROOT)
            continue
        if name == "export":  # its own script (benchmarks/export.py): predict with .onnx against .keras
            subprocess.run([PY, str(HERE / "export.py")], check=True, cwd=ROOT)
            continue
        if name == "epochs":  # its own script (benchmarks/epochs.py): cnn's two budgets, seeds 0-4, test set
            for epochs in (1, 6):
                label = f"cnn {epochs} epoch(s), test"
                subprocess.run(
                    [PY, str(HERE / "epochs.py"), "--epochs", str(epochs), "--label", label], check=True, cwd=ROOT
                )
            continue
        benches[name](args.repeat or (1 if name in ("train", "train-rss", "memory") else 3))


if __name__ == "__main__":
    main()
