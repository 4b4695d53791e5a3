"""Which Keras backend convcli loads, and why: KERAS_BACKEND wins, then a CUDA JAX with a GPU,
then Keras's default. The GPU detection is mocked (fake device nodes, fake packages on sys.path),
so these checks run on any machine; the end-to-end ones run `convcli info` in a fresh process."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from convcli import backend
from convcli.backend import (
    REASON_DEFAULT,
    REASON_ENV,
    REASON_GPU_JAX,
    choose_backend,
    gpu_jax_available,
    nvidia_gpu_present,
)

REAL_JAX = importlib.util.find_spec("jax") is not None
REAL_CUDA_PLUGIN = any(importlib.util.find_spec(p) is not None for p in backend.JAX_CUDA_PLUGINS)


@pytest.mark.parametrize(
    ("env", "gpu_jax", "expected"),
    [
        ({"KERAS_BACKEND": "tensorflow"}, True, ("tensorflow", REASON_ENV)),
        ({"KERAS_BACKEND": "torch"}, False, ("torch", REASON_ENV)),
        ({}, True, ("jax", REASON_GPU_JAX)),
        ({"KERAS_BACKEND": ""}, True, ("jax", REASON_GPU_JAX)),  # empty means unset, as in Keras
        ({}, False, (None, REASON_DEFAULT)),
    ],
)
def test_choice_order(monkeypatch, env, gpu_jax, expected) -> None:
    monkeypatch.setattr(backend, "gpu_jax_available", lambda environ=None: gpu_jax)
    assert choose_backend(env) == expected


def test_gpu_device_nodes(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "nvidiactl").touch()  # the driver's control node alone is not a GPU
    assert not nvidia_gpu_present({}, root=str(tmp_path))
    (dev / "nvidia0").touch()
    assert nvidia_gpu_present({}, root=str(tmp_path))
    assert nvidia_gpu_present({"CUDA_VISIBLE_DEVICES": "0"}, root=str(tmp_path))
    for hidden in ("", "-1"):  # `--device cpu` sets ""
        assert not nvidia_gpu_present({"CUDA_VISIBLE_DEVICES": hidden}, root=str(tmp_path))


def _fake_packages(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).mkdir()
        (folder / name / "__init__.py").write_text("raise ImportError('detection must not import me')\n")


@pytest.mark.skipif(REAL_JAX or REAL_CUDA_PLUGIN, reason="a real JAX is installed here")
@pytest.mark.parametrize(
    ("packages", "env", "expected"),
    [
        (("jax", "jax_cuda12_plugin"), {}, True),
        (("jax", "jax_cuda13_plugin"), {}, True),
        (("jax",), {}, False),  # JAX for the CPU only
        (("jax_cuda12_plugin",), {}, False),  # a plugin without JAX
        (("jax", "jax_cuda12_plugin"), {"JAX_PLATFORMS": "cpu"}, False),
        (("jax", "jax_cuda12_plugin"), {"CUDA_VISIBLE_DEVICES": ""}, False),
    ],
)
def test_cuda_jax_found_without_importing_it(monkeypatch, tmp_path, packages, env, expected) -> None:
    _fake_packages(tmp_path, *packages)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(backend, "nvidia_gpu_present", lambda environ=None: environ.get("CUDA_VISIBLE_DEVICES") != "")
    assert gpu_jax_available(env) is expected
    assert "jax" not in sys.modules and "jax_cuda12_plugin" not in sys.modules


def test_no_gpu_means_no_jax(monkeypatch) -> None:
    monkeypatch.setattr(backend, "nvidia_gpu_present", lambda environ=None: False)
    assert gpu_jax_available({}) is False


def _info(env: dict[str, str], gpu_jax: bool | None) -> dict:
    """`convcli info --json` in a fresh process, the GPU detection replaced when ``gpu_jax`` is given."""
    patch = "" if gpu_jax is None else f"backend.gpu_jax_available = lambda environ=None: {gpu_jax}\n"
    code = (
        "import sys\nfrom convcli import backend\n" + patch + "from convcli.cli import app\napp(['info', '--json'])\n"
    )
    clean = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT, env={**clean, **env}
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_info_keras_backend_forces_tensorflow_over_a_gpu_jax() -> None:
    data = _info({"KERAS_BACKEND": "tensorflow"}, gpu_jax=True)
    assert (data["backend"], data["backend_reason"]) == ("tensorflow", REASON_ENV)


def test_info_without_a_gpu_jax_is_keras_default(tmp_path: Path) -> None:
    data = _info({"KERAS_HOME": str(tmp_path)}, gpu_jax=False)  # no keras.json naming another backend
    assert (data["backend"], data["backend_reason"]) == ("tensorflow", REASON_DEFAULT)


@pytest.mark.skipif(not REAL_JAX, reason="JAX is not installed (the gpu extra, or `make test-backends`)")
def test_info_picks_jax_when_a_gpu_jax_is_found() -> None:
    data = _info({}, gpu_jax=True)
    assert (data["backend"], data["backend_reason"]) == ("jax", REASON_GPU_JAX)


def test_info_reports_the_real_detection() -> None:
    """Unmocked: whatever this machine has, `info` states the choice the detection implies."""
    data = _info({}, gpu_jax=None)
    if gpu_jax_available({k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}):
        assert (data["backend"], data["backend_reason"]) == ("jax", REASON_GPU_JAX)
    else:
        assert data["backend_reason"] == REASON_DEFAULT
