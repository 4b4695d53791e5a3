"""convcli: a CNN lecture's ideas as a library and a command line.

Images as matrices (:mod:`convcli.imaging.images`, :mod:`convcli.imaging.color`), kernels
(:mod:`convcli.filtering.kernels`) applied through a single Keras Conv2D layer
(:mod:`convcli.filtering.convolution`, :mod:`convcli.filtering.pipeline`), and MNIST classifiers.
Importing this package is cheap: Keras/TensorFlow load only when a function needs them.

Example::

    import convcli
    x = convcli.read_matrix("examples/lecture-5x5.txt")
    convcli.convolve(x, convcli.load_kernel("sharpen"))[0]   # [[266, -61, -30], ...]
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # typing itself costs 10-30 ms of every call's start-up (see daemon/client.py)
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "ConvcliError": "errors",
    "read_image": "imaging.images",
    "read_matrix": "imaging.images",
    "read_input": "imaging.images",
    "load_sample": "imaging.samples",
    "write_array": "imaging.images",
    "to_uint8": "imaging.images",
    "to_gray": "imaging.color",
    "channel_planes": "imaging.color",
    "gray_file": "jobs",
    "channels_file": "jobs",
    "Kernel": "filtering.kernels",
    "load_kernel": "filtering.kernels",
    "list_kernels": "filtering.kernels",
    "parse_kernel": "filtering.kernels",
    "parse_matrix_text": "imaging.textformat",
    "format_matrix": "imaging.textformat",
    "Convolver": "filtering.convolution",
    "convolve": "filtering.convolution",
    "output_size": "filtering.convolution",
    "filter_images": "filtering.pipeline",
}


def __getattr__(name: str) -> Any:
    """Import the public names lazily, so ``import convcli`` stays fast."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'convcli' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)


__all__ = sorted(_EXPORTS)
