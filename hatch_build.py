"""Hatch build hook: the Spanish catalog compiled into the wheel (``.po`` → ``.mo``).

The ``.mo`` is a build product, never committed: this hook compiles ``src/convcli/locale``'s
``.po`` files with convcli's own standard-library compiler (``src/convcli/pofile.py``, loaded by
path, so the build needs neither Babel nor GNU gettext) into a temporary folder and adds the
results to the wheel. Editable installs skip it: there ``convcli.i18n`` compiles on first use.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).resolve().parent
LOCALE = ROOT / "src" / "convcli" / "locale"


class CustomBuildHook(BuildHookInterface):
    """Adds ``convcli/locale/<lang>/LC_MESSAGES/convcli.mo`` for each ``.po`` to the wheel."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        spec = importlib.util.spec_from_file_location("convcli_pofile", ROOT / "src" / "convcli" / "pofile.py")
        assert spec is not None and spec.loader is not None
        pofile = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = pofile  # its dataclass looks its module up while being defined
        spec.loader.exec_module(pofile)
        self._folder = tempfile.TemporaryDirectory(prefix="convcli-mo-")
        for po in sorted(LOCALE.glob("*/LC_MESSAGES/*.po")):
            relative = po.relative_to(LOCALE).with_suffix(".mo")
            mo = Path(self._folder.name) / relative
            pofile.compile_catalog(str(po), str(mo))
            build_data["force_include"][str(mo)] = f"convcli/locale/{relative.as_posix()}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        folder = getattr(self, "_folder", None)
        if folder is not None:
            folder.cleanup()
