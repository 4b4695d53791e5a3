"""One job in a process forked from the daemon: become the caller's process, run, report.

The forked process takes the caller's cwd (a descriptor, so a renamed or unreadable folder
behaves as it would in process), umask, environment, locale, stdin, stdout and stderr (the
caller's own descriptors: pipes, files and terminals alike, ``isatty`` included), and then
runs exactly what ``convcli`` runs in process (:func:`convcli.entry.run_in_process`). It tells
the client its pid first, with a pidfd through which the client forwards Ctrl-C and ``kill``,
and its exit status last, itself, so a job outlives a daemon killed in the middle of it.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import sys
import threading
from typing import NoReturn

from .protocol import MAX_REQUEST, decode_fields, encode_fields, fds_from_ancillary, fds_to_bytes


class Request:
    """A job request's fields: umask, argv, environment and the stdio settings (see the client)."""

    def __init__(self, fields: list[bytes]) -> None:
        self.umask = int(fields[2], 8)
        argc = int(fields[3])
        self.argv = [os.fsdecode(a) for a in fields[4 : 4 + argc]]
        envc = int(fields[4 + argc])
        start = 5 + argc
        self.env = dict(item.partition(b"=")[::2] for item in fields[start : start + envc])
        rest = fields[start + envc :]
        self.unbuffered = rest[0] == b"1"
        self.stdio = [(rest[i].decode(), rest[i + 1].decode()) for i in (1, 3, 5)]
        if not self.argv or len(rest) != 7:
            raise ValueError("malformed request")


def read_request(conn: socket.socket, max_fds: int = 5) -> tuple[list[bytes], list[int]]:
    """One length-prefixed message (see protocol.encode_fields) and the descriptors sent with it."""
    data, ancdata, _flags, _addr = conn.recvmsg(65536, socket.CMSG_SPACE(4 * max_fds))
    fds = fds_from_ancillary(ancdata, socket.SOL_SOCKET, socket.SCM_RIGHTS)
    if len(data) < 4:
        for fd in fds:
            os.close(fd)
        raise EOFError("no request")
    size = int.from_bytes(data[:4], "big")
    body = bytearray(data[4:])
    while len(body) < size <= MAX_REQUEST:
        chunk = conn.recv(min(1 << 16, size - len(body)))
        if not chunk:
            break
        body += chunk
    if len(body) != size:
        for fd in fds:
            os.close(fd)
        raise ValueError("truncated or oversized request")
    return decode_fields(bytes(body)), fds


def hand_over(channel: socket.socket, conn: socket.socket, fields: list[bytes], fds: list[int]) -> None:
    """Give a spare process its job: the request and the client's connection and descriptors."""
    message = encode_fields(fields)
    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds_to_bytes([conn.fileno(), *fds]))]
    sent = channel.sendmsg([message], ancillary)
    channel.sendall(message[sent:])


def spare(channel: socket.socket, env_set: dict[bytes, bytes]) -> NoReturn:
    """A process forked before it is needed: it warms the backend's runtime, then waits for its one
    job (:func:`hand_over`) and runs it. It leaves when the daemon goes (end of file).

    The warm-up is one tiny ``keras.ops.conv`` (:func:`warm_runtime`), and, when no job waits
    yet, the other operations of a small CNN (:func:`warm_model_ops`): they start TensorFlow's
    thread pools and load its kernels (0.3-0.6 s of a first call) and create no Keras object,
    so no layer name, counter or seed a job could see. Safe here because this process never forks again.
    """
    status = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if "keras" in sys.modules:  # none in a runtime-only install: nothing to warm
            warm_runtime()
            warm_model_ops(channel)
        fields, fds = read_request(channel)
        channel.close()
        conn = socket.socket(fileno=fds[0])
        run_job(conn, Request(fields), fds[1:], env_set)
    except (EOFError, OSError, ValueError):
        status = 0  # the daemon went away before a job came
    except BaseException:
        status = 1
    os._exit(status)


def warm_runtime() -> None:
    """Run one 8×8 convolution through ``keras.ops`` (see :func:`spare`)."""
    import numpy as np

    from ..backend import keras

    ops = keras().ops
    ops.convert_to_numpy(ops.conv(np.zeros((1, 8, 8, 1), "float32"), np.zeros((3, 3, 1, 1), "float32")))


def warm_model_ops(channel: socket.socket) -> None:
    """Unless a job already waits on ``channel``: run, through ``keras.ops``, one tiny pass of what
    loading and calling a small CNN runs (random initializers with a fixed seed, pooling, dense,
    softmax), so a one-image ``predict`` skips their first-call costs (about 35 ms). Only while
    idle: it costs 45 ms of CPU, which a job that came meanwhile (a shell loop of ``filter``
    calls) would wait for. Nothing global is touched: an integer seed draws from no seed
    generator, and no Keras object is made."""
    import select

    import numpy as np

    from ..backend import keras

    if select.select([channel], [], [], 0)[0]:
        return
    k = keras()
    ops = k.ops
    image = ops.conv(np.zeros((1, 8, 8, 1), "float32"), np.zeros((3, 3, 1, 2), "float32"), padding="same")
    image = ops.max_pool(ops.relu(ops.add(image, np.zeros((2,), "float32"))), 2)
    scores = ops.softmax(ops.matmul(ops.reshape(image, (1, -1)), np.zeros((32, 10), "float32")))
    ops.convert_to_numpy(scores)
    drawn = k.random.uniform((3, 3), seed=1) + k.random.normal((3,), seed=1) + k.random.truncated_normal((3,), seed=1)
    ops.convert_to_numpy(drawn)


def run_job(conn: socket.socket, request: Request, fds: list[int], env_set: dict[bytes, bytes]) -> NoReturn:
    """The forked job: report our pid, take over the caller's context, run, report the status."""
    status = 1
    try:
        pidfd = os.pidfd_open(os.getpid())
        conn.settimeout(None)
        conn.sendmsg([b"ok %d\n" % os.getpid()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds_to_bytes([pidfd]))])
        os.close(pidfd)
        _become_caller(request, fds, env_set)
        status = _run()
    except BaseException:  # the job's own failures are handled inside _run; this is set-up failing
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(OSError):
            conn.sendall(b"exit %d\n" % status)
        os._exit(status)


def _become_caller(request: Request, fds: list[int], env_set: dict[bytes, bytes]) -> None:
    """Signals as in a fresh interpreter, then the caller's cwd, stdio, umask and environment."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    cwd, stdin, stdout, stderr = fds
    os.fchdir(cwd)
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
    for fd in set(fds):
        if fd > 2:
            os.close(fd)
    os.umask(request.umask)
    os.environb.clear()
    os.environb.update(request.env)
    os.environb.update(env_set)  # what importing Keras set in the daemon, as it would here
    _locale_and_clock()
    _stdio(request)
    sys.argv = request.argv


def _locale_and_clock() -> None:
    """``LC_CTYPE`` from the caller's ``LANG``/``LC_*`` (as Python sets it at start-up) and ``TZ``."""
    import locale
    import time

    with contextlib.suppress(locale.Error):
        locale.setlocale(locale.LC_CTYPE, "")
    time.tzset()


def _stdio(request: Request) -> None:
    """New ``sys.stdin/stdout/stderr`` on descriptors 0–2, made the way CPython makes them:
    line-buffered on a terminal (stderr always), the caller's encodings and error handlers."""
    streams = []
    for fd, (encoding, errors) in enumerate(request.stdio):
        mode = "rb" if fd == 0 else "wb"
        raw = io.FileIO(fd, mode, closefd=False)
        buffered = raw if request.unbuffered and fd else open(fd, mode, closefd=False)  # noqa: SIM115
        line_buffering = not request.unbuffered and (raw.isatty() or fd == 2)
        stream = io.TextIOWrapper(
            buffered,  # type: ignore[arg-type]
            encoding=encoding,
            errors=errors,
            newline="\n",
            line_buffering=line_buffering,
            write_through=request.unbuffered and fd > 0,
        )
        stream.mode = "r" if fd == 0 else "w"  # type: ignore[misc]
        streams.append(stream)
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams  # type: ignore[misc]


def _run() -> int:
    """Run the command as in process; its exit status as the interpreter would compute it."""
    from ..entry import run_in_process

    try:
        run_in_process()
        status = 0
    except SystemExit as exc:
        status = _exit_status(exc.code)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        status = 1
    for thread in threading.enumerate():  # the interpreter waits for these before exiting too
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = 120 if status == 0 else status  # CPython's status when flushing at exit fails
    return status


def _exit_status(code: object) -> int:
    """``sys.exit(code)``'s process status: None is 0, an int itself, anything else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write(f"{code}\n")
    return 1
