"""Train the softmax, mlp and cnn presets with their defaults and --seed 0 through the CLI,
and record test accuracy and wall time (the lecture's exercise: ~92%, 97–98%, 99%).

    python benchmarks/accuracy.py [PRESET ...]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = {"softmax": 0.92, "mlp": 0.98, "cnn": 0.993, "lecture-cnn": None}


def main() -> None:
    presets = sys.argv[1:] or ["softmax", "mlp", "cnn"]
    work = HERE / "work"
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    for preset in presets:
        started = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "convcli",
                "train",
                preset,
                "--seed",
                "0",
                "-o",
                str(work / f"{preset}.keras"),
                "--json",
            ],
            capture_output=True,
            text=True,
            env=os.environ,
        )
        wall = time.perf_counter() - started
        if proc.returncode:
            raise SystemExit(proc.stderr)
        record = json.loads(proc.stdout)
        results[preset] = {
            "test_accuracy": record["test"]["accuracy"],
            "wall_seconds": wall,
            "epochs": record["hyperparameters"]["epochs"],
            "params": record["params"],
            "target": TARGETS.get(preset),
        }
        print(
            f"{preset:12s} test accuracy {record['test']['accuracy'] * 100:.2f}%  "
            f"{wall:.0f} s wall  ({record['params']:,} parameters)",
            flush=True,
        )
    out = HERE / "results" / "accuracy.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous.update(results)
    out.write_text(json.dumps(previous, indent=2) + "\n")


if __name__ == "__main__":
    main()
