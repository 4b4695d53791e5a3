"""Property-based fuzzing of every parser and loader: nothing may raise but ConvcliError.

Each parser gets at least 2,000 generated cases (``FUZZ_CASES``); every test counts its cases
and prints a line such as ``fuzz kernel-text: 2000 cases in 1.3 s`` (``pytest -s`` shows it).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import idx_header, png_claiming
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from convcli.datasets.idx import parse_idx
from convcli.errors import ConvcliError
from convcli.filtering.kernels import load_kernel, parse_kernel
from convcli.imaging.decoding import open_picture
from convcli.imaging.images import read_input
from convcli.models.layerspec import parse_spec

pytestmark = pytest.mark.slow  # 12 parsers × 2,000 cases: about a minute (`make test-slow`)
FUZZ_CASES = int(os.environ.get("CONVCLI_FUZZ_CASES", "2000"))
# Under CI the examples are derandomized, so a landing never hangs on a newly drawn case; locally
# every run explores new ones (set CI=1 to reproduce CI's).
FUZZ = settings(
    max_examples=FUZZ_CASES,
    deadline=None,
    database=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=list(HealthCheck),
)


def run_fuzz(name: str, strategy: st.SearchStrategy, check: Callable[[Any], None], *, cases: int = FUZZ_CASES) -> None:
    """Run ``check`` on ``cases`` values drawn from ``strategy``, count them, assert that many ran
    and print the figure."""
    count = 0

    @settings(FUZZ, max_examples=cases)
    @given(strategy)
    def case(value: Any) -> None:
        nonlocal count
        count += 1
        check(value)

    started = time.monotonic()
    case()
    print(f"\nfuzz {name}: {count} cases in {time.monotonic() - started:.1f} s")
    assert count >= cases


def result_or_error(source: str, read: Callable[[], Any]) -> Any:
    """``read()``'s result, or None when it raises a ConvcliError whose message starts with
    ``source``; any other exception, or an error that names something else, fails the test."""
    try:
        return read()
    except ConvcliError as exc:
        assert exc.message.startswith(source), exc.message
        return None


# --------------------------------------------------------------------------- kernel / matrix text

number = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        [
            "1e400",
            "-1e400",
            "1e38",
            "3.5e38",
            "nan",
            "inf",
            "-0",
            "1/0",
            "1/3",
            "0x10",
            "1_000",
            "٣",
            "1e",
            "--1",
            "+.5",
            "1/2/3",
            "1,5",
            " ",
            "",
            "NaN",
        ]
    ),
    st.text(max_size=6),
)
separator = st.sampled_from([" ", "\t", ",", ", ", "  ", " ,\t", "\u00a0", "\u3000", ";"])
line_end = st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\n\r\n", "\u2028", "\x0b"])
row = st.lists(number, min_size=0, max_size=6).flatmap(lambda cells: separator.map(lambda sep: sep.join(cells)))
extra_line = st.sampled_from(
    ["# name: k", "# description: d", "bias: 1", "bias: x", "bias:", "# comment", "", "bias: 1e400", "#", "# name:"]
)
kernel_text = st.tuples(
    st.sampled_from(["", "\ufeff", "\ufeff\ufeff"]),
    st.lists(st.one_of(row, extra_line, st.text(max_size=20)), max_size=12),
    line_end,
    st.integers(0, 3),
).map(lambda t: t[0] + t[2].join(t[1]) + t[2] * t[3])


def check_kernel_text(text: str) -> None:
    kernel = result_or_error("fuzz.txt", lambda: parse_kernel(text, "fuzz.txt"))
    if kernel is None:
        return
    assert kernel.weights.ndim in (2, 3) and kernel.weights.dtype == np.float32
    assert np.all(np.isfinite(kernel.weights))
    assert max(kernel.weights.shape[:2]) <= 64


def test_fuzz_kernel_text_structured() -> None:
    run_fuzz("kernel-text", kernel_text, check_kernel_text)


def test_fuzz_kernel_text_random() -> None:
    run_fuzz("kernel-random-text", st.text(max_size=300), check_kernel_text)


def test_fuzz_kernel_files_bytes(tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("kernels") / "k.txt"

    def check(data: bytes) -> None:
        path.write_bytes(data)
        result_or_error(str(path), lambda: load_kernel(str(path)))
        result_or_error(str(path), lambda: read_input(path))  # the same bytes as a matrix input

    run_fuzz(
        "kernel-file-bytes",
        st.one_of(
            st.binary(max_size=300),
            kernel_text.map(lambda t: t.encode("utf-8", "replace")),
            st.integers(1, 5000).map(lambda n: b"1 " * n + b"\n"),
        ),
        check,
    )


# --------------------------------------------------------------------------- layer specs

spec_token = st.one_of(
    st.sampled_from(
        ["conv", "pool", "avgpool", "gap", "flatten", "dense", "dropout", "batchnorm", "convv", "Conv2D", "bn", ""]
    ),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=8),
)
spec_arg = st.one_of(
    st.integers(-5, 100).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        [
            "same",
            "valid",
            "relu",
            "tanh",
            "x",
            "padding=same",
            "strides=2",
            "activation=relu",
            "activation=nope",
            "name=a",
            "name=a b",
            "rate=0.5",
            "=3",
            "units=10",
            "size=2",
            "()",
            "",
        ]
    ),
)
spec_layer = st.tuples(spec_token, st.one_of(st.none(), st.lists(spec_arg, max_size=4))).map(
    lambda t: t[0] if t[1] is None else f"{t[0]}({','.join(t[1])})"
)
spec_text = st.one_of(
    st.lists(spec_layer, max_size=8).map(",".join),
    st.text(alphabet="conv(),=.0123456789 ablpdfsgtnr\n", max_size=60),
    st.text(max_size=80),
)


def check_spec_text(text: str) -> None:
    specs = result_or_error("layer spec", lambda: parse_spec(text))
    assert specs is None or specs  # a spec that parses has at least one layer


def test_fuzz_layer_spec_parser() -> None:
    run_fuzz("layer-spec", spec_text, check_spec_text)


def test_fuzz_layer_spec_builds() -> None:
    """Specs that parse are built with Keras: shape errors must still be ConvcliError."""
    from convcli.models.build import build_model

    valid_layer = st.one_of(
        st.tuples(st.integers(1, 8), st.integers(1, 30), st.integers(1, 4), st.sampled_from(["valid", "same"])).map(
            lambda t: f"conv({t[0]},{t[1]},strides={t[2]},padding={t[3]})"
        ),
        st.integers(1, 30).map(lambda n: f"pool({n})"),
        st.integers(1, 30).map(lambda n: f"avgpool({n})"),
        st.sampled_from(["flatten", "gap", "batchnorm", "dropout(0.5)", "dense(4)", "dense(10)"]),
    )

    def check(text: str) -> None:
        model = result_or_error("layer spec", lambda: build_model(text))
        assert model is None or model.output_shape == (None, 10)

    run_fuzz("layer-spec-build", st.lists(valid_layer, min_size=1, max_size=6).map(",".join), check, cases=150)


# --------------------------------------------------------------------------- IDX files


idx_bytes = st.one_of(
    st.binary(max_size=64),
    st.tuples(
        st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]),
        st.lists(
            st.one_of(st.integers(0, 40), st.sampled_from([2**31, 2**32 - 1, 65536, 60000])), min_size=0, max_size=5
        ),
        st.binary(max_size=400),
    ).map(lambda t: idx_header(t[0], t[1]) + t[2]),
    st.tuples(st.lists(st.integers(1, 6), min_size=1, max_size=3), st.integers(-3, 3)).map(
        lambda t: idx_header(0x08, t[0]) + b"\x01" * max(0, int(np.prod(t[0])) + t[1])
    ),
)


def check_idx(data: bytes) -> None:
    array = result_or_error("fuzz.idx", lambda: parse_idx(data, "fuzz.idx"))
    assert array is None or array.nbytes == len(data) - 4 - 4 * array.ndim


def test_fuzz_idx_parser() -> None:
    run_fuzz("idx", idx_bytes, check_idx)


def test_fuzz_idx_folders(tmp_path_factory) -> None:
    """Whole dataset folders with one damaged file (gzip, truncated, wrong counts)."""
    from convcli.datasets.idx import IDX_FILES, load_idx_folder

    folder = tmp_path_factory.mktemp("idx")
    good = {
        "x_train": idx_header(0x08, [3, 28, 28]) + bytes(3 * 784),
        "y_train": idx_header(0x08, [3]) + bytes([1, 2, 3]),
        "x_test": idx_header(0x08, [2, 28, 28]) + bytes(2 * 784),
        "y_test": idx_header(0x08, [2]) + bytes([4, 5]),
    }

    def check(case: tuple[str, bytes, bool, int]) -> None:
        which, damaged, compress, cut = case
        for f in folder.iterdir():
            f.unlink()
        for key, data in good.items():
            payload = damaged if key == which else data
            if compress:
                payload = gzip.compress(payload)
                if key == which and cut:
                    payload = payload[: max(1, len(payload) - cut)]
            (folder / (IDX_FILES[key] + (".gz" if compress else ""))).write_bytes(payload)
        with contextlib.suppress(ConvcliError):
            load_idx_folder(folder)

    damage = st.tuples(
        st.sampled_from(list(IDX_FILES)),
        st.one_of(idx_bytes, st.binary(max_size=100)),
        st.booleans(),
        st.integers(0, 2000),
    )
    run_fuzz("idx-folder", damage, check)


# --------------------------------------------------------------------------- images

MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "PA"]
FORMATS = {
    "PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I"],
    "JPEG": ["L", "RGB", "CMYK"],
    "GIF": ["L", "P"],
    "BMP": ["1", "L", "P", "RGB"],
    "TIFF": ["1", "L", "RGB", "RGBA", "CMYK", "I;16", "F"],
    "WEBP": ["RGB", "RGBA"],
    "PPM": ["L", "RGB"],
}


@st.composite
def image_bytes(draw):  # type: ignore[no-untyped-def]
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    mode = draw(st.sampled_from(FORMATS[fmt]))
    w, h = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    image = base.convert(mode) if mode not in ("I;16", "I", "F") else base.convert("L").convert(mode)
    buffer = io.BytesIO()
    if fmt == "GIF" and draw(st.booleans()):
        frames = [image, base.convert("P")]
        frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    else:
        try:
            image.save(buffer, format=fmt)
        except (OSError, ValueError, KeyError):
            base.save(buffer, format="PNG")
    data = buffer.getvalue()
    mutation = draw(st.sampled_from(["none", "truncate", "flip", "zero", "header"]))
    if mutation == "truncate":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    elif mutation == "flip" and data:
        arr = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(arr) - 1))
            arr[i] = draw(st.integers(0, 255))
        data = bytes(arr)
    elif mutation == "zero":
        data = b""
    elif mutation == "header":
        data = data[:24] + draw(st.binary(max_size=40))
    return data


def check_image(data: bytes) -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        array = result_or_error("fuzz.img", lambda: open_picture(data, "fuzz.img", max_pixels=10_000).values())
    assert not caught, [str(w.message) for w in caught]  # nothing may leak onto stderr
    if array is None:
        return
    assert array.dtype == np.float32 and array.ndim in (2, 3)
    assert array.ndim == 2 or array.shape[2] == 3
    assert np.all(np.isfinite(array))


def test_fuzz_image_decoder() -> None:
    bombs = st.tuples(
        st.integers(0, 2**31 - 1),
        st.integers(0, 2**31 - 1),
        st.sampled_from([1, 8, 16]),
        st.sampled_from([0, 2, 3, 4, 6]),
    ).map(lambda t: png_claiming(t[0], t[1], bit_depth=t[2], colour=t[3]))
    run_fuzz("image", st.one_of(image_bytes(), st.binary(max_size=200), bombs), check_image)


def bmp_4x4() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 20, 30)).save(buffer, format="BMP")
    return buffer.getvalue()


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".gif", ""])
def test_image_under_a_wrong_image_suffix_is_read_by_content(tmp_path, suffix: str) -> None:
    path = tmp_path / f"img{suffix}"
    path.write_bytes(bmp_4x4())
    np.testing.assert_array_equal(read_input(path), np.full((4, 4, 3), (10, 20, 30), dtype=np.float32))


@pytest.mark.parametrize(
    ("suffix", "data", "fragment"),
    [
        (".npy", bmp_4x4(), "not a valid .npy file"),
        (".txt", b"\x00\xff\x10", "not a text file (byte 1 is not UTF-8)"),
    ],
)
def test_wrong_bytes_for_a_raw_suffix_is_a_clear_error(tmp_path, suffix: str, data: bytes, fragment: str) -> None:
    path = tmp_path / f"img{suffix}"
    path.write_bytes(data)
    with pytest.raises(ConvcliError) as info:
        read_input(path)
    assert info.value.message.startswith(f"{path}: {fragment}")


def test_decompression_bomb_refused_before_decoding() -> None:
    with pytest.raises(ConvcliError, match="over the limit"):
        open_picture(png_claiming(100_000, 100_000), "bomb.png")


def test_npy_fuzz(tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("npy") / "a.npy"

    def check(item: bytes | tuple[list[int], str, int]) -> None:
        if isinstance(item, bytes):
            path.write_bytes(b"\x93NUMPY" + item)
        else:
            shape, dtype, cut = item
            buffer = io.BytesIO()
            arr = np.zeros(shape, dtype=dtype) if dtype != "O" else np.array([None] * 2, dtype=object)
            np.save(buffer, arr, allow_pickle=True)
            data = buffer.getvalue()
            path.write_bytes(data[: len(data) - cut] if cut else data)
        result_or_error(str(path), lambda: read_input(path))

    arrays = st.tuples(
        st.lists(st.integers(0, 5), max_size=4), st.sampled_from(["f4", "u1", "c8", "U3", "?", "O"]), st.integers(0, 40)
    )
    run_fuzz("npy", st.one_of(st.binary(max_size=200), arrays), check)
