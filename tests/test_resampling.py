"""The numpy pieces of the digit preparation equal the SciPy/scikit-image calls they replace, bit for bit.

convcli.prediction.resampling and .components repeat, in numpy, the few library calls that finding
a digit's ink made (so that ``predict model.onnx`` imports neither SciPy nor scikit-image). Each is
compared here with the library on many random pictures: sizes from 1×1, ties, every scale; and the
whole preparation is compared with the one built from the library calls themselves.
"""

from __future__ import annotations

import numpy as np
import pytest
from digit_photos import Look, machine_fonts, mnist_glyph, number_glyph, photo_set, photograph

from convcli.prediction import components, resampling

CASES = 200


def pictures(rng: np.random.Generator, count: int = CASES) -> list[np.ndarray]:
    """Random float pictures 1×1 to 90×90: uniform gray levels, coarse levels with many ties, and
    smooth ones (like a lit sheet of paper)."""
    out = []
    for i in range(count):
        h, w = (int(v) for v in rng.integers(1, 91, 2))
        picture = rng.uniform(0, 255, (h, w))
        if i % 3 == 1:
            picture = np.round(picture / 60)  # many equal neighbours
        elif i % 3 == 2:
            y, x = np.mgrid[0:h, 0:w]
            picture = 200 + 30 * np.sin(x / 7.0) * np.cos(y / 5.0) + rng.normal(0, 2, (h, w))
        out.append(picture)
    return out


def same(got: np.ndarray, expected: np.ndarray) -> bool:
    """Equal in shape, dtype and every bit of every value."""
    got, expected = np.asarray(got), np.asarray(expected)
    return got.shape == expected.shape and got.dtype == expected.dtype and got.tobytes() == expected.tobytes()


def test_median3_is_scipys_median_filter(rng) -> None:
    from scipy import ndimage

    for picture in pictures(rng):
        expected = ndimage.median_filter(picture, footprint=np.ones((3, 3)), mode="nearest", cval=0.0)
        assert same(resampling.median3(picture), expected), picture.shape
    assert resampling.median3(np.arange(1.0, 10.0).reshape(3, 3))[1, 1] == 5.0


def test_maximum_filter_is_scipys(rng) -> None:
    from scipy import ndimage

    for picture in pictures(rng):
        size = int(rng.integers(1, 40))  # also larger than the picture: the mirror folds again
        assert same(resampling.maximum_filter(picture, size), ndimage.maximum_filter(picture, size=size))


def test_rescale_is_scikit_images(rng) -> None:
    """Shrinking with and without the anti-aliasing Gaussian, by any factor (1 included)."""
    from skimage.transform import rescale

    for picture in pictures(rng):
        scale = float(rng.choice([1.0, rng.uniform(0.02, 1.0)]))
        for smooth in (True, False):
            expected = rescale(picture, scale, anti_aliasing=smooth, preserve_range=True)
            assert same(resampling.rescale(picture, scale, anti_aliasing=smooth), expected), (picture.shape, scale)


def test_resize_is_scikit_images(rng) -> None:
    """Up, down and mixed, with scikit-image's own choice of anti-aliasing (None) and both forced."""
    from skimage.transform import resize

    for picture in pictures(rng):
        shape = (int(rng.integers(1, 200)), int(rng.integers(1, 200)))
        for smooth in (None, True, False):
            expected = resize(picture, shape, order=1, preserve_range=True, anti_aliasing=smooth)
            assert same(resampling.resize(picture, shape, anti_aliasing=smooth), expected), (picture.shape, shape)


def test_a_large_photo_shrinks_like_scikit_images(rng) -> None:
    """The working picture's shrink of a 2,600 px photo (σ ≈ 0.8) and the paper's to 64 px (σ ≈ 20)."""
    from skimage.transform import rescale

    x = np.mgrid[0:1900, 0:2600][1]
    photo = 180 + 40 * np.sin(x / 300.0) + rng.normal(0, 8, x.shape)
    for scale in (1024 / 2600, 64 / 2600):
        expected = rescale(photo, scale, anti_aliasing=True, preserve_range=True)
        assert same(resampling.rescale(photo, scale, anti_aliasing=True), expected)


def test_threshold_otsu_is_scikit_images(rng) -> None:
    from skimage.filters import threshold_otsu

    for picture in pictures(rng):
        if np.ptp(picture) > 0:
            assert same(components.threshold_otsu(picture), threshold_otsu(picture))
    assert components.threshold_otsu(np.full((3, 3), 7.0)) == 7.0


def masks(rng: np.random.Generator) -> list[np.ndarray]:
    """Random masks of every density, and shapes that defeat a quick labelling: a spiral, stripes
    joined only at corners, a checkerboard (8-connected: one component; 4-connected: every pixel)."""
    shapes = [tuple(int(v) for v in rng.integers(1, 91, 2)) for _ in range(CASES)]
    out = [rng.uniform(size=shape) < rng.uniform(0.05, 0.8) for shape in shapes]
    spiral = np.zeros((41, 41), dtype=bool)
    top, left, bottom, right = 0, 0, 40, 40
    while top <= bottom and left <= right:
        spiral[top, left : right + 1] = spiral[top : bottom + 1, right] = True
        spiral[bottom, left : right + 1] = True
        spiral[top + 2 : bottom + 1, left] = True
        top, left, bottom, right = top + 2, left + 2, bottom - 2, right - 2
    diagonal = np.eye(30, dtype=bool) | np.eye(30, k=2, dtype=bool)
    checker = (np.indices((25, 31)).sum(axis=0) % 2).astype(bool)
    return [*out, spiral, diagonal, checker, np.zeros((4, 5), bool), np.ones((6, 3), bool)]


def test_label_numbers_components_like_scikit_image(rng) -> None:
    from skimage.measure import label

    for mask in masks(rng):
        for connectivity in (1, 2):
            expected = label(mask, connectivity=connectivity).astype(np.int64)
            assert same(components.label(mask, connectivity), expected), (mask.shape, connectivity)


def test_hysteresis_is_scikit_images(rng) -> None:
    from skimage.filters import apply_hysteresis_threshold

    for picture in pictures(rng):
        low, high = sorted(rng.uniform(picture.min(), picture.max() + 1, 2))
        expected = apply_hysteresis_threshold(picture, low, high)
        assert same(components.apply_hysteresis_threshold(picture, low, high), expected)
        swapped = apply_hysteresis_threshold(picture, high, low)  # low above high: clipped to it
        assert same(components.apply_hysteresis_threshold(picture, high, low), swapped)


def test_regionprops_are_scikit_images(rng) -> None:
    """Label, box, area (a float64), mean intensity and coordinates of every region, in order."""
    from skimage.measure import label, regionprops

    for mask, picture in zip(masks(rng), pictures(rng, CASES + 5)):
        labels = label(mask, connectivity=2)
        intensity = np.resize(picture, mask.shape)
        ours, theirs = components.regionprops(labels, intensity), regionprops(labels, intensity_image=intensity)
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            assert (o.label, o.bbox) == (t.label, t.bbox)
            assert same(np.float64(o.area), t.area) and same(o.intensity_mean, t.intensity_mean)
            assert same(o.coords, t.coords)


def test_a_marks_solidity_is_scikit_images(rng) -> None:
    """``predict --digits`` tells a dot from a broken stroke by its solidity, from our regions."""
    from skimage.measure import label, regionprops

    from convcli.prediction.numbers import solidity

    for mask in masks(rng):
        labels = label(mask, connectivity=2)
        for o, t in zip(components.regionprops(labels, mask.astype(float)), regionprops(labels)):
            assert solidity(o) == t.solidity


# --------------------------------------------------------------------------- the whole preparation


def use_library_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """The preparation with the library calls it made before (scikit-image and SciPy)."""
    from scipy import ndimage
    from skimage import filters, measure, transform

    from convcli.prediction import digits

    def rescale(image: np.ndarray, scale: float, anti_aliasing: bool) -> np.ndarray:
        return transform.rescale(image, scale, anti_aliasing=anti_aliasing, preserve_range=True)

    footprint = np.ones((3, 3))
    monkeypatch.setattr(digits, "median3", lambda g: ndimage.median_filter(g, footprint=footprint, mode="nearest"))
    monkeypatch.setattr(digits, "maximum_filter", lambda image, size: ndimage.maximum_filter(image, size=size))
    monkeypatch.setattr(digits, "rescale", rescale)
    monkeypatch.setattr(
        digits, "resize", lambda image, shape: transform.resize(image, shape, order=1, preserve_range=True)
    )
    monkeypatch.setattr(digits, "threshold_otsu", filters.threshold_otsu)
    monkeypatch.setattr(digits, "apply_hysteresis_threshold", filters.apply_hysteresis_threshold)
    monkeypatch.setattr(digits, "label", measure.label)
    monkeypatch.setattr(digits, "regionprops", measure.regionprops)


def photos_to_prepare() -> list[np.ndarray]:
    """40 photographed digits (fonts and drawn strokes; large ones shrunk first) and 4 numbers."""
    rng = np.random.default_rng(5)
    strokes = (rng.uniform(0, 255, (12, 28, 28)) * (rng.uniform(size=(12, 28, 28)) < 0.3)).astype(np.uint8)
    photos, _ = photo_set(40, 5, strokes, np.zeros(12, int), machine_fonts()[:2] or [])
    from PIL import Image

    big = Image.fromarray(photos[0]).resize((1500, 1300), Image.Resampling.BICUBIC)
    numbers = [
        photograph(number_glyph([mnist_glyph(s, 50) for s in strokes[k : k + 3]], 10), Look.random(rng), rng)
        for k in range(4)
    ]
    return [*photos, np.asarray(big), *numbers]


@pytest.mark.skipif(not machine_fonts()[:2], reason="needs the test fonts (`make test` installs them)")
def test_the_preparation_is_the_one_made_with_the_libraries(monkeypatch) -> None:
    """prepare_digit and prepare_number give the same bytes with the numpy pieces as with the
    SciPy/scikit-image calls put in their place: the pieces on the inputs the preparation really
    gives them. The call sites' arguments are shared by both runs, so they are not checked here:
    benchmarks/preparation_digest.py compares whole preparations of two checkouts (sha256 of 200
    photographed digits, 20 numbers, 20 large photos; equal before and after issue 27's change)."""
    from convcli.errors import ConvcliError
    from convcli.prediction.predict import prepare_digit, prepare_number

    def prepared() -> list[bytes]:
        out = []
        for i, photo in enumerate(photos_to_prepare()):
            try:
                if i < 41:
                    out.append(prepare_digit(photo).tobytes())
                else:
                    marks = prepare_number(photo)[0]
                    out.append(b"".join(bytes(repr(box), "ascii") + digit.tobytes() for box, digit in marks))
            except ConvcliError as exc:
                out.append(str(exc).encode())
        return out

    ours = prepared()
    with monkeypatch.context() as patch:
        use_library_pieces(patch)
        theirs = prepared()
    assert ours == theirs
    assert sum(len(b) == 28 * 28 for b in ours) >= 30  # most are digits, not errors
