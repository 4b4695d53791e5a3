"""Structure figures for src/convcli: long functions, long modules, private cross-module imports, cycles,
and imports that run up the layers of ARCHITECTURE.md (the LAYERS table below).
usage: structure_check.py SRC_DIR   (prints one line per finding, then a summary line; exit 1 if any)

Copied from ../shared/tools/structure_check.py and extended with the layer rule (issue 22)."""

import ast
import os
import sys
from collections import defaultdict

root = sys.argv[1]
pkg = os.path.basename(root.rstrip("/"))
mods = {}
for dp, _, fs in os.walk(root):
    for f in fs:
        if f.endswith(".py"):
            p = os.path.join(dp, f)
            rel = os.path.relpath(p, os.path.dirname(root))[:-3].replace(os.sep, ".")
            mods[rel.removesuffix(".__init__")] = p
find = []
graph = defaultdict(set)
for name, p in mods.items():
    with open(p) as handle:
        src = handle.read()
    tree = ast.parse(src)
    n = len(src.splitlines())
    if n > 400:
        find.append(f"module {name}: {n} lines")
    typing_only = set()  # imports under `if TYPE_CHECKING:` (no run-time edge for the layer rule)
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            typing_only.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body  # the body: signature and docstring don't count
            if (
                len(body) > 1
                and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
            ):
                body = body[1:]
            ln = node.end_lineno - body[0].lineno + 1
            if ln > 60:
                find.append(f"function {name}.{node.name}: {ln} lines")
        if isinstance(node, ast.ImportFrom) and id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                if not p.endswith("__init__.py"):
                    parts = parts[:-1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            if base.startswith(pkg):
                tgt = base if base in mods else None
                for a in node.names:
                    full = f"{base}.{a.name}"
                    if full in mods:
                        graph[name].add(full)
                    elif tgt:
                        graph[name].add(tgt)
                    if a.name.startswith("_") and not a.name.startswith("__") and tgt and tgt != name:
                        find.append(f"private import: {name} takes {a.name} from {tgt}")
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(pkg) and a.name in mods:
                    graph[name].add(a.name)
# cycles (Tarjan)
idx, low, st, on, out, c = {}, {}, [], set(), [], [0]


def sc(v):
    idx[v] = low[v] = c[0]
    c[0] += 1
    st.append(v)
    on.add(v)
    for w in graph[v]:
        if w not in idx:
            sc(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            out.append(sorted(comp))


sys.setrecursionlimit(10000)
for v in list(mods):
    if v not in idx:
        sc(v)
for comp in out:
    # a package __init__ that re-exports its submodules is not a cycle worth naming
    find.append("import cycle: " + " <-> ".join(comp))
# The layers of ARCHITECTURE.md, top (CLI) to bottom: a module may import its own layer and those
# below it, never one above. Keys are module-name prefixes under the package; the longest wins.
LAYERS = {
    "cli": 4,
    "entry": 4,
    "__main__": 4,
    "jobs": 3,
    "batches": 3,
    "batches.events": 2,
    "batches.inputs": 2,
    "datasets.digitfolders": 3,
    "filtering.pipeline": 3,
    "training.run": 3,
    "prediction.predict": 3,
    "prediction.seen": 3,
    "models.inspection": 3,
    "explain.server": 3,
    "explain.probe": 3,
    "daemon": 4,
    "models.export": 3,
    "models.runtime": 2,
    "filtering": 2,
    "models": 2,
    "training": 2,
    "prediction": 2,
    "explain": 3,
    "explain.arithmetic": 2,
    "explain.sitemodel": 2,
    "imaging.color": 2,
    "plots": 2,
    "imaging": 1,
    "datasets": 1,
    "outputs": 1,
    "errors": 0,
    "backend": 0,
    "suggest": 0,
    "i18n": 0,
    "pofile": 0,
}
NAMES = {4: "CLI", 3: "jobs", 2: "domain", 1: "I/O", 0: "everywhere"}


def layer_of(module):
    rel = module.removeprefix(pkg).lstrip(".")
    best = None
    for prefix, number in LAYERS.items():
        if (rel == prefix or rel.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, number)
    return None if best is None else best[1]


for src in sorted(graph):
    for dst in sorted(graph[src]):
        a, b = layer_of(src), layer_of(dst)
        if a is not None and b is not None and b > a:
            find.append(f"import up the layers: {src} ({NAMES[a]}) imports {dst} ({NAMES[b]})")
unplaced = sorted(
    m
    for m in mods
    if m != pkg
    and not m.endswith("__init__")
    and layer_of(m) is None
    and m.rpartition(".")[2] not in ("__init__",)
    and mods[m].endswith(".py")
    and not mods[m].endswith("__init__.py")
)
for m in unplaced:
    find.append(f"module {m} has no layer in LAYERS")
for f in find:
    print(f)
print(f"{len(mods)} modules; {len(find)} structure findings")
sys.exit(1 if find else 0)
