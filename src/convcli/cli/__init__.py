"""The ``convcli`` command line: parse arguments, call one library function, render the result.

``common`` holds the app, its error handling and the rendering helpers; ``options`` the options
several commands share; the commands live by what users do with them: ``images`` (gray, channels,
kernels, filter), ``models`` (summary, train, evaluate, predict) and ``inspect`` (feature-maps,
weights, info) and ``explain`` (the live page). Importing those modules registers their commands on ``app``.
"""

from __future__ import annotations

from . import explain, images, inspect, models
from .common import app

__all__ = ["app", "explain", "images", "inspect", "models"]
