"""Check that this environment holds every direct dependency at its floor: the version after ``>=``
in pyproject.toml (``[project] dependencies`` and the extras named on the command line).

``make test-lowest`` installs with uv's ``--resolution lowest-direct``, which picks each direct
dependency's lowest allowed version, but picks a higher one, silently, when the floors cannot all be
installed together. A floor that no install can hold is not a floor: this says so (exit 1).

usage: python tools/check_floors.py [EXTRA ...]   (run by the environment under test)
"""

from __future__ import annotations

import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def floors(extras: list[str]) -> dict[str, Version]:
    """Each direct dependency that applies here (its marker holds), with its ``>=`` version."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    found: dict[str, Version] = {}
    for line in lines:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        lows = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        if lows:
            found[requirement.name] = max(lows)
    return found


def main(extras: list[str]) -> int:
    """Print each floor beside the installed version; 1 when any differs or is missing."""
    wrong = 0
    for name, floor in sorted(floors(extras).items()):
        try:
            installed = Version(version(name))
        except PackageNotFoundError:
            installed = None
        mark = "ok" if installed == floor else "NOT AT ITS FLOOR"
        wrong += installed != floor
        print(f"{name:<16} floor {floor!s:<12} installed {installed!s:<12} {mark}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
