"""The daemon: a zygote that imported Keras but never ran an operation, forking one process per job.

Why a zygote: a forked job starts from a clean copy of a warm process, so one job's crash,
leaked state, changed cwd or environment never reaches the next, and jobs run side by side
(``xargs -P 8``) with the warm pages shared. The zygote itself never runs a TensorFlow
operation: TensorFlow starts its thread pools on the first one, and a process forked after that
can hang. The alternative, long-lived workers that run job after job, would carry one job's
state (Keras's global name counters, TensorFlow's caches, changed cwd) into the next.

Run as ``python -m convcli.daemon.server`` by ``convcli daemon start`` (see control.py), which
waits for the ``ready`` line on ``--ready-fd``. One daemon per identity (protocol.py) is held by
a ``flock`` on its lock file for its whole life, so two racing starts leave one daemon.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import selectors
import signal
import socket
import sys
import time
from typing import Any

from ..i18n import setup
from .protocol import (
    DEFAULT_IDLE,
    PROTOCOL,
    identity,
    lock_path,
    make_private_dir,
    peer_uid,
    runtime_dir,
    socket_path,
)
from .worker import hand_over, read_request, spare

POLL = 0.25
"""Seconds between checks for finished jobs and the idle timeout."""
WARM_MODULES = (
    "convcli.filtering.pipeline",
    "convcli.filtering.convolution",
    "convcli.filtering.bands",
    "convcli.imaging.encoding",
    "convcli.imaging.pngstream",
    "convcli.prediction.predict",
    "convcli.prediction.digits",
    "convcli.prediction.seen",
    "convcli.prediction.evaluation",
    "convcli.batches.predicting",  # predict's own modules: 15-20 ms of a one-image predict
    "convcli.models.inputs",
    "convcli.models.runtime",
    "encodings.cp437",  # zipfile's names in a .keras archive
    "convcli.models.inspection",
    "convcli.models.summary",
    "convcli.models.build",
    "convcli.models.metadata",
    "convcli.datasets.idx",
    "keras.src.saving.saving_lib",
    "convcli.entry",
    "typer.rich_utils",  # --help
    "rich.markdown",
    "rich.syntax",
    "rich.traceback",
    "rich.progress",
    "rich.table",
    "PIL.PngImagePlugin",  # what decoding and encoding load on first use
    "PIL.JpegImagePlugin",
    "PIL.BmpImagePlugin",
    "PIL.GifImagePlugin",
    "PIL.PpmImagePlugin",
    "PIL.TiffImagePlugin",
    "PIL.ImageOps",
    "PIL.ImageChops",
    "matplotlib.colors",  # feature maps and weights pictures
)
LAZY_PACKAGES = (
    "skimage.filters",  # digit preparation (predict, feature-maps), montages
    "skimage.measure",
    "skimage.transform",
    "skimage.exposure",
    "skimage.util",
    "skimage.morphology",
)
"""scikit-image packages that load their functions on first use: every function loaded here."""
"""Imported in the zygote so no job pays for them (imports only: none runs an operation)."""


def warm_up() -> dict[bytes, bytes]:
    """Import the CLI, Keras and the job modules; returns the environment variables that
    importing Keras set (each job sets them again over its caller's environment). In an install
    without Keras (``convcli[runtime]``: exported models only) the rest is imported, and jobs
    that need Keras fail as they would in process."""
    import importlib

    before = dict(os.environb)
    from ..backend import keras
    from ..cli import app

    try:
        keras()
    except ModuleNotFoundError as exc:
        if exc.name != "keras":  # Keras there but its backend missing: an error, as before
            raise
    for name in WARM_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    for name in LAZY_PACKAGES:
        with contextlib.suppress(ImportError):
            package = importlib.import_module(name)
            for attribute in getattr(package, "__all__", ()):
                with contextlib.suppress(ImportError, AttributeError):
                    getattr(package, attribute)
    _cache_click_command(app)
    return {k: v for k, v in os.environb.items() if before.get(k) != v}


def _cache_click_command(app: Any) -> None:
    """Build the Click command tree of ``app`` once, here, instead of in every job (Typer rebuilds
    it on each call: 0.1-0.4 s). Jobs get a fresh copy of it with their forked memory."""
    import typer.main

    built = typer.main.get_command(app)
    original = typer.main.get_command

    def get_command(instance: Any) -> Any:
        return built if instance is app else original(instance)

    typer.main.get_command = get_command  # type: ignore[assignment]


class Zygote:
    """Accepts requests on the listening socket and gives each to a process forked for it.

    One such process is forked ahead of demand (a *spare*, see worker.spare) whenever no job
    runs, so a call does not wait for the fork (60-100 ms for this 700 MiB process) nor for the
    backend's first operation; jobs arriving together get a fork each.
    """

    def __init__(self, listener: socket.socket, ident: str, idle: float, env_set: dict[bytes, bytes]) -> None:
        self.listener = listener
        self.ident = ident
        self.idle = idle
        self.env_set = env_set
        self.jobs: dict[int, socket.socket] = {}
        self.spare: tuple[int, socket.socket] | None = None
        self.served = 0
        self.started = time.time()
        self.last_active = time.monotonic()
        self.stopping = False
        self.selector = selectors.DefaultSelector()
        self.wakeup = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def serve(self) -> None:
        """Serve until ``stop``, SIGTERM/SIGINT, or the idle timeout with no job running."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a finished job wakes the loop at once
        signal.set_wakeup_fd(self.wakeup[1])
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.selector.register(self.wakeup[0], selectors.EVENT_READ)
        while not self.stopping:
            for key, _mask in self.selector.select(POLL):
                if key.fileobj is self.listener:
                    self.accept()
                elif key.fileobj == self.wakeup[0]:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wakeup[0], 512)
                else:
                    self.client_event(key.fileobj)  # type: ignore[arg-type]
            self.reap()
            if not self.jobs and time.monotonic() - self.last_active > self.idle:
                break
            if self.spare is None and not self.jobs and not self.stopping:
                self.make_spare()

    def accept(self) -> None:
        """Take one connection: refuse another user, answer control requests, start a job."""
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        fds: list[int] = []
        try:
            conn.settimeout(2.0)
            if peer_uid(conn) != os.getuid():
                conn.close()  # another user's call is never served (it runs in its own process)
                return
            fields, fds = read_request(conn, max_fds=4)
            if fields[0] in (b"status", b"stop"):
                conn.sendall(self.control(fields[0]))
            elif fields[0] != PROTOCOL.encode() or fields[1] != self.ident.encode("utf-8", "surrogateescape"):
                conn.sendall(b"refused stale\n")
            elif len(fds) == 4:
                self.start_job(conn, fields, fds)
                return
            else:
                conn.sendall(b"refused malformed\n")
        except (OSError, ValueError, IndexError, EOFError):
            pass
        finally:
            for fd in fds:
                os.close(fd)
        conn.close()

    def control(self, what: bytes) -> bytes:
        """``status``: one ``key value`` line each; ``stop``: stop after answering."""
        if what == b"stop":
            self.stopping = True
            return b"stopping %d\n" % os.getpid()
        from .. import __version__

        lines = {
            "pid": os.getpid(),
            "version": __version__,
            "served": self.served,
            "running": len(self.jobs),
            "idle_timeout": self.idle,
            "idle_seconds": round(time.monotonic() - self.last_active, 1) if not self.jobs else 0,
            "started": round(self.started, 3),
            "identity": self.ident.replace("\n", "\t"),
        }
        return "".join(f"{k} {v}\n" for k, v in lines.items()).encode("utf-8", "surrogateescape")

    def make_spare(self) -> None:
        """Fork a spare process (worker.spare) that waits on a socket pair for its job."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            for fd in (*self.wakeup, self.listener.fileno()):
                os.close(fd)
            for conn in self.jobs.values():
                conn.close()
            ours.close()
            spare(theirs, self.env_set)
        theirs.close()
        self.spare = (pid, ours)

    def start_job(self, conn: socket.socket, fields: list[bytes], fds: list[int]) -> None:
        """Hand the job to the spare (forking one if none waits); it replies ``ok PID`` itself."""
        for _attempt in range(2):
            if self.spare is None:
                self.make_spare()
            assert self.spare is not None
            pid, channel = self.spare
            self.spare = None
            try:
                hand_over(channel, conn, fields, fds)
            except OSError:  # the spare died meanwhile: another one
                continue
            finally:
                channel.close()
            self.served += 1
            self.jobs[pid] = conn
            self.selector.register(conn, selectors.EVENT_READ)
            self.last_active = time.monotonic()
            return
        conn.sendall(b"refused no process\n")

    def client_event(self, conn: socket.socket) -> None:
        """The client's end closed while its job runs (the client was killed): end the job too."""
        try:
            data = conn.recv(64)
        except OSError:
            data = b""
        if data:
            return
        self.selector.unregister(conn)
        for pid, job_conn in self.jobs.items():
            if job_conn is conn:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # not reaped yet: the pid is still this job's

    def reap(self) -> None:
        """Collect finished processes; tell each client its job's status (the job may have already)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.spare is not None and self.spare[0] == pid:
                self.spare[1].close()
                self.spare = None
            conn = self.jobs.pop(pid, None)
            if conn is None:
                continue
            self.last_active = time.monotonic()
            if os.WIFSIGNALED(status):
                message = b"signal %d\n" % os.WTERMSIG(status)
            else:
                message = b"exit %d\n" % os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                conn.sendall(message)
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(conn)
            conn.close()


def _listen(path: str) -> tuple[socket.socket, int]:
    """Bind the socket (replacing a dead daemon's: we hold the lock), mode 0600; (socket, inode)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    listener.listen(64)
    return listener, os.lstat(path).st_ino


def main(argv: list[str] | None = None) -> int:
    """Start a daemon for this identity: ``ready PID``, ``busy PID`` or ``error WHY`` on the ready fd."""
    parser = argparse.ArgumentParser(prog="python -m convcli.daemon.server")
    parser.add_argument("--idle", type=float, default=DEFAULT_IDLE)
    parser.add_argument("--ready-fd", type=int, default=None)
    args = parser.parse_args(argv)
    ready = os.fdopen(args.ready_fd, "w") if args.ready_fd is not None else sys.stdout
    os.chdir("/")
    setup()  # the language of its jobs (part of the identity), before the CLI is imported
    ident = identity()  # before Keras's import changes the environment
    folder = runtime_dir()
    problem = make_private_dir(folder)
    if problem:
        ready.write(f"error unsafe runtime folder: {problem}\n")
        return 1
    path = socket_path(ident, folder)
    lock = os.open(lock_path(path), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        ready.write(f"busy {os.pread(lock, 32, 0).decode(errors='replace').strip()}\n")
        return 0
    os.ftruncate(lock, 0)
    os.pwrite(lock, f"{os.getpid()}\n".encode(), 0)
    env_set = warm_up()
    listener, inode = _listen(path)
    ready.write(f"ready {os.getpid()}\n")
    ready.close()
    try:
        Zygote(listener, ident, args.idle, env_set).serve()
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            if os.lstat(path).st_ino == inode:
                os.unlink(path)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # not the interpreter's shutdown: with TensorFlow loaded it takes seconds
