"""The code's shape stays what ARCHITECTURE.md says: no import up the layers, no cycle, no private
import across modules, functions ≤ 60 lines, modules ≤ 400 (tools/structure_check.py)."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_structure_check_finds_nothing() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "structure_check.py"), str(ROOT / "src" / "convcli")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith("0 structure findings")


def test_the_layer_rule_catches_an_import_up_the_layers(tmp_path) -> None:
    """The check can fail: a copy of the package with one I/O module importing the CLI."""
    import shutil

    copy = tmp_path / "convcli"
    shutil.copytree(ROOT / "src" / "convcli", copy)
    outputs = copy / "outputs.py"
    outputs.write_text(outputs.read_text() + "\n\ndef _late():\n    from .cli.common import echo\n\n    return echo\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "structure_check.py"), str(copy)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "import up the layers: convcli.outputs (I/O) imports convcli.cli.common (CLI)" in result.stdout
