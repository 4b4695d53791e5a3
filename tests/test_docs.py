"""The documentation is kept in step with the program: the CLI reference page equals what
``--help`` prints, and every relative link in the README and docs/ points to a file that exists."""

from __future__ import annotations

import re
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))

from cli_reference import PAGE, reference


def test_cli_reference_page_equals_the_help() -> None:
    expected = reference()
    assert PAGE.read_text() == expected, "docs/cli.md is stale: run `python tools/cli_reference.py`"


def test_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    assert "make demo" in readme and "make test" in readme


def test_relative_links_point_to_files() -> None:
    pages = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_anchors_on_other_pages_exist() -> None:
    def anchors(text: str) -> set[str]:
        found = set()
        for heading in re.findall(r"(?m)^#{1,6} (.+)$", text):
            found.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
        return found

    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    missing = []
    for page in pages:
        text = page.read_text()
        for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text):
            dest = page if not target else page.parent / target
            if dest.suffix == ".md" and dest.exists() and anchor not in anchors(dest.read_text()):
                missing.append(f"{page.relative_to(ROOT)} -> {target}#{anchor}")
    assert not missing, missing


def test_performance_page_shows_every_result_file() -> None:
    from performance_page import PAGE as PERFORMANCE
    from performance_page import page

    assert PERFORMANCE.read_text() == page(), "docs/performance.md is stale: run `python tools/performance_page.py`"


def test_no_result_file_holds_a_machine_path() -> None:
    for path in (ROOT / "benchmarks" / "results").glob("*.json"):
        text = path.read_text()
        assert not re.search(r"\"/(work|root|home|tmp)/", text) and "/work/" not in text, path.name


def test_every_import_the_docs_show_works() -> None:
    """Every ``from convcli… import …`` line in the README and docs/ imports (one fresh process):
    a module moved by a restructure must take its examples with it."""
    import subprocess

    pattern = re.compile(r"^\s*(from convcli[\w.]* import [\w, ]+|import convcli[\w.]*)\s*$", re.M)
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    lines = sorted({m.group(1) for page in pages for m in pattern.finditer(page.read_text(encoding="utf-8"))})
    assert len(lines) >= 8, lines  # the pages do show library examples
    result = subprocess.run([sys.executable, "-c", "\n".join(lines)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_architecture_map_names_every_module() -> None:
    """ARCHITECTURE.md's map matches the tree: every module of src/convcli is named there."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    modules = [p for p in (ROOT / "src" / "convcli").rglob("*.py") if p.name != "__init__.py"]
    assert len(modules) > 50
    missing = [str(p.relative_to(ROOT)) for p in modules if not re.search(rf"\b{p.stem}\b", text)]
    assert missing == []
