"""The ``convcli`` command line: parse arguments, call one library function, render the result.

``common`` holds the app, its error handling and the rendering helpers; ``options`` the options
several commands share; the commands live by what users do with them: ``images`` (gray, channels,
kernels, filter), ``models`` (summary, train), ``classify`` (evaluate, predict), ``inspect``
(feature-maps, weights, info), ``explain`` (the live page), ``export`` (ONNX, LiteRT,
SavedModel) and ``daemon`` (the warm daemon). Importing those modules registers their commands
on ``app``, in the order ``--help`` lists them.
"""

from __future__ import annotations

from . import images, models  # isort: skip (registration order is --help's order)
from . import classify, inspect  # isort: skip
from . import explain  # isort: skip
from . import export  # isort: skip
from . import daemon  # isort: skip
from .common import app

__all__ = ["app", "classify", "daemon", "explain", "export", "images", "inspect", "models"]
