"""skimage's bundled sample images (no download needed): the embedded default inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import input_error
from ..i18n import tr as _

if TYPE_CHECKING:
    import numpy as np

SAMPLES = (
    "astronaut",
    "brick",
    "camera",
    "cat",
    "chelsea",
    "checkerboard",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "moon",
    "page",
    "rocket",
    "text",
)
"""The names ``load_sample`` accepts (``-`` may stand for ``_``, any case)."""


def load_sample(name: str) -> np.ndarray:
    """Return one of skimage's bundled sample images as float32 0–255 (no download).

    Every sample is 8-bit except ``horse`` (a boolean silhouette: 0 or 255); ``logo``'s alpha
    channel is dropped, as for every image convcli reads.
    """
    import numpy as np

    key = name.strip().lower().replace("-", "_")
    if key not in SAMPLES:
        from ..suggest import did_you_mean

        message = _("unknown sample {name}{suggestion}; available: {choices}")
        raise input_error(
            message.format(name=repr(name), suggestion=did_you_mean(key, SAMPLES), choices=", ".join(SAMPLES))
        )
    import skimage.data

    array = np.asarray(getattr(skimage.data, key)())
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    return np.ascontiguousarray(array, dtype=np.float32)
