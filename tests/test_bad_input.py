"""Bad input to every image command: exit status, one `Error:` line, and no output file."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, write_png


def assert_error(result, fragment: str, code: int = 2) -> None:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def no_outputs(folder: Path, *keep: Path) -> bool:
    return {p for p in folder.iterdir()} <= set(keep)


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {}
    good = write_png(tmp_path / "good.png", np.full((16, 16, 3), 100))
    data = good.read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.png").write_bytes(b"hello, I am not a picture")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "ragged.txt").write_text("1 2 3\n4 5\n")
    (tmp_path / "words.txt").write_text("1 2\n3 four\n")
    (tmp_path / "nan.txt").write_text("1 2\n3 nan\n")
    (tmp_path / "inf.txt").write_text("1 inf\n3 4\n")
    (tmp_path / "tiny.txt").write_text("1 2\n3 4\n")
    for name in (
        "good.png",
        "truncated.png",
        "text.png",
        "empty.png",
        "empty.txt",
        "ragged.txt",
        "words.txt",
        "nan.txt",
        "inf.txt",
        "tiny.txt",
    ):
        files[name] = tmp_path / name
    return files


def bomb_png(path: Path, width: int, height: int) -> Path:
    """A small PNG whose header claims width×height pixels (a decompression bomb)."""
    import struct

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1) * 4)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("missing.png", "no such file"),
        ("truncated.png", "cannot decode image"),
        ("text.png", "not an image file"),
        ("empty.png", "file is empty"),
    ],
)
@pytest.mark.parametrize("command", ["filter", "gray"])
def test_bad_image_files(cli, bad_files, tmp_path, name, fragment, command) -> None:
    out = tmp_path / "out.png"
    args = ["-k", "edges"] if command == "filter" else []
    result = cli(command, tmp_path / name, *args, "-o", out)
    assert_error(result, fragment)
    assert not out.exists()


def test_channels_bad_image(cli, bad_files, tmp_path) -> None:
    outdir = tmp_path / "planes"
    outdir.mkdir()
    assert_error(cli("channels", bad_files["truncated.png"], "--out-dir", outdir), "cannot decode image")
    assert not any(outdir.iterdir())


@pytest.mark.parametrize(
    ("kernel", "fragment"),
    [
        ("empty.txt", "no numbers found"),
        ("ragged.txt", "ragged.txt, line 2: row has 2 values"),
        ("words.txt", "words.txt, line 2: 'four' is not a number"),
        ("nan.txt", "nan.txt, line 2"),
        ("inf.txt", "inf.txt, line 1"),
    ],
)
def test_bad_kernel_files(cli, bad_files, tmp_path, kernel, fragment) -> None:
    out = tmp_path / "out.png"
    result = cli("filter", bad_files["good.png"], "-k", bad_files[kernel], "-o", out)
    assert_error(result, fragment)
    assert not out.exists()


def test_unknown_kernel_name(cli, bad_files, tmp_path) -> None:
    out = tmp_path / "out.png"
    assert_error(cli("filter", bad_files["good.png"], "-k", "edgse", "-o", out), "did you mean 'edges'")
    assert not out.exists()


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        # --stride and --padding take the lecture's forms too (2x1, P): checked by the library
        ("--stride", "0", "--stride must be at least 1, got 0"),
        ("--padding", "5000", "--padding must be between 0 and 4096, got 5000"),
        ("--png-level", "10", "Invalid value for '--png-level': 10 is not in the range 0<=x<=9."),
        ("--workers", "0", "Invalid value for '--workers' / '-j': 0 is not in the range 1<=x<=64."),
        ("--max-pixels", "0", "Invalid value for '--max-pixels': 0 is not in the range x>=1."),
        ("--padding", "full", "unknown padding 'full': use valid, same or a number P (zeros on each side)"),
        ("--range", "foo", "Invalid value for '--range': 'foo' is not one of 'clip', 'rescale', 'abs', 'raw'."),
    ],
)
def test_option_values_checked_by_click(cli, bad_files, tmp_path, option, value, fragment) -> None:
    """Ranges and choices are Click's: a usage error (exit 2) ending in one `Error:` line."""
    out = tmp_path / "out.png"
    result = cli("filter", bad_files["good.png"], "-k", "edges", option, value, "-o", out)
    assert result.exit_code == 2, result.stderr
    hint = [] if option in ("--stride", "--padding") else ["Try 'convcli filter --help' for help."]  # the library's
    assert result.stderr.strip().splitlines() == [f"Error: {fragment}", *hint]
    assert result.stdout == "" and not out.exists()


def test_kernel_larger_than_image(cli, bad_files, tmp_path) -> None:
    out = tmp_path / "out.txt"
    result = cli("filter", bad_files["tiny.txt"], "-k", "box5", "-o", out)
    assert_error(result, "kernel 5×5 is larger than the image 2×2")
    assert not out.exists()


def test_output_folder_missing(cli, bad_files, tmp_path) -> None:
    out = tmp_path / "nope" / "out.png"
    assert_error(cli("filter", bad_files["good.png"], "-k", "edges", "-o", out), "does not exist")
    assert_error(cli("gray", bad_files["good.png"], "-o", out), "does not exist")
    assert_error(cli("filter", bad_files["good.png"], "-k", "edges", "--out-dir", tmp_path / "nope"), "does not exist")
    assert not (tmp_path / "nope").exists()


def test_decompression_bomb(cli, tmp_path) -> None:
    bomb = bomb_png(tmp_path / "bomb.png", 20000, 20000)
    out = tmp_path / "out.png"
    assert_error(cli("filter", bomb, "-k", "edges", "-o", out), "over the limit")
    assert_error(cli("gray", bomb, "-o", out), "over the limit")
    assert not out.exists()


def test_max_pixels_option(cli, bad_files, tmp_path) -> None:
    out = tmp_path / "out.png"
    assert_error(cli("gray", bad_files["good.png"], "-o", out, "--max-pixels", "100"), "over the limit of 100")
    assert not out.exists()


def test_mixed_kernel_sizes(cli, bad_files, tmp_path) -> None:
    out = tmp_path / "out.png"
    assert_error(cli("filter", bad_files["good.png"], "-k", "edges", "-k", "diag", "-o", out), "different sizes")
    assert not out.exists()


def test_volume_kernel_on_gray_image(cli, tmp_path) -> None:
    out = tmp_path / "o.txt"
    assert_error(
        cli("filter", EXAMPLES / "lecture-5x5.txt", "-k", "lecture-w0", "-o", out),
        "1 channel(s) but the kernel is 3×3×3",
    )


def test_output_never_overwrites_input(cli, bad_files) -> None:
    before = bad_files["good.png"].read_bytes()
    assert_error(cli("gray", bad_files["good.png"], "-o", bad_files["good.png"]), "overwrite its own input")
    assert bad_files["good.png"].read_bytes() == before


def test_failed_write_keeps_previous_output(cli, bad_files, tmp_path, monkeypatch) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"previous")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("convcli.outputs.os.replace", broken)
    result = cli("gray", bad_files["good.png"], "-o", out)
    assert_error(result, "cannot write (no space left on device); previous file left intact", 1)
    assert out.read_bytes() == b"previous"
    assert no_outputs(tmp_path, *bad_files.values(), out)


def test_raw_range_needs_raw_format(cli, bad_files, tmp_path) -> None:
    out = tmp_path / "o.png"
    assert_error(cli("filter", bad_files["good.png"], "-k", "edges", "--range", "raw", "-o", out), "range mode 'raw'")


def test_image_needs_an_output(cli, bad_files) -> None:
    assert_error(cli("filter", bad_files["good.png"], "-k", "edges"), "needs --output FILE")


def test_many_inputs_need_out_dir(cli, bad_files, tmp_path) -> None:
    assert_error(
        cli("filter", bad_files["good.png"], bad_files["good.png"], "-k", "edges", "-o", tmp_path / "x.png"),
        "need --out-dir",
    )


def test_keep_going_reports_failures_at_the_end(cli, bad_files, tmp_path) -> None:
    outdir = tmp_path / "out"
    outdir.mkdir()
    result = cli(
        "filter", bad_files["good.png"], bad_files["truncated.png"], "-k", "edges", "--out-dir", outdir, "--keep-going"
    )
    assert result.exit_code == 1
    assert (outdir / "good-edges.png").exists()
    assert not (outdir / "truncated-edges.png").exists()
    assert "Error: " in result.stderr and "1 of 2 inputs failed" in result.stderr
