"""The client half of the daemon: called first thing by ``convcli``, before Typer, numpy or Keras.

If a daemon for this installation and environment answers, the command runs there, in a process
forked for it, with this process's cwd, umask, environment, stdin, stdout and stderr (the
descriptors themselves travel over the socket), and this process only waits: it forwards the
signals it receives (Ctrl-C, ``kill``) to the job and exits with the job's status. Otherwise
(no daemon, ``CONVCLI_DAEMON=off``, ``--no-daemon``, a command that stays in process, any
doubt about the socket, any protocol error before the job starts) it returns None and convcli
runs in this process as usual, with identical results.

Standard library only, and only modules already loaded at interpreter start where possible
(``_socket`` and ``_signal`` rather than ``socket`` and ``signal``): this runs on every call.
"""

from __future__ import annotations

import _signal
import _socket
import os
import stat
import sys

from .protocol import (
    PROTOCOL,
    check_private_dir,
    encode_fields,
    fds_from_ancillary,
    fds_to_bytes,
    identity,
    peer_uid,
    runtime_dir,
    socket_path,
)

SERVED = frozenset({"filter", "summary", "evaluate", "predict", "feature-maps", "weights", "info"})
"""Commands a daemon serves: those that import Keras and finish in seconds. ``gray``, ``channels``,
``kernels`` and ``--help`` never import Keras; ``train`` and ``explain`` run for minutes or keep
serving, so the saved start-up is noise there, and they stay in process (with their own signal
handling and worker processes)."""
FORWARDED_SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT)
OFF_VALUES = ("off", "0", "no", "false")
ACCEPT_TIMEOUT = 10.0
"""Seconds to wait for the daemon to take the job before running it here instead."""


def served_command(argv: list[str]) -> str | None:
    """The command a daemon would serve for ``convcli ARGV``, or None to run in process.

    Global options before the command: ``--device auto`` is served; ``--verbose`` (TensorFlow's
    own start-up lines), ``--device cpu`` (chosen before Keras loads), ``--no-daemon``,
    ``--help``, ``--version`` and anything unknown run in process.
    """
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--device":
            if i + 1 >= len(argv) or argv[i + 1] != "auto":
                return None
            i += 2
        elif token == "--device=auto":
            i += 1
        elif token.startswith("-"):
            return None
        else:
            return token if token in SERVED else None
    return None


def run_served(argv: list[str]) -> int | None:
    """Have a daemon run ``convcli ARGV``: the job's exit status, or None to run in process."""
    if os.environ.get("CONVCLI_DAEMON", "").strip().lower() in OFF_VALUES or "_CONVCLI_COMPLETE" in os.environ:
        return None
    if served_command(argv) is None:
        return None
    folder = runtime_dir()
    if check_private_dir(folder) is not None:
        return None
    ident = identity()
    path = socket_path(ident, folder)
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid():
        return None
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        job = _submit(conn, path, ident, argv)
    except Exception:  # anything unexpected before the job starts: run it here instead
        job = None
    if job is None:
        conn.close()
        return None
    return _Waiter(conn, *job).wait()


def _stdio_fields() -> list[bytes] | None:
    """Whether stdio is unbuffered (``-u``), and the encoding and error handler of stdin, stdout
    and stderr: the job's text streams get the same. None when one of the three is closed (then
    the job runs in process)."""
    fields = [b"%d" % bool(getattr(sys.stdout, "write_through", False))]
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        if stream is None:
            return None
        fields += [str(stream.encoding).encode(), str(stream.errors).encode()]
    return fields


def _request(ident: str, argv: list[str]) -> bytes | None:
    """The request message: protocol, identity, umask, argv, environment, stdio encodings."""
    stdio = _stdio_fields()
    if stdio is None:
        return None
    mask = os.umask(0o022)
    os.umask(mask)
    args = [os.fsencode(a) for a in [sys.argv[0], *argv]]
    env = [key + b"=" + value for key, value in os.environb.items()]
    fields = [PROTOCOL.encode(), ident.encode("utf-8", "surrogateescape"), b"%o" % mask]
    fields += [b"%d" % len(args), *args, b"%d" % len(env), *env, *stdio]
    return encode_fields(fields)


def _submit(conn: _socket.socket, path: str, ident: str, argv: list[str]) -> tuple[int, int, bytes] | None:
    """Send the job; (its pid, a pidfd to signal it, bytes read past the reply) once a forked
    process has taken it, or None when the daemon refused it or did not answer as expected."""
    message = _request(ident, argv)
    if message is None:
        return None
    conn.settimeout(ACCEPT_TIMEOUT)
    try:
        conn.connect(path)
    except OSError:
        return None
    if peer_uid(conn) != os.getuid():
        return None
    for fd in (0, 1, 2):
        os.fstat(fd)  # all three open (OSError otherwise: run in process)
    cwd = os.open(".", getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        ancillary = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds_to_bytes([cwd, 0, 1, 2]))]
        sent = conn.sendmsg([message], ancillary)
        if sent < len(message):
            conn.sendall(message[sent:])
    finally:
        os.close(cwd)
    data, ancdata, _flags, _addr = conn.recvmsg(256, _socket.CMSG_SPACE(4))
    fds = fds_from_ancillary(ancdata, _socket.SOL_SOCKET, _socket.SCM_RIGHTS)
    line, newline, rest = data.partition(b"\n")
    words = line.split()
    if newline and len(words) == 2 and words[0] == b"ok" and len(fds) == 1:
        conn.settimeout(None)
        return int(words[1]), fds[0], rest
    for fd in fds:
        os.close(fd)
    return None


class _Waiter:
    """Waits for the job's exit status, forwarding the signals this process receives to the job."""

    def __init__(self, conn: _socket.socket, pid: int, pidfd: int, pending: bytes) -> None:
        self.conn = conn
        self.pid = pid
        self.pidfd = pidfd
        self.buffer = pending
        self.forwarded: int | None = None

    def forward(self, signum: int, _frame: object) -> None:
        """Signal handler: pass the signal on to the job (a pidfd: never another process)."""
        self.forwarded = signum
        try:  # noqa: SIM105 (contextlib is not loaded yet: start-up time)
            _signal.pidfd_send_signal(self.pidfd, signum)
        except OSError:
            pass

    def wait(self) -> int:
        """The job's exit status; a job killed by signal N kills this process with N too."""
        for signum in FORWARDED_SIGNALS:
            _signal.signal(signum, self.forward)
        while b"\n" not in self.buffer:
            chunk = self.conn.recv(256)
            if not chunk:
                break
            self.buffer += chunk
        words = self.buffer.partition(b"\n")[0].split()
        if len(words) == 2 and words[0] == b"exit":
            return int(words[1])
        if len(words) == 2 and words[0] == b"signal":
            return self.die_by(int(words[1]))
        if self.forwarded is not None:  # the job died of it and no daemon was left to say so
            return self.die_by(self.forwarded)
        sys.stderr.write(
            "Error: the convcli daemon ended without reporting the job's exit status "
            "(killed?); run again, or set CONVCLI_DAEMON=off\n"
        )
        return 1

    def die_by(self, signum: int) -> int:
        """End this process by ``signum`` as the job did (the shell sees the same status)."""
        sys.stdout.flush()
        try:  # noqa: SIM105
            _signal.signal(signum, _signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL, SIGSTOP: no handler to reset
            pass
        try:  # noqa: SIM105
            os.kill(os.getpid(), signum)
        except OSError:
            pass
        return 128 + signum
