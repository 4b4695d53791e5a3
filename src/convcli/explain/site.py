"""``convcli explain MODEL --export-site DIR``: the explain page as a static site that runs the model
in the browser, for any static host (GitHub Pages, a course server, ``python -m http.server``).

The site is the packaged page (``static/``: the same ``index.html``, ``app.js`` and
``style.css`` the server sends) plus ``engine.js``, which answers the page's three API
requests in the browser with the same JSON as the server (a forward pass in float64 JavaScript,
the lecture's arithmetic, and ``predict``'s preparation of drawings and photos), and the model:
``model.json`` (what ``GET /api/model`` answers, the layers, how pictures are prepared) and
``weights.bin`` (every weight, little-endian float32). No other host is ever asked for anything.

Why a JavaScript forward pass and not onnxruntime-web: onnxruntime-web 1.22's smallest runtime
is an 11.2 MB WebAssembly file (the whole site for the ``cnn`` preset is about 0.4 MB), and the
page already writes out each layer's arithmetic, which a few hundred lines of JavaScript compute.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import input_error, work_error
from ..i18n import tr
from .probe import Explainer
from .sitemodel import engine_layers

FORMAT = "convcli-explain-site/1"
"""The ``format`` of ``model.json``; the engine refuses others."""
CSP = "default-src 'self'; img-src 'self' data: blob:; object-src 'none'"
"""The site's Content-Security-Policy (a ``<meta>``: a static host sends no headers of ours):
nothing from another host, the same policy the server sends."""
SERVED_NOTE = re.compile(r'\s*<p data-i18n id="footer-served">.*?</p>', re.DOTALL)
"""The page's footer line for the server; the site shows its own (``footer-static``, translated alike)."""
SITE_SCRIPTS = ("prepare.js", "engine.js")
"""Packaged scripts the server never sends: the site's engine, loaded before ``app.js``."""


@dataclass
class SiteExport:
    """What :func:`export_site` wrote: the folder, each file's size in bytes, the model's parameters."""

    path: Path
    files: dict[str, int] = field(default_factory=dict)
    params: int = 0
    layers: int = 0

    @property
    def total_bytes(self) -> int:
        return sum(self.files.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "files": self.files,
            "total_bytes": self.total_bytes,
            "params": self.params,
            "layers": self.layers,
        }


def site_manifest(explainer: Explainer, weights: bytes, layers: list[dict[str, Any]]) -> dict[str, Any]:
    """``model.json``: the page's ``/api/model`` answer, the engine's layers and the input rules."""
    return {
        "format": FORMAT,
        "info": explainer.model_info(),
        "input": {
            "height": explainer.height,
            "width": explainer.width,
            "channels": explainer.channels,
            "shape": list(explainer.input_shape),
            "raw_pixels": bool(explainer.raw_pixels),
            "preparation": explainer.preparation,
            "paper": explainer.paper,
        },
        "map_layers": [layer.name for layer in explainer.map_layers],
        "layers": layers,
        "weights": {"file": "weights.bin", "floats": len(weights) // 4, "sha256": hashlib.sha256(weights).hexdigest()},
    }


def site_page(html: str) -> str:
    """The packaged ``index.html`` for the site: the engine loaded before the page's script, the
    CSP as a ``<meta>``, and a footer that says the model runs in the browser."""
    script = re.search(r'<script src="app\.js"[^>]*></script>', html)
    if script is None:
        raise work_error(tr("the packaged index.html has no app.js script tag (a broken installation)"))
    engine = "".join(f'<script src="{name}" defer></script>\n  ' for name in SITE_SCRIPTS)
    html = html[: script.start()] + engine + html[script.start() :]
    html = html.replace(
        '<meta charset="utf-8">',
        f'<meta charset="utf-8">\n  <meta http-equiv="Content-Security-Policy" content="{CSP}">',
        1,
    )
    html, served = SERVED_NOTE.subn("", html, count=1)
    if not served or '<p data-i18n id="footer-static" hidden>' not in html:
        raise work_error(tr("the packaged index.html has no footer notes (a broken installation)"))
    return html.replace('<p data-i18n id="footer-static" hidden>', '<p data-i18n id="footer-static">', 1)


def _check_target(out: Path, force: bool, model_path: str | os.PathLike[str]) -> None:
    """Refuse (before any work) a ``out_dir`` that is a file, has no parent folder, is a
    non-empty folder (unless ``force``), holds the current folder (``.``, ``..``: it cannot be
    renamed away) or holds the model itself (replacing it would delete the model)."""
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise input_error(tr("out_dir {out}: its folder {parent} does not exist").format(out=out, parent=parent))
    if out.exists() and not out.is_dir():
        raise input_error(tr("out_dir {out}: is a file, not a folder").format(out=out))
    where = out.resolve()
    if where == Path.cwd().resolve() or where in Path.cwd().resolve().parents:
        raise input_error(
            tr("out_dir {out}: is the current folder or holds it; give a new folder such as site/").format(out=out)
        )
    if where in Path(model_path).resolve().parents:
        message = tr(
            "out_dir {out}: holds the model {model}, which replacing the folder would delete; give another folder"
        )
        raise input_error(message.format(out=out, model=model_path))
    if out.is_dir() and any(out.iterdir()) and not force:
        raise input_error(tr("out_dir {out}: the folder is not empty (force=True replaces it)").format(out=out))


def _write_files(folder: Path, files: dict[str, bytes]) -> dict[str, int]:
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: len(data) for name, data in files.items()}


def _replace(tmp: Path, out: Path) -> None:
    """Move the finished ``tmp`` folder to ``out``; an existing ``out`` goes only once it is complete."""
    old = None
    try:
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
    except OSError:
        if old is not None and (old / out.name).exists():
            os.replace(old / out.name, out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def site_files(model_path: str | os.PathLike[str]) -> tuple[dict[str, bytes], Explainer]:
    """Every file of the site for ``model_path``, by name (nothing written)."""
    explainer = Explainer.from_file(model_path)
    layers, weights = engine_layers(explainer.model)
    manifest = site_manifest(explainer, weights, layers)
    folder = resources.files(__package__) / "static"
    files = {item.name: item.read_bytes() for item in folder.iterdir() if item.is_file()}
    files["index.html"] = site_page(files["index.html"].decode("utf-8")).encode("utf-8")
    files["model.json"] = json.dumps(manifest, allow_nan=False, separators=(",", ":")).encode("utf-8")
    files["weights.bin"] = weights
    return files, explainer


def export_site(
    model_path: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, force: bool = False
) -> SiteExport:
    """Write the explain page for ``model_path`` as a static site in ``out_dir`` (made if missing).

    Written to a temporary folder beside ``out_dir`` and renamed into place when complete: an
    interrupted export leaves nothing half-written. A non-empty ``out_dir`` is refused unless
    ``force`` (then replaced whole). A model with a layer the engine cannot run is refused,
    naming the layer.
    """
    out = Path(out_dir)
    _check_target(out, force, model_path)
    files, explainer = site_files(model_path)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent if str(out.parent) else "."))
    except OSError as exc:
        raise work_error(
            tr("out_dir {out}: cannot write beside it ({detail})").format(out=out, detail=exc.strerror or exc)
        ) from None
    try:
        sizes = _write_files(tmp, files)
        tmp.chmod(0o755)
        _replace(tmp, out)
    except OSError as exc:
        raise work_error(
            tr("out_dir {out}: cannot write the site ({detail})").format(out=out, detail=exc.strerror or exc)
        ) from None
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
    model = explainer.model
    return SiteExport(out, sizes, int(model.count_params()), len(model.layers))
