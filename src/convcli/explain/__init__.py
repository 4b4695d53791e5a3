"""``convcli explain``: a local web page that shows a trained model working on a drawn digit.

:mod:`.probe` runs the model (probabilities, feature maps, one unit's arithmetic) and returns
plain values; :mod:`.arithmetic` writes out one output pixel's sum in NumPy; :mod:`.server`
serves the packaged page (``static/``) and the JSON API. Importing this package is cheap:
Keras loads only when a model does.

Example::

    from convcli.explain import Explainer
    explainer = Explainer.from_file("cnn.keras")
    explainer.predict(pixels=digit)["prediction"]       # digit: 28×28 values 0–255
"""

from __future__ import annotations

from typing import Any

__all__ = ["Explainer", "class_names_for"]


def __getattr__(name: str) -> Any:
    """``Explainer`` and ``class_names_for`` from :mod:`.probe`, imported on first use (lazy package)."""
    if name in __all__:
        from . import probe

        return getattr(probe, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
