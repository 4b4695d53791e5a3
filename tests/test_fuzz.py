"""Property-based fuzzing of every parser and loader: nothing may raise but ConvcliError.

Each parser gets at least 2,000 generated cases (``FUZZ_CASES``); every test counts its cases
and prints a line such as ``fuzz kernel-text: 2000 cases in 1.3 s`` (``pytest -s`` shows it).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import struct
import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from convcli.datasets import parse_idx
from convcli.errors import ConvcliError
from convcli.images import decode_image, read_input
from convcli.kernels import parse_kernel
from convcli.layerspec import parse_spec

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


def run_counted(name: str, inner) -> int:  # type: ignore[no-untyped-def]
    """Run a hypothesis test, count its cases, assert the minimum and print the figure."""
    counter = {"n": 0}
    started = time.monotonic()
    inner(counter)
    elapsed = time.monotonic() - started
    print(f"\nfuzz {name}: {counter['n']} cases in {elapsed:.1f} s")
    assert counter["n"] >= FUZZ_CASES
    return counter["n"]


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
    try:
        kernel = parse_kernel(text, "fuzz.txt")
    except ConvcliError as exc:
        assert exc.message.startswith("fuzz.txt")
        return
    assert kernel.weights.ndim in (2, 3) and kernel.weights.dtype == np.float32
    assert np.all(np.isfinite(kernel.weights))
    assert max(kernel.weights.shape[:2]) <= 64


def test_fuzz_kernel_text_structured() -> None:
    def inner(counter):  # type: ignore[no-untyped-def]
        @FUZZ
        @given(kernel_text)
        def case(text: str) -> None:
            counter["n"] += 1
            check_kernel_text(text)

        case()

    run_counted("kernel-text", inner)


def test_fuzz_kernel_text_random() -> None:
    def inner(counter):  # type: ignore[no-untyped-def]
        @FUZZ
        @given(st.text(max_size=300))
        def case(text: str) -> None:
            counter["n"] += 1
            check_kernel_text(text)

        case()

    run_counted("kernel-random-text", inner)


def test_fuzz_kernel_files_bytes(tmp_path_factory) -> None:
    folder = tmp_path_factory.mktemp("kernels")

    def inner(counter):  # type: ignore[no-untyped-def]
        @FUZZ
        @given(
            st.one_of(
                st.binary(max_size=300),
                kernel_text.map(lambda t: t.encode("utf-8", "replace")),
                st.integers(1, 5000).map(lambda n: b"1 " * n + b"\n"),
            )
        )
        def case(data: bytes) -> None:
            counter["n"] += 1
            path = folder / "k.txt"
            path.write_bytes(data)
            from convcli.kernels import load_kernel

            with contextlib.suppress(ConvcliError):
                load_kernel(str(path))
            with contextlib.suppress(ConvcliError):
                read_input(path)  # the same bytes as a matrix input

        case()

    run_counted("kernel-file-bytes", inner)


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


def test_fuzz_layer_spec_parser() -> None:
    def inner(counter):  # type: ignore[no-untyped-def]
        @FUZZ
        @given(spec_text)
        def case(text: str) -> None:
            counter["n"] += 1
            try:
                specs = parse_spec(text)
            except ConvcliError as exc:
                assert exc.message.startswith("layer spec")
                return
            assert specs

        case()

    run_counted("layer-spec", inner)


def test_fuzz_layer_spec_builds() -> None:
    """Specs that parse are built with Keras: shape errors must still be ConvcliError."""
    from convcli.models import build_model

    built = {"n": 0}
    valid_layer = st.one_of(
        st.tuples(st.integers(1, 8), st.integers(1, 30), st.integers(1, 4), st.sampled_from(["valid", "same"])).map(
            lambda t: f"conv({t[0]},{t[1]},strides={t[2]},padding={t[3]})"
        ),
        st.integers(1, 30).map(lambda n: f"pool({n})"),
        st.integers(1, 30).map(lambda n: f"avgpool({n})"),
        st.sampled_from(["flatten", "gap", "batchnorm", "dropout(0.5)", "dense(4)", "dense(10)"]),
    )

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        derandomize=bool(os.environ.get("CI")),
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(valid_layer, min_size=1, max_size=6).map(",".join))
    def case(text: str) -> None:
        built["n"] += 1
        try:
            model = build_model(text)
        except ConvcliError as exc:
            assert exc.message.startswith("layer spec")
            return
        assert model.output_shape == (None, 10)

    case()
    print(f"\nfuzz layer-spec-build: {built['n']} cases")


# --------------------------------------------------------------------------- IDX files


def idx_header(type_code: int, dims: list[int]) -> bytes:
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d & 0xFFFFFFFF) for d in dims)


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


def test_fuzz_idx_parser() -> None:
    def inner(counter):  # type: ignore[no-untyped-def]
        @FUZZ
        @given(idx_bytes)
        def case(data: bytes) -> None:
            counter["n"] += 1
            try:
                array = parse_idx(data, "fuzz.idx")
            except ConvcliError as exc:
                assert exc.message.startswith("fuzz.idx")
                return
            assert array.nbytes == len(data) - 4 - 4 * array.ndim

        case()

    run_counted("idx", inner)


def test_fuzz_idx_folders(tmp_path_factory) -> None:
    """Whole dataset folders with one damaged file (gzip, truncated, wrong counts)."""
    from convcli.datasets import IDX_FILES, load_idx_folder

    folder = tmp_path_factory.mktemp("idx")
    good = {
        "x_train": idx_header(0x08, [3, 28, 28]) + bytes(3 * 784),
        "y_train": idx_header(0x08, [3]) + bytes([1, 2, 3]),
        "x_test": idx_header(0x08, [2, 28, 28]) + bytes(2 * 784),
        "y_test": idx_header(0x08, [2]) + bytes([4, 5]),
    }

    def inner(counter):  # type: ignore[no-untyped-def]
        @FUZZ
        @given(
            st.sampled_from(list(IDX_FILES)),
            st.one_of(idx_bytes, st.binary(max_size=100)),
            st.booleans(),
            st.integers(0, 2000),
        )
        def case(which: str, damaged: bytes, compress: bool, cut: int) -> None:
            counter["n"] += 1
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

        case()

    run_counted("idx-folder", inner)


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


def png_claiming(width: int, height: int, bit_depth: int = 8, colour: int = 0) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def check_image(data: bytes) -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            array = decode_image(data, "fuzz.img", max_pixels=10_000)
        except ConvcliError as exc:
            assert exc.message.startswith("fuzz.img")
            array = None
    assert not caught, [str(w.message) for w in caught]  # nothing may leak onto stderr
    if array is None:
        return
    assert array.dtype == np.float32 and array.ndim in (2, 3)
    assert array.ndim == 2 or array.shape[2] == 3
    assert np.all(np.isfinite(array))


def test_fuzz_image_decoder() -> None:
    def inner(counter):  # type: ignore[no-untyped-def]
        @FUZZ
        @given(
            st.one_of(
                image_bytes(),
                st.binary(max_size=200),
                st.tuples(
                    st.integers(0, 2**31 - 1),
                    st.integers(0, 2**31 - 1),
                    st.sampled_from([1, 8, 16]),
                    st.sampled_from([0, 2, 3, 4, 6]),
                ).map(lambda t: png_claiming(*t)),
            )
        )
        def case(data: bytes) -> None:
            counter["n"] += 1
            check_image(data)

        case()

    run_counted("image", inner)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".txt", ".npy", ".gif", ""])
def test_wrong_extension_is_a_clear_error(tmp_path, suffix: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 20, 30)).save(buffer, format="BMP")
    path = tmp_path / f"img{suffix}"
    path.write_bytes(buffer.getvalue() if suffix != ".txt" else b"\x00\xff\x10")
    try:
        array = read_input(path)
    except ConvcliError as exc:
        assert str(path) in exc.message
    else:
        assert array.shape[:2] == (4, 4)


def test_decompression_bomb_refused_before_decoding() -> None:
    with pytest.raises(ConvcliError, match="over the limit"):
        decode_image(png_claiming(100_000, 100_000), "bomb.png")


def test_npy_fuzz(tmp_path_factory) -> None:
    folder = tmp_path_factory.mktemp("npy")

    def inner(counter):  # type: ignore[no-untyped-def]
        @FUZZ
        @given(
            st.one_of(
                st.binary(max_size=200),
                st.tuples(
                    st.lists(st.integers(0, 5), max_size=4),
                    st.sampled_from(["f4", "u1", "c8", "U3", "?", "O"]),
                    st.integers(0, 40),
                ).map(lambda t: (t[0], t[1], t[2])),
            )
        )
        def case(item) -> None:  # type: ignore[no-untyped-def]
            counter["n"] += 1
            path = folder / "a.npy"
            if isinstance(item, bytes):
                path.write_bytes(b"\x93NUMPY" + item)
            else:
                shape, dtype, cut = item
                buffer = io.BytesIO()
                arr = np.zeros(shape, dtype=dtype) if dtype != "O" else np.array([None] * 2, dtype=object)
                np.save(buffer, arr, allow_pickle=True)
                data = buffer.getvalue()
                path.write_bytes(data[: len(data) - cut] if cut else data)
            with contextlib.suppress(ConvcliError):
                read_input(path)

        case()

    run_counted("npy", inner)
