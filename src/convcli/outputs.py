"""Atomic, safe writing of every file convcli produces.

Each output is written to a temporary file in the destination folder and renamed into place
only once complete, so an existing file is replaced whole or not at all, and an interrupted or
failed write never leaves a partial file behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import input_error, work_error
from .i18n import tr


def check_output_path(
    path: str | os.PathLike[str],
    *,
    inputs: tuple[str | os.PathLike[str], ...] = (),
    in_place: bool | None = None,
) -> Path:
    """Check that ``path`` can be an output: its folder exists and it is not one of ``inputs``
    (unless ``in_place``; None: the command has no such option, and the refusal names none).

    Raised before any work is done, so bad usage costs nothing and writes nothing.
    """
    out = Path(path)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.exists():
        raise input_error(tr("{path}: output folder {folder} does not exist").format(path=out, folder=parent))
    if not parent.is_dir():
        raise input_error(tr("{path}: {folder} is not a folder").format(path=out, folder=parent))
    if out.is_dir():
        raise input_error(tr("{path}: is a folder, expected a file name").format(path=out))
    if not in_place:
        for item in inputs:
            if str(item) == "-":
                continue
            with contextlib.suppress(OSError):
                if out.exists() and out.samefile(item):
                    message = (
                        tr("{path}: output would overwrite its own input")
                        if in_place is None
                        else tr("{path}: output would overwrite its own input (in_place allows it)")
                    )
                    raise input_error(message.format(path=out))
    return out


def make_folder(path: str | os.PathLike[str]) -> None:
    """Make the folder an output goes into, when missing (a mirrored input folder)."""
    folder = Path(path).parent
    if not folder.is_dir():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise work_error(
                tr("{path}: cannot make its folder {folder} ({reason})").format(
                    path=path, folder=folder, reason=exc.strerror or exc
                )
            ) from None


def check_output_dir(path: str | os.PathLike[str]) -> Path:
    """Check that an output folder exists and is a folder."""
    out = Path(path)
    if not out.exists():
        raise input_error(tr("{path}: output folder does not exist").format(path=out))
    if not out.is_dir():
        raise input_error(tr("{path}: is not a folder").format(path=out))
    return out


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The temporary file keeps ``path``'s suffix (libraries such as Keras pick formats by it).
    On any exception the temporary file is removed and the previous ``path`` is untouched.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.",
            suffix=suffix if suffix is not None else target.suffix,
            dir=folder,
        )
    except OSError as exc:
        raise _write_error(target, exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise work_error(tr("{path}: nothing was written; previous file left intact").format(path=target))
        _copy_mode(target, tmp)
        if _is_kept(target):
            _place_new(tmp, target)
        else:
            os.replace(tmp, target)
    except OSError as exc:
        raise _write_error(target, exc) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


_KEPT: set[str] = set()
_KEPT_LOCK = threading.Lock()


@contextlib.contextmanager
def never_replacing(paths: Iterable[str | os.PathLike[str]]) -> Iterator[None]:
    """While the block runs, an atomic write to one of ``paths`` lands only where no file is: if
    another process wrote one meanwhile (two ``--no-clobber`` runs into one folder), the write
    fails, naming it, and that file is left as the other run wrote it. The check before any
    work cannot see such a race; a hard link, which never replaces, closes it."""
    kept = {os.path.abspath(p) for p in paths}
    with _KEPT_LOCK:
        kept -= _KEPT
        _KEPT.update(kept)
    try:
        yield
    finally:
        with _KEPT_LOCK:
            _KEPT.difference_update(kept)


def _is_kept(target: Path) -> bool:
    if not _KEPT:
        return False
    with _KEPT_LOCK:
        return os.path.abspath(target) in _KEPT


def _place_new(tmp: Path, target: Path) -> None:
    """Put ``tmp`` at ``target`` only if nothing is there (``link`` fails rather than replace)."""
    taken = tr("{path}: written meanwhile by another run; left as it is, nothing written")
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise work_error(taken.format(path=target)) from None
    except OSError:  # a file system without hard links: claim the name, then move onto the claim
        try:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            raise work_error(taken.format(path=target)) from None
        os.replace(tmp, target)


def _copy_mode(target: Path, tmp: Path) -> None:
    """Give the new file ordinary permissions (mkstemp makes it 0600)."""
    try:
        mode = target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    with contextlib.suppress(OSError):
        os.chmod(tmp, mode)


def _write_error(target: Path, exc: OSError):  # type: ignore[no-untyped-def]
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = tr("no space left on device")
    if target.exists():
        return work_error(
            tr("{path}: cannot write ({reason}); previous file left intact").format(path=target, reason=reason)
        )
    return work_error(tr("{path}: cannot write ({reason})").format(path=target, reason=reason))


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    return write_bytes(path, text.encode("utf-8"))
