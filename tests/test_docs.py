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


ARCHITECTURE = ROOT / "ARCHITECTURE.md"
LAYER_NAMES = {4: "CLI", 3: "jobs", 2: "domain", 1: "I/O", 0: "everywhere"}


def _tree_modules() -> set[str]:
    """The modules of src/convcli as ``package/module`` (``module`` at the top)."""
    base = ROOT / "src" / "convcli"
    return {str(p.relative_to(base).with_suffix("")) for p in base.rglob("*.py") if p.name != "__init__.py"}


def _diagram_layers(text: str) -> dict[str, str]:
    """ARCHITECTURE.md's layer diagram read back as module (``package/module``) -> layer name.
    In a layer, ``pkg/: a, b`` names modules of ``pkg`` up to the next ``;``; ``(…)`` are notes."""
    block = text.split("## Packages and layers", 1)[1].split("```", 2)[1]
    found: dict[str, str] = {}
    layer, package = "", ""
    for line in block.splitlines():
        if line.strip().startswith(("│", "▼")) or not line.strip():
            continue
        label, content = line[:17].strip(), line[17:]
        if label.split(" ")[0] in LAYER_NAMES.values():
            layer, package = label.split(" ")[0], ""
        for index, group in enumerate(re.sub(r"\([^)]*\)", "", content).split(";")):
            package = "" if index else package
            for item in filter(None, (part.strip() for part in group.split(","))):
                if "/:" in item:
                    package, _, item = item.partition("/:")
                    package, item = package + "/", item.strip()
                if item:
                    found[item if "/" in item else package + item] = layer
    return found


def _layer_table() -> dict[str, int]:
    """tools/structure_check.py's LAYERS: the layer rule the structure check enforces."""
    import ast

    tree = ast.parse((ROOT / "tools" / "structure_check.py").read_text())
    (node,) = [n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "LAYERS"]
    return ast.literal_eval(node.value)


def _layer_of(module: str, table: dict[str, int]) -> str | None:
    dotted = module.replace("/", ".")
    prefixes = [p for p in table if dotted == p or dotted.startswith(p + ".")]
    return LAYER_NAMES[table[max(prefixes, key=len)]] if prefixes else None


def test_architecture_diagram_is_the_tree_and_the_layer_rule() -> None:
    """The diagram names every module once, in the layer the structure check holds it to; every
    entry of the check's LAYERS table is a module or package that exists."""
    diagram = _diagram_layers(ARCHITECTURE.read_text(encoding="utf-8"))
    assert sorted(set(diagram) ^ _tree_modules()) == []
    table = _layer_table()
    assert {m: layer for m, layer in diagram.items() if _layer_of(m, table) != layer} == {}
    base = ROOT / "src" / "convcli"
    stale = [
        k
        for k in table
        if not (base / k.replace(".", "/")).is_dir() and not (base / f"{k.replace('.', '/')}.py").exists()
    ]
    assert stale == []


def test_architecture_table_lists_each_package_exactly() -> None:
    """Each row of the package table names exactly the modules in that folder."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)/` \| ([^|]+) \|", text, re.M))
    rows[""] = re.search(r"^\| \(top\) \| ([^|]+) \|", text, re.M).group(1)
    rows.pop("locale")
    packages = {m.split("/")[0] if "/" in m else "" for m in _tree_modules()}
    assert set(rows) == packages
    for package, cell in rows.items():
        listed = {f"{package}/{name}" if package else name for name in re.findall(r"`(\w+)`", cell)}
        actual = {m for m in _tree_modules() if (m.split("/")[0] if "/" in m else "") == package}
        assert listed == actual, package
