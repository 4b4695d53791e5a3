"""The warm daemon, end to end: each call is run twice, served by a daemon and in process
(``CONVCLI_DAEMON=off``), and must agree byte for byte (stdout, stderr, exit status, files).

Every daemon here runs in a private runtime folder (``XDG_RUNTIME_DIR`` set to a new folder in
/tmp) and is stopped, then killed if need be, when its test or module ends, failures included.
Slow: each daemon imports Keras once (seconds), and each in-process reference run does too.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import png_bytes, write_png

from convcli.daemon import control

pytestmark = pytest.mark.slow

SETPRIV = shutil.which("setpriv")


def run(
    args: list[str],
    runtime: Path,
    cwd: Path | str = "/",
    *,
    off: bool = False,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    prefix: list[str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """``convcli ARGS`` from ``cwd``, served when a daemon runs in ``runtime`` (``off``: in process)."""
    full_env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), **(env or {})}
    full_env["CONVCLI_DAEMON"] = "off" if off else "auto"
    argv = [*(prefix or []), sys.executable, "-m", "convcli", *args]
    return subprocess.run(argv, input=input, capture_output=True, env=full_env, cwd=cwd, timeout=300)


def sockets(runtime: Path) -> list[str]:
    return sorted(str(p) for p in (runtime / "convcli").glob("daemon-*.sock"))


def served(runtime: Path) -> int:
    """Jobs served so far by the daemon(s) in ``runtime``, asked over the socket."""
    total = 0
    for sock in sockets(runtime):
        answer = control.query(sock, b"status")
        total += int(answer["served"]) if answer else 0
    return total


def daemon_pid(runtime: Path) -> int:
    (sock,) = sockets(runtime)
    answer = control.query(sock, b"status")
    assert answer is not None
    return int(answer["pid"])


def kill_daemons(runtime: Path) -> None:
    """Stop every daemon in ``runtime``, then SIGKILL whatever still holds a lock file."""
    with contextlib.suppress(Exception):
        run(["daemon", "stop"], runtime)
    for lock in (runtime / "convcli").glob("*.lock"):
        pid = control.lock_holder(str(lock)[: -len(".lock")] + ".sock")
        if pid and pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def daemon(idle: float = 600) -> Iterator[Path]:
    """A daemon in a new private runtime folder; always stopped (or killed) and removed after."""
    runtime = Path(tempfile.mkdtemp(prefix="cvd-", dir="/tmp"))
    try:
        started = run(["daemon", "start", "--idle", str(idle)], runtime)
        assert started.returncode == 0, started.stderr.decode()
        assert b"started: pid" in started.stdout
        yield runtime
    finally:
        kill_daemons(runtime)
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture(scope="module")
def warm() -> Iterator[Path]:
    with daemon() as runtime:
        yield runtime


def picture(seed: int, shape: tuple[int, ...] = (40, 52, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


@pytest.fixture(scope="module")
def flat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Keras model saved by Keras itself (zero weights: every class 0.1), for predict."""
    path = tmp_path_factory.mktemp("model") / "flat.keras"
    code = (
        "import sys, keras\n"
        "m = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),"
        " keras.layers.Dense(10, 'softmax', kernel_initializer='zeros')])\n"
        "m.save(sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, timeout=300)
    return path


def twin_folders(tmp_path: Path, flat_model: Path | None = None) -> tuple[Path, Path]:
    """Two folders with the same inputs: one for the served run, one for the in-process run."""
    folders = []
    for name in ("served", "inproc"):
        folder = tmp_path / name
        (folder / "out").mkdir(parents=True)
        write_png(folder / "in.png", picture(1))
        write_png(folder / "one.png", 255 - picture(2, (28, 28)))
        if flat_model is not None:
            shutil.copy(flat_model, folder / "flat.keras")
        folders.append(folder)
    return folders[0], folders[1]


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_same(a: subprocess.CompletedProcess[bytes], b: subprocess.CompletedProcess[bytes]) -> None:
    assert (a.returncode, a.stderr.decode(), a.stdout) == (b.returncode, b.stderr.decode(), b.stdout)


# --------------------------------------------------------------------------- fidelity

CASES = {
    "filter-files": (["filter", "in.png", "-k", "edges", "-k", "sharpen", "--out-dir", "out", "--json"], {}),
    "filter-error": (["filter", "missing.png", "-k", "edges"], {}),
    "kernel-typo": (["filter", "in.png", "-k", "edgez"], {}),
    "info": (["info", "--json"], {}),
    "summary": (["summary", "cnn"], {}),
    "predict": (["predict", "flat.keras", "one.png", "--json"], {}),
    "predict-table": (["predict", "flat.keras", "one.png", "--top", "3"], {}),
    "help-columns": (["filter", "--help"], {"COLUMNS": "57"}),
    "no-color-lang": (["--device", "auto", "weights", "flat.keras"], {"NO_COLOR": "1", "LANG": "C.UTF-8"}),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_served_equals_in_process(warm: Path, flat_model: Path, tmp_path: Path, case: str) -> None:
    args, env = CASES[case]
    mine, theirs = twin_folders(tmp_path, flat_model)
    before = served(warm)
    a = run(args, warm, mine, env=env)
    assert served(warm) == before + 1  # the daemon did serve it
    b = run(args, warm, theirs, env=env, off=True)
    assert_same(a, b)
    assert tree(mine) == tree(theirs)


def test_stdin_to_stdout_and_umask(warm: Path, tmp_path: Path) -> None:
    """``-`` in, ``-o -`` out through pipes; files take the caller's umask."""
    data = png_bytes(picture(3))
    before = served(warm)
    a = run(["filter", "-", "-k", "emboss", "-o", "-"], warm, tmp_path, input=data)
    b = run(["filter", "-", "-k", "emboss", "-o", "-"], warm, tmp_path, input=data, off=True)
    assert_same(a, b)
    assert a.stdout.startswith(b"\x89PNG")
    write_png(tmp_path / "in.png", picture(4))
    umask = ["sh", "-c", 'umask 077; exec "$@"', "sh"]
    c = run(["filter", "in.png", "-k", "edges", "-o", "served.png"], warm, tmp_path, prefix=umask)
    d = run(["filter", "in.png", "-k", "edges", "-o", "inproc.png"], warm, tmp_path, prefix=umask, off=True)
    assert (c.returncode, d.returncode) == (0, 0)
    assert (tmp_path / "served.png").read_bytes() == (tmp_path / "inproc.png").read_bytes()
    assert (tmp_path / "served.png").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "inproc.png").stat().st_mode & 0o777 == 0o600
    assert served(warm) == before + 2


def test_stdout_a_terminal(warm: Path, tmp_path: Path) -> None:
    """``isatty`` is the caller's: PNG bytes to a terminal are refused the same way."""
    write_png(tmp_path / "in.png", picture(5))
    results = []
    for off in (False, True):
        master, slave = pty.openpty()
        env = {**os.environ, "XDG_RUNTIME_DIR": str(warm), "CONVCLI_DAEMON": "off" if off else "auto"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "convcli", "filter", "in.png", "-k", "edges", "-o", "-"],
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            env=env,
        )
        os.close(slave)
        _, err = proc.communicate(timeout=300)
        os.close(master)
        results.append((proc.returncode, err))
    assert results[0] == results[1]
    assert results[0][0] == 2 and b"refusing to write PNG bytes to a terminal" in results[0][1]


def wait_for_job(runtime: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answers = [control.query(s, b"status") for s in sockets(runtime)]
        if any(a and int(a["running"]) for a in answers):
            time.sleep(0.5)  # let the job reach its read of stdin
            return
        time.sleep(0.05)
    raise AssertionError("the daemon never started the job")


def blocked_job(runtime: Path, cwd: Path, args: list[str]) -> subprocess.Popen[bytes]:
    """A served job that waits on its stdin (a pipe the test holds)."""
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "CONVCLI_DAEMON": "auto"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "convcli", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
    )
    wait_for_job(runtime)
    return proc


def test_ctrl_c_stops_the_job_and_records_equal_files(warm: Path, tmp_path: Path) -> None:
    """SIGINT to the client reaches the job: exit 130, ``Error: interrupted``, and the JSON records
    printed are exactly the files left (the two before stdin), no temporary files."""
    for name in ("a", "b", "c"):
        write_png(tmp_path / f"{name}.png", picture(ord(name)))
    (tmp_path / "out").mkdir()
    proc = blocked_job(
        warm, tmp_path, ["filter", "a.png", "b.png", "-", "c.png", "-k", "edges", "--out-dir", "out", "--json"]
    )
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err.decode().endswith("Error: interrupted\n")
    records = [json.loads(line) for line in out.decode().splitlines()]
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert sorted(Path(r["output"]).name for r in records if "output" in r) == written
    assert all(name.endswith("-edges.png") for name in written)


# --------------------------------------------------------------------------- isolation and concurrency


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie left for a parent that does not reap it has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def job_pids(zygote: int) -> list[int]:
    text = Path(f"/proc/{zygote}/task/{zygote}/children").read_text()
    return [int(pid) for pid in text.split()]


def test_a_crashed_job_leaves_the_next_one_intact(warm: Path, tmp_path: Path) -> None:
    """A job killed by SIGKILL ends its client the same way; the next job, from another folder
    with the same relative names, is served correctly."""
    write_png(tmp_path / "in.png", picture(6))
    proc = blocked_job(warm, tmp_path, ["filter", "-", "-k", "edges", "-o", "out.png"])
    (victim,) = job_pids(daemon_pid(warm))
    os.kill(victim, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "out.png").exists()
    other = tmp_path / "other"
    other.mkdir()
    write_png(other / "in.png", picture(7))
    before = served(warm)
    a = run(["filter", "in.png", "-k", "edges", "-o", "out.png"], warm, other)
    b = run(["filter", "in.png", "-k", "edges", "-o", "ref.png"], warm, other, off=True)
    assert (a.returncode, b.returncode, served(warm)) == (0, 0, before + 1)
    assert (other / "out.png").read_bytes() == (other / "ref.png").read_bytes()
    assert not (tmp_path / "out.png").exists()


def seeded_cnns(folder: Path, seeds: tuple[int, ...]) -> list[Path]:
    """Small CNNs with random weights (one per seed) saved by Keras itself: answers that differ
    from class to class and from model to model, unlike the flat model's 0.1 everywhere."""
    code = (
        "import sys, keras\n"
        "for seed, path in zip(sys.argv[1::2], sys.argv[2::2]):\n"
        "    keras.utils.set_random_seed(int(seed))\n"
        "    keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, activation='relu'),"
        " keras.layers.MaxPooling2D(2), keras.layers.Flatten(), keras.layers.Dense(10, 'softmax')]).save(path)\n"
    )
    paths = [folder / f"seed{seed}.keras" for seed in seeds]
    args = [str(item) for seed, path in zip(seeds, paths) for item in (seed, path)]
    subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, timeout=300)
    return paths


def test_predict_with_real_weights_and_a_replaced_model_file(warm: Path, tmp_path: Path) -> None:
    """A served one-image predict (the model called once, not model.predict) prints the bytes an
    in-process one prints, probabilities and all; a model file replaced in place by other weights
    is read anew by the next served call (no job keeps a model for the next)."""
    first, second = seeded_cnns(tmp_path, (1, 2))
    digit = np.zeros((28, 28), np.uint8)  # an MNIST-style 7 (light on a black field: taken as it is)
    digit[6:9, 8:21] = 255
    digit[9:23, 16:19] = 200
    write_png(tmp_path / "one.png", digit)
    args = ["predict", "model.keras", "one.png", "--json", "--top", "3"]
    outputs = []
    for weights in (first, second):
        shutil.copy(weights, tmp_path / "model.keras")
        before = served(warm)
        a = run(args, warm, tmp_path)
        b = run(args, warm, tmp_path, off=True)
        assert served(warm) == before + 1
        assert_same(a, b)
        assert a.returncode == 0, a.stderr.decode()
        probabilities = json.loads(a.stdout)["probabilities"]
        assert max(probabilities) - min(probabilities) > 1e-3  # not the flat model's 0.1 everywhere
        outputs.append(probabilities)
    assert outputs[0] != outputs[1]


def test_eight_clients_at_once(warm: Path, tmp_path: Path) -> None:
    names = [f"f{i}.png" for i in range(8)]
    for i, name in enumerate(names):
        write_png(tmp_path / name, picture(100 + i, (60 + i, 50, 3)))
    (tmp_path / "served").mkdir()
    (tmp_path / "ref").mkdir()
    before = served(warm)
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda n: run(["filter", n, "-k", "sobel-x", "--out-dir", "served"], warm, tmp_path), names)
        )
    assert [r.returncode for r in results] == [0] * 8, [r.stderr for r in results]
    assert served(warm) == before + 8
    ref = run(["filter", *names, "-k", "sobel-x", "--out-dir", "ref"], warm, tmp_path, off=True)
    assert ref.returncode == 0
    assert tree(tmp_path / "served") == tree(tmp_path / "ref")
    assert len(tree(tmp_path / "ref")) == 8


# --------------------------------------------------------------------------- security and staleness


@pytest.mark.skipif(SETPRIV is None or os.getuid() != 0, reason="needs root and setpriv to act as another user")
def test_another_user_is_never_served(warm: Path, request: pytest.FixtureRequest) -> None:
    """Uid 65534 calling with our runtime folder runs in process (correctly); and even given
    access to the socket itself, the daemon (SO_PEERCRED) answers it nothing."""
    tmp_path = Path(tempfile.mkdtemp(prefix="cvn-", dir="/tmp"))  # pytest's own tmp is root-only
    request.addfinalizer(lambda: shutil.rmtree(tmp_path, ignore_errors=True))
    tmp_path.chmod(0o777)
    write_png(tmp_path / "in.png", picture(8))
    nobody = [SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups"]
    before = served(warm)
    args = ["filter", "in.png", "-k", "edges", "-o", "theirs.png"]
    a = run(args, warm, tmp_path, prefix=nobody, env={"HOME": "/tmp"})
    b = run(["filter", "in.png", "-k", "edges", "-o", "ours.png"], warm, tmp_path, off=True)
    assert (a.returncode, b.returncode) == (0, 0), a.stderr
    assert (tmp_path / "theirs.png").read_bytes() == (tmp_path / "ours.png").read_bytes()
    assert served(warm) == before
    (sock,) = sockets(warm)
    folder = Path(sock).parent
    modes = (warm.stat().st_mode, folder.stat().st_mode, Path(sock).stat().st_mode)
    try:
        warm.chmod(0o711)
        folder.chmod(0o711)
        Path(sock).chmod(0o666)
        probe = (
            "import socket, sys\n"
            "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(20)\n"
            "try:\n"
            "    s.sendall(len(b'status').to_bytes(4, 'big') + b'status'); print(repr(s.recv(100)))\n"
            "except (BrokenPipeError, ConnectionResetError):\n"
            "    print(repr(b''))\n"
        )
        out = subprocess.run([*nobody, sys.executable, "-c", probe, sock], capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == b"b''"  # connected, then closed without a word
    finally:
        warm.chmod(modes[0])
        folder.chmod(modes[1])
        Path(sock).chmod(modes[2])
    assert served(warm) == before


def test_unsafe_runtime_folder_means_in_process(warm: Path, tmp_path: Path) -> None:
    """A runtime folder reached through a symlink, or open to others, is never used."""
    write_png(tmp_path / "in.png", picture(9))
    link = Path(tempfile.mkdtemp(prefix="cvl-", dir="/tmp"))
    try:
        (link / "convcli").symlink_to(warm / "convcli")
        before = served(warm)
        a = run(["filter", "in.png", "-k", "edges", "-o", "a.png"], link, tmp_path)
        assert a.returncode == 0 and served(warm) == before
        status = run(["daemon", "status", "--json"], link)
        assert status.returncode == 1
        assert "symbolic link" in json.loads(status.stdout)["reason"]
        refused = run(["daemon", "start"], link)
        assert refused.returncode == 1 and b"unsafe runtime folder" in refused.stderr
    finally:
        shutil.rmtree(link)
    loose = warm / "convcli"
    loose.chmod(0o755)
    try:
        b = run(["filter", "in.png", "-k", "edges", "-o", "b.png"], warm, tmp_path)
        assert b.returncode == 0 and served(warm) == before
    finally:
        loose.chmod(0o700)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_another_backend_environment_is_another_daemon(warm: Path, tmp_path: Path) -> None:
    """``KERAS_BACKEND`` set (even to the same backend) is another identity: in process, and
    status says so and names the daemon that does run."""
    write_png(tmp_path / "in.png", picture(10))
    env = {"KERAS_BACKEND": "tensorflow"}
    before = served(warm)
    a = run(["filter", "in.png", "-k", "edges", "-o", "a.png"], warm, tmp_path, env=env)
    b = run(["filter", "in.png", "-k", "edges", "-o", "b.png"], warm, tmp_path, off=True)
    assert (a.returncode, b.returncode, served(warm)) == (0, 0, before)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    status = run(["daemon", "status", "--json"], warm, env=env)
    info = json.loads(status.stdout)
    assert status.returncode == 1 and not info["running"]
    assert [o["pid"] for o in info["others"]] == [daemon_pid(warm)]


def test_daemon_killed_mid_job(tmp_path: Path) -> None:
    """``kill -9`` of the daemon during a job: the job (its own process) still finishes and its
    client gets the right output and status; later calls run in process with identical results,
    and status tells the truth."""
    write_png(tmp_path / "in.png", picture(11))
    data = png_bytes(picture(12))
    with daemon() as runtime:
        zygote = daemon_pid(runtime)
        proc = blocked_job(runtime, tmp_path, ["filter", "-", "-k", "edges", "-o", "-"])
        os.kill(zygote, signal.SIGKILL)
        out, err = proc.communicate(data, timeout=120)
        ref = run(["filter", "-", "-k", "edges", "-o", "-"], runtime, tmp_path, input=data, off=True)
        assert (proc.returncode, err, out) == (ref.returncode, ref.stderr, ref.stdout)
        assert proc.returncode == 0
        after = run(["filter", "-", "-k", "edges", "-o", "-"], runtime, tmp_path, input=data)
        assert_same(after, ref)
        status = run(["daemon", "status", "--json"], runtime)
        info = json.loads(status.stdout)
        assert status.returncode == 1 and not info["running"]
        assert "died" in info["reason"]
        assert sockets(runtime) == []  # the stale socket was removed


def test_idle_timeout_and_stop(tmp_path: Path) -> None:
    with daemon(idle=600) as runtime:
        pid = daemon_pid(runtime)
        stopped = run(["daemon", "stop"], runtime)
        assert stopped.stdout.decode() == f"stopped: pid {pid}\n"
        assert run(["daemon", "status"], runtime).returncode == 1
        assert not alive(pid)
        again = run(["daemon", "start", "--idle", "2"], runtime)
        assert again.returncode == 0
        pid = daemon_pid(runtime)
        assert run(["daemon", "start"], runtime).stdout.startswith(b"already running: pid %d" % pid)
        deadline = time.monotonic() + 60
        while sockets(runtime) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sockets(runtime) == []
        time.sleep(0.5)
        assert not alive(pid)


NO_KERAS = """
import sys
class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("keras", "tensorflow", "jax", "torch"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NotInstalled())
"""
"""A ``sitecustomize`` making Python behave as in a ``convcli[runtime]`` install: no Keras, no backend."""


def test_a_runtime_only_install_serves_exported_models(tmp_path: Path) -> None:
    """Without Keras (``convcli[runtime]``), ``daemon start`` still starts, and serves ``predict
    model.onnx photo.png`` with the in-process answer; a command needing Keras fails as in process."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from test_export import dense_onnx

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_KERAS)
    src = Path(__file__).resolve().parents[1] / "src"
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(src)])}
    rng = np.random.default_rng(3)
    model = dense_onnx(tmp_path / "dense.onnx", [28, 28, 1], rng.normal(0, 0.05, (784, 10)), rng.normal(0, 0.1, 10))
    photo = np.full((90, 70, 3), 235, np.uint8)
    photo[15:75, 30:38] = 30  # a "1"
    write_png(tmp_path / "one.png", photo)
    runtime = Path(tempfile.mkdtemp(prefix="cvd-", dir="/tmp"))
    try:
        started = run(["daemon", "start"], runtime, env=env)
        assert started.returncode == 0, started.stderr.decode()
        args = ["predict", str(model), str(tmp_path / "one.png"), "--json"]
        served_run, ref = run(args, runtime, tmp_path, env=env), run(args, runtime, tmp_path, env=env, off=True)
        assert served(runtime) == 1
        assert_same(served_run, ref)
        assert served_run.returncode == 0 and json.loads(served_run.stdout)["prediction"] in range(10)
        needs_keras = ["filter", "one.png", "-k", "edges", "-o", "edges.png"]
        failed = run(needs_keras, runtime, tmp_path, env=env)
        assert_same(failed, run(needs_keras, runtime, tmp_path, env=env, off=True))
        assert failed.returncode == 1 and b"No module named 'keras'" in failed.stderr
        assert served(runtime) == 2
    finally:
        kill_daemons(runtime)
        shutil.rmtree(runtime, ignore_errors=True)
