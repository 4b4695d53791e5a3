"""Large photographs and rounding: convcli beside ImageMagick and libvips on the same images.

    python benchmarks/run.py memory     # peak RSS and wall time, 24- and 100-megapixel colour
    python benchmarks/run.py rounding   # fractional kernels: who rounds, who truncates

``memory`` filters a 6000×4000 colour JPEG and a 10000×10000 colour PNG (skimage's astronaut,
resized) with ``edges`` (and four kernels to JPEG and TIFF; ``channels``; ``gray``) and measures
each whole process with GNU time (``%e`` wall seconds, ``%M`` peak RSS); a tool that fails records
its last message (Debian's ImageMagick policy caps its pixel cache at 1 GiB of disk, too little for
100 megapixels). ``rounding`` filters the 512×512 astronaut with ``gaussian3`` and ``box3`` and
counts the values where ImageMagick and vips differ from convcli, and from convcli's raw values
rounded down. Results: ``benchmarks/results/memory.json`` and ``rounding.json``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
TIMER = shutil.which("time") or "/usr/bin/time"
TARGETS_MIB = {"photo24": 1024, "photo100": 1536}
"""Issues 12 and 24's targets, for every command and any number of kernels: 6000×4000 colour
≤ 1.0 GiB, 100 megapixels ≤ 1.5 GiB."""


def make_photo(name: str, width: int, height: int, suffix: str) -> Path:
    """skimage's astronaut resized to width×height (bicubic), made once."""
    from PIL import Image
    from skimage import data

    path = WORK / f"{name}{suffix}"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(data.astronaut()).resize((width, height), Image.Resampling.BICUBIC)
        image.save(path, **({"quality": 90} if suffix == ".jpg" else {"compress_level": 1}))
    return path


def timed(cmd: list[str]) -> dict[str, Any]:
    """Wall seconds and peak RSS (MiB) of one whole process, from GNU time; failures recorded."""
    proc = subprocess.run([TIMER, "-f", "%e %M", *map(str, cmd)], capture_output=True, text=True, cwd=HERE.parent)
    lines = proc.stderr.strip().splitlines() or ["0 0"]
    seconds, kib = lines[-1].split()
    if proc.returncode != 0:
        said = [line.replace(f"{WORK}/", "") for line in lines[:-1] if not line.startswith("Command exited")]
        return {"error": said[-1] if said else f"exit status {proc.returncode}", "seconds": float(seconds)}
    return {"seconds": float(seconds), "peak_rss_mib": int(kib) // 1024}


KERNELS4 = ["-k", "edges", "-k", "sharpen", "-k", "emboss", "-k", "sobel-x"]
"""Four kernels in one call: their outputs are written at once for JPEG and TIFF (issue 24)."""


def bench_memory(repeat: int, convcli: list[str], convert: str, vips: str, edges_im: str, edges_mat: Path) -> dict:
    """Peak RSS and wall time on two large colour photographs: ``filter -k edges`` beside
    ImageMagick and vips; four kernels to JPEG and to TIFF; ``channels`` beside ImageMagick's
    ``-separate``; ``gray``."""
    photos = {
        "photo24": make_photo("photo24", 6000, 4000, ".jpg"),
        "photo100": make_photo("photo100", 10000, 10000, ".png"),
    }
    results: dict[str, Any] = {}
    for name, photo in photos.items():
        out = WORK / f"{name}-out"
        cmds = {
            "convcli": [*convcli, "filter", photo, "-k", "edges", "-o", out / "edges.png"],
            "magick": [convert, photo, "-morphology", "Convolve", edges_im, out / "magick.png"],
            "vips": [vips, "conv", photo, out / "vips.png", edges_mat],
            "convcli 4 kernels jpg": [*convcli, "filter", photo, *KERNELS4, "-d", out, "--format", "jpg"],
            "convcli 4 kernels tiff": [*convcli, "filter", photo, *KERNELS4, "-d", out, "--format", "tiff"],
            "convcli channels": [*convcli, "channels", photo, "-d", out],
            "magick channels": [convert, photo, "-separate", out / "magick-%d.png"],
            "convcli gray": [*convcli, "gray", photo, "-o", out / "gray.png"],
        }
        runs = {}
        for tool, cmd in cmds.items():
            runs[tool] = []
            for _ in range(repeat):
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir(parents=True)
                runs[tool].append(timed(cmd))
        shutil.rmtree(out, ignore_errors=True)
        results[name] = {
            "pixels": _size(photo),
            "runs": runs,
            "median": {tool: _median_run(r) for tool, r in runs.items()},
            "target_peak_rss_mib": TARGETS_MIB[name],
        }
    return results


def _size(path: Path) -> list[int]:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # our own 100-megapixel photograph
    with Image.open(path) as image:
        return list(image.size)


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    return {key: float(np.median([r[key] for r in good])) for key in ("seconds", "peak_rss_mib")}


def bench_rounding(convcli: list[str], convert: str, vips: str) -> dict:
    """Where ImageMagick and vips differ from convcli on fractional kernels, and why."""
    from PIL import Image
    from skimage import data

    source = WORK / "astronaut.png"
    Image.fromarray(data.astronaut()).save(source)
    kernels = {
        "gaussian3": (np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]), 16),
        "box3": (np.ones((3, 3), int), 9),
    }
    results: dict[str, Any] = {}
    for name, (weights, scale) in kernels.items():
        ours_png, ours_npy = WORK / f"r-{name}.png", WORK / f"r-{name}.npy"
        for out in (ours_png, ours_npy):
            subprocess.run([*convcli, "filter", source, "-k", name, "-o", out], check=True, capture_output=True)
        spec = "3x3: " + " ".join(",".join(f"{v / scale:.12g}" for v in row) for row in weights)
        mat = WORK / f"r-{name}.mat"
        mat.write_text(f"3 3 {scale}\n" + "\n".join(" ".join(map(str, row)) for row in weights) + "\n")
        theirs = {"magick": WORK / f"r-{name}-magick.png", "vips": WORK / f"r-{name}-vips.png"}
        subprocess.run([convert, source, "-morphology", "Convolve", spec, theirs["magick"]], check=True)
        subprocess.run([vips, "conv", source, theirs["vips"], mat], check=True)
        ours = np.asarray(Image.open(ours_png), dtype=int)
        raw = np.load(ours_npy).astype(np.float64)
        results[name] = {}
        for tool, path in theirs.items():
            other = np.asarray(Image.open(path).convert("RGB"), dtype=int)[1:-1, 1:-1]  # the valid interior
            results[name][tool] = {
                "compared_values": int(ours.size),
                "differing_from_convcli": int((other != ours).sum()),
                "share_differing": float((other != ours).mean()),
                "differences": sorted({int(d) for d in np.unique(other - ours)}),
                "equal_to_raw_rounded_down": float((other == np.floor(raw + 1e-4)).mean()),
            }
    return results
