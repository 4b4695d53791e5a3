"""What the daemon and its client agree on, in the standard library only (the client imports it
before anything else, so every import here costs start-up time of every convcli call).

- **Where**: a Unix socket in ``$XDG_RUNTIME_DIR/convcli`` (else ``/tmp/convcli-UID``), a folder
  checked with ``lstat`` before each use: a real folder (not a symlink), owned by this user,
  mode 0700. Nobody else can reach the socket, and the peer's uid is checked on both ends too.
- **Which**: one daemon per *identity*: convcli's version and source files, the interpreter and
  its import path, and the environment variables read while Keras imports (backend, devices,
  ``keras.json``). The socket's name is a hash of it; the request carries it whole and the
  daemon refuses any difference, so a stale daemon never serves (the call runs in process).
- **How**: the request is one length-prefixed message of NUL-separated fields (argv and the
  environment are bytes that may not be UTF-8) sent together with the client's descriptors
  (cwd, stdin, stdout, stderr) by ``SCM_RIGHTS``; replies are single ASCII lines.
"""

from __future__ import annotations

import os
import stat
import sys

PROTOCOL = "convcli-daemon/1"
DEFAULT_IDLE = 900
"""Seconds without a job after which a daemon exits (15 minutes)."""
MAX_REQUEST = 4 << 20
"""Largest request accepted (argv and environment): 4 MiB, far above ARG_MAX's usual 2 MiB."""
IMPORT_ENV_PREFIXES = ("KERAS_", "TF_", "ABSL_", "JAX_", "XLA_", "CUDA_", "TORCH_", "PYTORCH_", "OMP_", "MKL_")
"""Environment variables read while the backend imports: a different value needs another daemon."""
IMPORT_ENV_NAMES = ("HOME", "CONVCLI_TF_CPU_DEVICES", "PYTHONHASHSEED", "PYTHONWARNINGS", "LD_LIBRARY_PATH")


def runtime_dir() -> str:
    """The folder holding this user's sockets: ``$XDG_RUNTIME_DIR/convcli`` or ``/tmp/convcli-UID``."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isabs(base):
        return os.path.join(base, "convcli")
    return os.path.join("/tmp", f"convcli-{os.getuid()}")


def check_private_dir(path: str) -> str | None:
    """Why ``path`` is not a safe place for our socket (None when it is): it must be a folder,
    not a symlink, owned by this user, with no access for group or others (``lstat``)."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    if stat.S_ISLNK(info.st_mode):
        return f"{path}: is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return f"{path}: is not a folder"
    if info.st_uid != os.getuid():
        return f"{path}: owned by uid {info.st_uid}, not {os.getuid()}"
    if info.st_mode & 0o077:
        return f"{path}: mode {stat.S_IMODE(info.st_mode):04o} lets others in (0700 needed)"
    return None


def make_private_dir(path: str) -> str | None:
    """Create ``path`` with mode 0700 if missing, then check it; returns why it is unsafe, or None."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    return check_private_dir(path)


def _source_stamp(package: str) -> str:
    """Size and modification time of every ``.py`` file of the package: edited code is a new identity."""
    total = 0
    count = 0
    for folder, _dirs, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                info = os.stat(os.path.join(folder, name))
                total = (total * 31 + info.st_mtime_ns + info.st_size) % (1 << 61)
                count += 1
    return f"{count}:{total:x}"


def _path_stamp(entry: str) -> str:
    """An import-path folder and, for a site-packages folder, what is installed there: the names
    of its ``*.dist-info``/``*.egg-info`` folders and ``.pth`` files (names carry versions), so
    installing, upgrading or removing a package is a new identity, and writing bytecode is not."""
    if os.path.basename(entry) not in ("site-packages", "dist-packages"):
        return entry
    try:
        names = sorted(n for n in os.listdir(entry) if n.endswith((".dist-info", ".egg-info", ".pth")))
    except OSError:
        return entry
    return f"{entry}@{len(names)}:{short_hash(chr(10).join(names))}"


def _file_stamp(path: str) -> str:
    """A file and its modification time (``keras.json``: Keras reads it once, at import)."""
    try:
        return f"{path}@{os.stat(path).st_mtime_ns}"
    except OSError:
        return path


def identity() -> str:
    """This installation and environment as one string; the daemon serves only its exact equal.

    ``sys.path[0]`` (the script's folder, or the caller's cwd under ``python -m``) is left out:
    it differs between ``convcli`` and ``python -m convcli`` but does not change what is imported.
    """
    from .. import __version__
    from ..i18n import language

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = sorted(
        f"{key}={value}"
        for key, value in os.environ.items()
        if key.startswith(IMPORT_ENV_PREFIXES) or key in IMPORT_ENV_NAMES
    )
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    parts = [
        PROTOCOL,
        f"convcli {__version__} {package} {_source_stamp(package)}",
        f"python {sys.executable} {sys.version}",
        "path " + os.pathsep.join(_path_stamp(p) for p in sys.path[1:]),
        "keras.json " + _file_stamp(os.path.join(keras_home, "keras.json")),
        f"language {language()}",  # help and messages are translated as the CLI is imported
        *env,
    ]
    return "\n".join(parts)


def short_hash(text: str) -> str:
    """A 61-bit hash of ``text`` in hex: its bytes as one integer modulo the prime 2**61 - 1,
    computed in C (a pure-Python loop over the bytes costs milliseconds on every call). It
    names the socket; the full identity is compared anyway."""
    return f"{int.from_bytes(text.encode('utf-8', 'surrogateescape'), 'big') % ((1 << 61) - 1):016x}"


def socket_path(ident: str, folder: str | None = None) -> str:
    """The socket of the daemon serving ``ident``."""
    return os.path.join(folder or runtime_dir(), f"daemon-{short_hash(ident)}.sock")


def lock_path(sock: str) -> str:
    """The lock file beside a socket: held (``flock``) by the live daemon, holding its pid."""
    return sock[: -len(".sock")] + ".lock"


# --------------------------------------------------------------------------- messages


def encode_fields(fields: list[bytes]) -> bytes:
    """One message: its length (4 bytes, big-endian), then the fields joined by NUL bytes."""
    body = b"\0".join(fields)
    return len(body).to_bytes(4, "big") + body


def decode_fields(body: bytes) -> list[bytes]:
    """The fields of a message body (see :func:`encode_fields`)."""
    return body.split(b"\0")


def fds_to_bytes(fds: list[int]) -> bytes:
    """File descriptors as ``SCM_RIGHTS`` ancillary data (native C ints)."""
    return b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)


def fds_from_ancillary(ancdata: list[tuple[int, int, bytes]], level: int, kind: int) -> list[int]:
    """The file descriptors received in ``SCM_RIGHTS`` ancillary data."""
    fds: list[int] = []
    for cmsg_level, cmsg_type, data in ancdata:
        if cmsg_level == level and cmsg_type == kind:
            usable = len(data) - len(data) % 4
            fds += [int.from_bytes(data[i : i + 4], sys.byteorder, signed=True) for i in range(0, usable, 4)]
    return fds


def peer_uid(sock: object) -> int:
    """The uid of the process at the other end of a Unix socket (``SO_PEERCRED``: pid, uid, gid)."""
    import _socket

    creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)  # type: ignore[attr-defined]
    return int.from_bytes(creds[4:8], sys.byteorder)
