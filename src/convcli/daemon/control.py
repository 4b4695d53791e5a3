"""Start, ask and stop daemons: the library behind ``convcli daemon start|status|stop``.

Returns plain dictionaries; raises :class:`~convcli.errors.ConvcliError` when a daemon cannot be
started. A daemon is *running* only when it answers on its socket; a socket nobody answers
(a daemon killed with ``kill -9``) is reported as stale and removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import select
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from ..errors import work_error
from ..i18n import N_, tr
from . import protocol

START_TIMEOUT = 300.0
REASONS = (
    N_("unsafe runtime folder ({problem}): every command runs in process"),
    N_("its socket was left by a daemon that died (removed): commands run in process"),
    N_("process {pid} holds the daemon's lock but does not answer: commands run in process"),
    N_("no daemon for this installation and environment: commands run in process"),
)
"""Why no daemon answers: the status's ``reason``, in English (JSON); translated where it is shown."""
"""Seconds to wait for a new daemon to import Keras and answer."""


def query(path: str, what: bytes, timeout: float = 5.0) -> dict[str, str] | None:
    """Send a control request (``status`` or ``stop``) to the daemon at ``path``; its answer as
    ``key: value`` (``stopping``: the pid), or None when nobody of this user answers there."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        try:
            conn.connect(path)
            if protocol.peer_uid(conn) != os.getuid():
                return None
            conn.sendall(protocol.encode_fields([what]))
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
        except OSError:
            return None
    lines = [line.partition(" ") for line in data.decode("utf-8", "replace").splitlines()]
    return {key: value for key, _, value in lines if key} or None


def lock_holder(sock: str) -> int | None:
    """The pid of the live daemon holding ``sock``'s lock file, or None when no process holds it."""
    try:
        fd = os.open(protocol.lock_path(sock), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        return int(text) if text.isdigit() else -1
    finally:
        os.close(fd)
    return None


def _describe(path: str, answer: dict[str, str]) -> dict[str, Any]:
    return {
        "running": True,
        "pid": int(answer["pid"]),
        "socket": path,
        "version": answer.get("version"),
        "served": int(answer.get("served", 0)),
        "jobs_running": int(answer.get("running", 0)),
        "idle_timeout": float(answer.get("idle_timeout", 0)),
        "idle_seconds": float(answer.get("idle_seconds", 0)),
    }


def status() -> dict[str, Any]:
    """The daemon for this installation and environment: running or not and why, its pid, socket,
    version, jobs served, idle timeout; ``others``: this user's daemons for other identities."""
    folder = protocol.runtime_dir()
    path = protocol.socket_path(protocol.identity(), folder)
    info: dict[str, Any] = {
        "running": False,
        "pid": None,
        "socket": path,
        "version": None,
        "served": 0,
        "jobs_running": 0,
        "idle_timeout": None,
        "idle_seconds": None,
        "others": [],
    }
    problem = protocol.check_private_dir(folder) if os.path.lexists(folder) else None
    if problem:
        return {**info, "reason": REASONS[0].format(problem=problem)}
    answer = query(path, b"status")
    if answer and "pid" in answer:
        info.update(_describe(path, answer))
    elif os.path.lexists(path):
        holder = lock_holder(path)
        if holder is None:
            with contextlib.suppress(OSError):
                os.unlink(path)
            info["reason"] = REASONS[1]
        else:
            info["pid"] = holder
            info["reason"] = REASONS[2].format(pid=holder)
    else:
        info["reason"] = REASONS[3]
    for other in sorted(glob.glob(os.path.join(folder, "daemon-*.sock"))):
        if other != path and (answer := query(other, b"status")) and "pid" in answer:
            info["others"].append(_describe(other, answer))
    return info


def start(idle: float = protocol.DEFAULT_IDLE) -> dict[str, Any]:
    """Start a daemon for this installation and environment (unless one runs) and wait until it
    answers: the :func:`status` after, with ``started`` saying whether this call started it."""
    if idle <= 0:
        raise work_error(tr("idle timeout must be positive, not {idle:g} seconds").format(idle=idle))
    current = status()
    if current["running"]:
        return {**current, "started": False}
    folder = protocol.runtime_dir()
    problem = protocol.make_private_dir(folder)
    if problem:
        raise work_error(tr("cannot start a daemon: unsafe runtime folder ({problem})").format(problem=problem))
    sock = protocol.socket_path(protocol.identity(), folder)
    log_file = sock[: -len(".sock")] + ".log"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if lock_holder(sock) is None:  # else another start, or a daemon stopping: wait for it
            line, code = _spawn(idle, log_file)
            word, _, rest = line.partition(" ")
            if word == "error":
                raise work_error(tr("cannot start a daemon: {detail}").format(detail=rest))
            if word not in ("ready", "busy"):
                raise work_error(
                    tr("the daemon did not start (exit status {code}): {line} (log: {log})").format(
                        code=code, line=_last_line(log_file), log=log_file
                    )
                )
            if word == "ready":
                return {**status(), "started": True}
        time.sleep(0.1)
        if (current := status())["running"]:
            return {**current, "started": False}
    raise work_error(
        tr("the daemon did not answer within {seconds:g} s (log: {log})").format(seconds=START_TIMEOUT, log=log_file)
    )


def _spawn(idle: float, log_file: str) -> tuple[str, int | None]:
    """Run the server in its own session; its first line on the ready pipe, and its exit status
    if it has exited (None while it runs)."""
    read_end, write_end = os.pipe()
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "convcli.daemon.server", "--idle", repr(float(idle)), "--ready-fd", str(write_end)],
            pass_fds=(write_end,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    finally:
        os.close(write_end)
        os.close(log)
    data = b""
    deadline = time.monotonic() + START_TIMEOUT
    with os.fdopen(read_end, "rb") as ready:
        while b"\n" not in data and time.monotonic() < deadline:
            if select.select([ready], [], [], 1.0)[0]:
                chunk = os.read(read_end, 256)
                if not chunk:
                    break
                data += chunk
    return data.decode(errors="replace").partition("\n")[0], proc.poll() if b"\n" in data else proc.wait()


def _last_line(path: str) -> str:
    with contextlib.suppress(OSError), open(path, errors="replace") as f:
        lines = [line.strip() for line in f if line.strip()]
        return lines[-1] if lines else "no message"
    return "no message"


def stop(timeout: float = 10.0) -> list[int]:
    """Stop every convcli daemon of this user (all identities: an old one is of no use either);
    the pids stopped. Jobs already running finish and report to their callers."""
    stopped = []
    for sock in sorted(glob.glob(os.path.join(protocol.runtime_dir(), "daemon-*.sock"))):
        answer = query(sock, b"stop")
        if answer and answer.get("stopping", "").isdigit():
            stopped.append(int(answer["stopping"]))
        elif lock_holder(sock) is None:
            with contextlib.suppress(OSError):
                os.unlink(sock)  # a dead daemon's socket
            continue
        deadline = time.monotonic() + timeout
        while (holder := lock_holder(sock)) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if holder is not None and holder > 0:  # asked to stop and still there: end it
            with contextlib.suppress(ProcessLookupError):
                os.kill(holder, signal.SIGKILL)
    return stopped
