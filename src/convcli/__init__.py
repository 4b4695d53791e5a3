"""convcli: a CNN lecture's ideas as a library and a command line.

Images as matrices (:mod:`convcli.images`, :mod:`convcli.color`), kernels
(:mod:`convcli.kernels`) applied through a single Keras Conv2D layer
(:mod:`convcli.convolution`, :mod:`convcli.filtering`), and MNIST classifiers.
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
    "read_image": "images",
    "read_matrix": "images",
    "read_input": "images",
    "load_sample": "samples",
    "write_array": "images",
    "to_uint8": "images",
    "to_gray": "color",
    "channel_planes": "color",
    "gray_file": "jobs",
    "channels_file": "jobs",
    "Kernel": "kernels",
    "load_kernel": "kernels",
    "list_kernels": "kernels",
    "parse_kernel": "kernels",
    "parse_matrix_text": "textformat",
    "format_matrix": "textformat",
    "Convolver": "convolution",
    "convolve": "convolution",
    "output_size": "convolution",
    "filter_images": "filtering",
}


def __getattr__(name: str) -> Any:
    """Import the public names lazily, so ``import convcli`` stays fast."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'convcli' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)


__all__ = sorted(_EXPORTS)
