"""``convcli filter`` end to end: formats, stdin/stdout, batches, JSON, samples, start-up."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, ROOT, write_png
from PIL import Image

from convcli import read_matrix

PY = sys.executable


def run(*args: str, stdin: bytes | None = None, env: dict | None = None):
    return subprocess.run(
        [PY, "-m", "convcli", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        timeout=120,
    )


def test_npy_output_is_raw_float32(cli, gray_png, tmp_path) -> None:
    out = tmp_path / "e.npy"
    assert cli("filter", gray_png, "-k", "edges", "-o", out).exit_code == 0
    arr = np.load(out)
    assert arr.dtype == np.float32 and arr.shape == (18, 15)
    assert arr.min() < 0  # raw: negative values kept


def test_range_modes(cli, gray_png, tmp_path) -> None:
    raw = tmp_path / "raw.npy"
    cli("filter", gray_png, "-k", "edges", "-o", raw)
    values = np.load(raw)
    for mode, expected in {
        "clip": np.clip(np.rint(values), 0, 255),
        "abs": np.clip(np.rint(np.abs(values)), 0, 255),
        "rescale": np.rint((values - values.min()) * 255 / (values.max() - values.min())),
    }.items():
        out = tmp_path / f"{mode}.png"
        assert cli("filter", gray_png, "-k", "edges", "--range", mode, "-o", out).exit_code == 0
        np.testing.assert_array_equal(np.asarray(Image.open(out)), expected, err_msg=mode)


def test_stdin_and_stdout_png(cli, gray_png) -> None:
    result = cli("filter", "-", "-k", "identity", "--padding", "same", "-o", "-", input=gray_png.read_bytes())
    assert result.exit_code == 0, result.stderr
    out = np.asarray(Image.open(io.BytesIO(result.stdout_bytes)))
    np.testing.assert_array_equal(out, np.asarray(Image.open(gray_png)))


def test_batch_mode_reuses_one_layer(cli, tmp_path, rng, monkeypatch) -> None:
    import convcli.filtering.convolution as conv

    builds = []
    original = conv.Convolver._build

    def counting(self):
        if self._model is None:
            builds.append(1)
        return original(self)

    monkeypatch.setattr(conv.Convolver, "_build", counting)
    inputs = [write_png(tmp_path / f"in{i}.png", rng.integers(0, 256, (10 + i, 12, 3))) for i in range(4)]
    outdir = tmp_path / "out"
    outdir.mkdir()
    result = cli("filter", *inputs, "-k", "sobel-x", "-k", "sobel-y", "--out-dir", outdir, "--json")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 8 and len(builds) == 1
    assert {r["kernel"] for r in records} == {"sobel-x", "sobel-y"}
    for r in records:
        assert Path(r["output"]).exists()
        assert set(r) == {"input", "output", "kernel", "shape", "min", "max"}
    first = next(r for r in records if r["output"].endswith("in2-sobel-x.png"))
    assert first["shape"] == [10, 10, 3]


def test_out_dir_npy_format(cli, gray_png, tmp_path) -> None:
    outdir = tmp_path / "o"
    outdir.mkdir()
    assert (
        cli("filter", gray_png, "-k", "edges", "--out-dir", outdir, "--format", "npy", "--range", "raw").exit_code == 0
    )
    assert np.load(outdir / "gray-edges.npy").shape == (18, 15)


def test_a_pixel_range_asked_of_a_matrix_output_is_a_warning(cli, gray_png, tmp_path) -> None:
    """``--range rescale`` with ``-o x.npy`` keeps the raw values (as documented) and says so,
    rather than ignoring the flag in silence; the values equal scipy's correlation."""
    from PIL import Image
    from scipy import ndimage

    out = tmp_path / "x.npy"
    result = cli("filter", gray_png, "-k", "edges", "-o", out, "--range", "rescale")
    assert result.exit_code == 0 and "range mode 'rescale' maps values to pixels" in result.stderr
    gray = np.asarray(Image.open(gray_png), np.float64)
    kernel = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float64)
    expected = ndimage.correlate(gray, kernel, mode="constant")[1:-1, 1:-1]
    np.testing.assert_allclose(np.load(out), expected, atol=1e-3)
    assert "range" not in cli("filter", gray_png, "-k", "edges", "-o", tmp_path / "y.npy").stderr


def test_an_unknown_out_dir_format_is_named_with_the_choices(cli, gray_png, tmp_path) -> None:
    """``--format xyz`` used to be reported as 'x.xyz: unknown output format', naming no real file."""
    (tmp_path / "f").mkdir()
    result = cli("filter", gray_png, "-k", "sharpen", "--format", "xyz", "--out-dir", tmp_path / "f")
    assert result.exit_code == 2 and "x.xyz" not in result.stderr
    assert "'xyz' is not one of 'png', 'jpg'" in result.stderr and "'npy', 'txt', 'csv'" in result.stderr
    assert list((tmp_path / "f").iterdir()) == []


def test_filter_images_names_an_unknown_format(tmp_path) -> None:
    from convcli.errors import ConvcliError
    from convcli.filtering.pipeline import filter_images

    with pytest.raises(ConvcliError, match=r"^unknown output format 'xyz': use one of png, jpg, .*npy, txt, csv"):
        filter_images([str(EXAMPLES / "lecture-5x5.txt")], ["sharpen"], out_dir=tmp_path, fmt="xyz")


def test_format_that_disagrees_with_the_output_suffix_is_refused(cli, gray_png, tmp_path) -> None:
    """``--format jpg -o q.png`` used to write a PNG and exit 0, the format silently ignored."""
    out = tmp_path / "q.png"
    result = cli("filter", gray_png, "-k", "sharpen", "--format", "jpg", "-o", out)
    assert result.exit_code == 2 and f"{out}: format 'jpg' disagrees" in result.stderr and not out.exists()
    assert cli("filter", gray_png, "-k", "sharpen", "--format", "PNG", "-o", out).exit_code == 0
    assert Image.open(out).format == "PNG"
    jpeg = tmp_path / "q.jpeg"
    assert cli("filter", gray_png, "-k", "sharpen", "--format", "jpg", "-o", jpeg).exit_code == 0
    assert Image.open(jpeg).format == "JPEG"


def test_multiple_kernels_to_one_image_name(cli, color_png, tmp_path) -> None:
    out = tmp_path / "res.png"
    assert cli("filter", color_png, "-k", "sobel-x", "-k", "sobel-y", "-o", out).exit_code == 0
    assert (tmp_path / "res-sobel-x.png").exists() and (tmp_path / "res-sobel-y.png").exists()


def test_gray_option_before_filter(cli, color_png, tmp_path) -> None:
    out = tmp_path / "g.npy"
    assert cli("filter", color_png, "-k", "identity", "--gray", "--padding", "same", "-o", out).exit_code == 0
    rgb = np.asarray(Image.open(color_png), dtype=np.float64)
    np.testing.assert_allclose(np.load(out), 0.3 * rgb[..., 0] + 0.59 * rgb[..., 1] + 0.11 * rgb[..., 2], rtol=1e-5)


def test_sample_image(cli, tmp_path) -> None:
    out = tmp_path / "cam.png"
    result = cli("filter", "--sample", "camera", "-k", "sobel-x", "--range", "abs", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert Image.open(out).size == (510, 510)


def test_unknown_sample(cli, tmp_path) -> None:
    result = cli("filter", "--sample", "astronout", "-k", "edges", "-o", tmp_path / "x.png")
    assert result.exit_code == 2 and "did you mean 'astronaut'" in result.stderr


def test_txt_and_csv_outputs_round_trip(cli, tmp_path) -> None:
    for suffix in (".txt", ".csv"):
        out = tmp_path / f"o{suffix}"
        assert cli("filter", EXAMPLES / "lecture-5x5.txt", "-k", "sharpen", "-o", out).exit_code == 0
        assert read_matrix(out)[0].tolist() == [266, -61, -30]


def test_npy_input(cli, tmp_path) -> None:
    np.save(tmp_path / "x.npy", read_matrix(EXAMPLES / "lecture-5x5.txt"))
    result = cli("filter", tmp_path / "x.npy", "-k", "sharpen")
    assert result.exit_code == 0
    assert result.stdout.split()[:3] == ["266", "-61", "-30"]


def test_python_m_and_no_tensorflow_noise() -> None:
    result = run("filter", str(EXAMPLES / "lecture-5x5.txt"), "-k", "sharpen")
    assert result.returncode == 0
    assert result.stderr == b"", result.stderr.decode()
    assert result.stdout.split()[:3] == [b"266", b"-61", b"-30"]


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["kernels"],
        ["kernels", "show", "edges"],
        ["gray", "{img}", "-o", "{out}"],
        ["channels", "{img}", "--out-dir", "{dir}"],
    ],
)
def test_light_commands_never_import_tensorflow(args, color_png, tmp_path) -> None:
    args = [a.format(img=color_png, out=tmp_path / "g.png", dir=tmp_path) for a in args]
    code = (
        "import sys\n"
        "from convcli.cli import app\n"
        f"try:\n    app({args!r})\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([PY, "-c", code], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()


def test_version_and_help_examples() -> None:
    assert run("--version").stdout.startswith(b"convcli ")
    help_text = run("filter", "--help").stdout.decode()
    assert "Example:" in help_text and "convcli filter examples/lecture-5x5.txt" in help_text


def test_batches_of_same_size_images_share_layer_calls(tmp_path, rng, monkeypatch) -> None:
    """Same-size images go through the layer together; results equal one-at-a-time filtering."""
    import convcli.filtering.convolution as conv
    from convcli import filter_images, load_kernel

    calls = []
    original = conv.Convolver.apply_many

    def counting(self, images, sources, *rest):
        calls.append(len(images))
        return original(self, images, sources, *rest)

    monkeypatch.setattr(conv.Convolver, "apply_many", counting)
    inputs = [str(write_png(tmp_path / f"b{i}.png", rng.integers(0, 256, (20, 24, 3)))) for i in range(12)]
    out = tmp_path / "out"
    out.mkdir()
    result = filter_images(inputs, ["sobel-x"], out_dir=out, fmt="npy", range_mode="raw", workers=2)
    assert sum(calls) == 12 and len(calls) < 12  # batched
    assert all(r.array is None for r in result.records)  # nothing kept per file: memory stays flat
    for path in inputs[:3]:
        alone = conv.convolve(np.asarray(Image.open(path), dtype=np.float32), load_kernel("sobel-x"))[0]
        np.testing.assert_array_equal(np.load(out / f"{Path(path).stem}-sobel-x.npy"), alone)
