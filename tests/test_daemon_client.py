"""The daemon's client and protocol without a daemon: which calls it would serve, the runtime
folder checks, the identity that keys the socket, and the fall-backs (no daemon, a socket that
answers nonsense, a daemon that never answers), all quick; the served paths are in test_daemon.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from convcli.daemon import client, protocol


@pytest.mark.parametrize(
    ("argv", "served"),
    [
        (["filter", "a.png", "-k", "edges"], "filter"),
        (["predict", "m.keras", "one.png"], "predict"),
        (["--device", "auto", "info"], "info"),
        (["--device=auto", "weights", "m.keras"], "weights"),
        (["--device", "cpu", "info"], None),  # chosen before Keras loads: in process
        (["--verbose", "filter", "a.png"], None),  # TensorFlow's own start-up lines: in process
        (["--no-daemon", "filter", "a.png"], None),
        (["gray", "a.png"], None),  # never imports Keras
        (["kernels"], None),
        (["train", "cnn"], None),  # minutes long: in process
        (["explain", "m.keras"], None),
        (["daemon", "status"], None),
        (["--help"], None),
        ([], None),
        (["--device"], None),
    ],
)
def test_which_calls_a_daemon_serves(argv: list[str], served: str | None) -> None:
    assert client.served_command(argv) == served


def test_runtime_folder_must_be_private_real_and_ours(tmp_path: Path) -> None:
    good = tmp_path / "good"
    assert protocol.make_private_dir(str(good)) is None
    assert (good.stat().st_mode & 0o777) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    assert "0755" in (protocol.check_private_dir(str(loose)) or "")
    link = tmp_path / "link"
    link.symlink_to(good)
    assert "symbolic link" in (protocol.check_private_dir(str(link)) or "")
    afile = tmp_path / "file"
    afile.write_text("")
    assert "not a folder" in (protocol.check_private_dir(str(afile)) or "")
    if os.getuid() == 0:  # root can hand a folder to another user
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o700)
        os.chown(theirs, 65534, 65534)
        assert "owned by uid 65534" in (protocol.check_private_dir(str(theirs)) or "")


def test_runtime_folder_location(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1234")
    assert protocol.runtime_dir() == "/run/user/1234/convcli"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "relative/dir")  # not absolute: ignored, as the spec says
    assert protocol.runtime_dir() == f"/tmp/convcli-{os.getuid()}"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert protocol.runtime_dir() == f"/tmp/convcli-{os.getuid()}"


def test_identity_follows_backend_environment_and_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    base = protocol.identity()
    assert protocol.identity() == base
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert protocol.identity() != base
    assert protocol.socket_path(protocol.identity()) != protocol.socket_path(base)
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.setenv("CONVCLI_DATA_DIR", "/elsewhere")  # read per job, not at import: same daemon
    assert protocol.identity() == base
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n")
    stamp = protocol._source_stamp(str(package))
    os.utime(package / "a.py", ns=(1, 1))
    assert protocol._source_stamp(str(package)) != stamp  # edited code: another daemon


def test_installing_a_package_is_a_new_identity_writing_bytecode_is_not(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "keras-3.15.0.dist-info").mkdir()
    stamp = protocol._path_stamp(str(site))
    (site / "__pycache__").mkdir()  # what a first import with bytecode writing does
    (site / "six.py").write_text("")
    assert protocol._path_stamp(str(site)) == stamp
    (site / "keras-3.15.0.dist-info").rename(site / "keras-3.16.0.dist-info")  # an upgrade
    assert protocol._path_stamp(str(site)) != stamp
    assert protocol._path_stamp(str(tmp_path)) == str(tmp_path)  # other folders: the name only


def test_messages_round_trip_with_any_bytes() -> None:
    fields = [b"convcli-daemon/1", "caf\xe9".encode(), b"\xff\xfe not utf-8", b""]
    message = protocol.encode_fields(fields)
    assert int.from_bytes(message[:4], "big") == len(message) - 4
    assert protocol.decode_fields(message[4:]) == fields
    assert protocol.fds_from_ancillary(
        [(socket.SOL_SOCKET, socket.SCM_RIGHTS, protocol.fds_to_bytes([3, 17, 2]))],
        socket.SOL_SOCKET,
        socket.SCM_RIGHTS,
    ) == [3, 17, 2]


@pytest.fixture
def private_runtime(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty runtime folder of our own (short path: Unix socket paths are limited to 107 bytes)."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="cvd-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    monkeypatch.delenv("CONVCLI_DAEMON", raising=False)
    yield base
    import shutil

    shutil.rmtree(base, ignore_errors=True)


def test_no_daemon_means_in_process(private_runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.run_served(["info"]) is None  # no folder yet
    assert protocol.make_private_dir(protocol.runtime_dir()) is None
    assert client.run_served(["info"]) is None  # folder, no socket


def _fake_daemon(path: str, reply: bytes | None) -> tuple[socket.socket, threading.Thread]:
    """A socket at ``path`` that answers every request with ``reply`` (None: reads, never answers)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(1 << 16)
                if reply is None:
                    conn.recv(1)  # until the client gives up
                else:
                    conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


@pytest.mark.parametrize("reply", [b"nonsense\n", b"ok 12\n", b"", b"refused stale\n", None])
def test_a_daemon_answering_wrongly_means_in_process(
    private_runtime: Path, monkeypatch: pytest.MonkeyPatch, reply: bytes | None
) -> None:
    """Garbage, an ``ok`` without the job's pidfd, a closed connection, a refusal, or silence:
    the call runs in process (None), before anything of the job has started."""
    monkeypatch.setattr(client, "ACCEPT_TIMEOUT", 0.5)
    assert protocol.make_private_dir(protocol.runtime_dir()) is None
    server, _ = _fake_daemon(protocol.socket_path(protocol.identity()), reply)
    try:
        assert client.run_served(["info"]) is None
    finally:
        server.close()


def test_the_client_stays_tiny_when_no_daemon_answers(private_runtime: Path) -> None:
    """Up to the point it knows no daemon answers, the client imports no Typer, numpy or Keras."""
    code = (
        "import sys\n"
        "from convcli.daemon.client import run_served\n"
        "assert run_served(['filter', 'a.png', '-k', 'edges']) is None\n"
        "heavy = [m for m in ('typer', 'click', 'numpy', 'keras', 'tensorflow', 'rich') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
