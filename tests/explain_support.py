"""Shared by the explain tests: small models trained once per run, and a server in a thread.

Models are trained once per test run and shared by pytest-xdist workers through a file lock
(the pattern pytest-xdist documents for session-wide fixtures).
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from conftest import made_once

TRAINING = {
    # name: (spec or None for the preset of that name, dataset, training images, epochs);
    # the cnn preset reaches about 97% on MNIST's test set this way (4 s on 2 cores)
    "cnn": (None, "mnist", 20_000, 2),
    "softmax": (None, "mnist", 0, 0),  # untrained: its weights are still the templates shown
    "cnn-untrained": (None, "mnist", 0, 0),  # the cnn preset's layers, for the server's own checks (fast)
    "mlp-small": ("flatten,dense(64),dense(10)", "mnist", 0, 0),
    "mlp-untrained": (None, "mnist", 0, 0),  # the mlp preset's layers (dropout included), untrained
    "fashion": ("flatten,dense(10)", "fashion-mnist", 20_000, 2),
}


def train(name: str, path: Path) -> None:
    """Train preset-like model ``name`` (see TRAINING) and save it with a ``NAME.json`` record."""
    from convcli.backend import keras, seed_everything
    from convcli.datasets.idx import load_dataset
    from convcli.models.build import build_model
    from convcli.models.presets import PRESETS

    spec, dataset, count, epochs = TRAINING[name]
    spec = spec or PRESETS[name.removesuffix("-untrained")].spec
    k = keras()
    seed_everything(0)
    model = build_model(spec, name=name)
    if epochs:
        data = load_dataset(dataset)
        model.compile(optimizer=k.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        x = data.x_train[:count].astype("float32")[..., None] / 255.0
        model.fit(x, data.y_train[:count], epochs=epochs, batch_size=64, verbose=0)
    partial = path.with_name(f"{path.stem}.partial.keras")
    model.save(partial)
    path.with_suffix(".json").write_text(json.dumps({"dataset": dataset}) + "\n")
    partial.replace(path)


def trained_model(tmp_path_factory: Any, name: str) -> Path:
    """``name``'s model file, trained by whichever worker asks first."""
    return made_once(tmp_path_factory, f"explain-{name}.keras", lambda path: train(name, path))


@contextmanager
def running_server(model: Path, **options: Any) -> Iterator[Any]:
    """An :class:`ExplainServer` on a free loopback port, serving from a thread."""
    from convcli.explain.server import open_server

    server = open_server(model, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def request(
    server: Any, method: str, path: str, body: bytes | str | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request on a fresh connection: (status, headers, body)."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def post_json(server: Any, path: str, obj: Any) -> tuple[int, Any]:
    """POST a JSON body; returns (status, decoded JSON answer)."""
    status, _, body = request(server, "POST", path, json.dumps(obj), {"Content-Type": "application/json"})
    return status, json.loads(body)


def png_bytes(array: np.ndarray) -> bytes:
    """An 8-bit gray PNG of ``array``, encoded by Pillow."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    """Base64 text, as the page sends a drawing."""
    return base64.b64encode(data).decode("ascii")


def drawn_zero() -> np.ndarray:
    """A 280×280 white-on-black ellipse, stroke 20, as the page's canvas would hold a drawn 0."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(image).ellipse((70, 45, 210, 235), outline=255, width=20)
    return np.asarray(image)


def first_test_index(labels: np.ndarray, label: int, accept: Callable[[int], bool] | None = None) -> int:
    """The first test image with ``label`` (and passing ``accept``)."""
    for i in np.flatnonzero(labels == label):
        if accept is None or accept(int(i)):
            return int(i)
    raise AssertionError(f"no test image of class {label}")
