"""The project's one error type, its warning category and the exit statuses the CLI documents.

Library code raises :class:`ConvcliError` with a message written for the user; the CLI prints
it as a single ``Error: …`` line on stderr and exits with the error's status. Warnings (the work
goes on) are :class:`ConvcliWarning` warnings, printed as ``Warning: …`` lines on stderr.

One rule for naming settings: a library message names the function's parameter (``max_pixels``,
or a one-word parameter marked with :func:`param`: ```index```); the CLI shows the flag the user
typed instead (``--max-pixels``, ``--index``), with one mapping, ``cli.common.name_flags``.
"""

from __future__ import annotations

import os

from .i18n import tr

EXIT_OK = 0
"""Success."""
EXIT_FAILURE = 1
"""Failure while working: an I/O error, an interrupted run, failures in a ``--keep-going`` batch."""
EXIT_USAGE = 2
"""Bad usage or bad input: a wrong option, an unreadable image, a malformed kernel file."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (SIGINT), as shells report it."""


class ConvcliError(Exception):
    """An error whose message is meant for the user, with the exit status it should cause.

    ``exit_code`` is :data:`EXIT_USAGE` for bad input (the default) and :data:`EXIT_FAILURE` for
    failures while working (I/O errors, interrupted runs).
    """

    def __init__(self, message: str, *, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class ConvcliWarning(UserWarning):
    """A warning meant for the user (the CLI prints it as one ``Warning: …`` line on stderr).

    Library code warns through :func:`warn`, Python's own ``warnings`` machinery, so that it
    never prints and a library caller can filter, record or raise warnings as usual.
    """


def warn(message: str) -> None:
    """Issue a :class:`ConvcliWarning` (e.g. a dataset that is not the model's)."""
    import warnings

    warnings.warn(message, ConvcliWarning, stacklevel=2)


def param(name: str) -> str:
    """A parameter named in a message (```name```): the CLI shows it as its flag (``--name``)."""
    return f"`{name}`"


def input_error(message: str) -> ConvcliError:
    """Bad input or usage (exit status 2)."""
    return ConvcliError(message, exit_code=EXIT_USAGE)


def work_error(message: str) -> ConvcliError:
    """A failure while working, such as an I/O error (exit status 1)."""
    return ConvcliError(message, exit_code=EXIT_FAILURE)


def check_bounds(name: str, value: int, low: int, high: int | None = None) -> int:
    """Return ``value`` if ``low <= value`` (``<= high``), else raise an input error naming the
    parameter ``name`` (its flag, seen through the CLI)."""
    if high is None and value < low:
        message = tr("{name} must be at least {low}, got {value}")
        raise input_error(message.format(name=param(name), low=low, value=value))
    if high is not None and not low <= value <= high:
        message = tr("{name} must be between {low} and {high}, got {value}")
        raise input_error(message.format(name=param(name), low=low, high=high, value=value))
    return value


def no_such_file(path: str | os.PathLike[str]) -> str:
    """``PATH: no such file``, the name quoted when it holds a control character (a list with
    Windows line ends leaves a carriage return at the end of each name, invisible on a terminal),
    with that hint when the name without it exists."""
    name = os.fspath(path)
    if not any(ord(ch) < 32 or ord(ch) == 127 for ch in str(name)):
        return tr("{path}: no such file").format(path=name)
    message = tr("{path}: no such file").format(path=repr(name))
    if str(name).endswith("\r") and os.path.exists(str(name).rstrip("\r")):
        message += tr(
            " ({name} exists: the list has Windows line ends; convert it with dos2unix or tr -d '\\r')"
        ).format(name=repr(str(name).rstrip("\r")))
    return message


def read_text(path: str | os.PathLike[str], what: str = "the file") -> str:
    """A UTF-8 text file's contents (a byte-order mark dropped), or an input error naming the file
    and ``what`` it was read as: the one way spec, code and kernel files are opened."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return handle.read()
    except FileNotFoundError:
        raise input_error(no_such_file(path)) from None
    except IsADirectoryError:
        raise input_error(tr("{p}: is a folder, expected a file").format(p=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = f"{what}: {getattr(exc, 'strerror', None) or exc}"
        raise input_error(tr("{path}: cannot read ({reason})").format(path=path, reason=reason)) from None
