"""The language of convcli's messages: English, or Spanish in the lecture's own words.

:func:`setup` runs once, first thing in ``convcli`` (before Click and Typer are imported): it picks
the language from ``CONVCLI_LANG`` (``es`` or ``en``) or else the standard variables ``LANGUAGE``,
``LC_ALL``, ``LC_MESSAGES``, ``LANG`` (``es_ES.UTF-8``, ``es_MX``, ``es_AR``…), and for Spanish it
makes the ``convcli`` catalog the process's gettext domain, so that the strings Click and Typer
pass to the standard library's ``gettext.gettext`` translate too. English is the default and costs
nothing; a library caller that never calls :func:`setup` reads English. Standard library only,
and :mod:`gettext` (with :mod:`re`) is imported only for Spanish: this runs on every call, before
anything else, also on the daemon client's path, which loads nothing it can avoid.
"""

from __future__ import annotations

import os
from contextvars import ContextVar

DOMAIN = "convcli"
LANGUAGES = ("en", "es")
"""What convcli speaks: the first is the default (and the language of the code's own strings)."""
STANDARD_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
"""Read in gettext's order: the first one set decides (``LANGUAGE`` may list several, ``fr:es``)."""
CATALOG = os.path.join("es", "LC_MESSAGES", DOMAIN)
"""The catalog under a locale folder, without its suffix (``.po`` in the source, ``.mo`` compiled)."""


class _State:
    active = False
    catalog: object = None  # the process's catalog once Spanish is chosen: looked up once, not per message
    spanish: object = None  # the catalog for a request's own language (see speak)


_SPOKEN: ContextVar[str] = ContextVar("convcli_spoken", default="")
"""The language of the request being answered (the explain server's Accept-Language), per thread."""


def _code(name: str) -> str:
    """``es_AR.UTF-8@euro`` → ``es``; ``C``/``POSIX`` → ``en``; unknown languages → ``""``."""
    code = name.split(".")[0].split("@")[0].split("_")[0].split("-")[0].strip().lower()
    if code in ("c", "posix"):
        return "en"
    return code if code in LANGUAGES else ""


def language() -> str:
    """``es`` or ``en``: ``CONVCLI_LANG`` when set, else the first known language of the first
    standard variable that is set, as gettext reads them; English otherwise."""
    override = os.environ.get("CONVCLI_LANG", "").strip()
    if override:
        return _code(override) or LANGUAGES[0]
    for variable in STANDARD_VARIABLES:
        value = os.environ.get(variable, "")
        if value:
            for item in value.split(":"):
                if _code(item):
                    return _code(item)
            return LANGUAGES[0]
    return LANGUAGES[0]


def locale_dir() -> str | None:
    """The folder holding ``es/LC_MESSAGES/convcli.mo``: the package's own (a wheel, compiled by
    the build), else a per-user cache compiled from the package's ``.po`` on first use (a source
    checkout or editable install, where no ``.mo`` is committed); None when neither is possible."""
    packaged = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")
    if os.path.exists(os.path.join(packaged, CATALOG + ".mo")):
        return packaged
    source = os.path.join(packaged, CATALOG + ".po")
    try:
        info = os.stat(source)
    except OSError:
        return None
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(cache, "convcli", "locale", f"{info.st_mtime_ns:x}-{info.st_size:x}")
    if not os.path.exists(os.path.join(folder, CATALOG + ".mo")):
        from .pofile import compile_catalog

        try:
            compile_catalog(source, os.path.join(folder, CATALOG + ".mo"))
        except (OSError, ValueError):
            return None
    return folder


def setup() -> str:
    """Choose the language for this process (once, before Click and Typer are imported); returns it.

    Spanish binds the ``convcli`` domain as gettext's default domain; with ``CONVCLI_LANG=es``
    it also sets ``LANGUAGE=es``, the variable gettext reads first, so that the standard library's
    lookup (which Click and Typer use) and this process's child processes agree with the choice.
    """
    chosen = language()
    if chosen == "en" or _State.active:
        return chosen
    folder = locale_dir()
    if folder is None:
        return "en"
    if os.environ.get("CONVCLI_LANG", "").strip():
        os.environ["LANGUAGE"] = chosen
    import gettext

    gettext.bindtextdomain(DOMAIN, folder)
    gettext.textdomain(DOMAIN)
    _State.catalog = gettext.translation(DOMAIN, folder, fallback=True)
    _State.active = True
    return chosen


def active() -> bool:
    """Whether messages are being translated (Spanish chosen and its catalog found)."""
    return _State.active


def accepted(header: str | None) -> str:
    """The language an ``Accept-Language`` header asks for: the known one with the highest
    weight (``es-ES,es;q=0.9,en;q=0.8`` → ``es``); English for other languages; ``""`` when there
    is no header (then the process's own language)."""
    if not header or not header.strip():
        return ""
    best, weight = LANGUAGES[0], 0.0
    for item in header.split(","):
        tag, _, params = item.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        code = "" if tag.strip() == "*" else _code(tag)
        if code and quality > weight:
            best, weight = code, quality
    return best


def speak(code: str) -> None:
    """Answer in ``code`` (``es``, ``en``; ``""``: the process's language) from now on in this
    thread or context, whatever the process chose: the explain server, per request."""
    _SPOKEN.set(code if code in LANGUAGES else "")


def _spoken() -> object | None:
    """The gettext catalog of the current request's language, when it set one (None: English)."""
    if _State.spanish is None:
        import gettext

        folder = locale_dir()
        _State.spanish = gettext.translation(DOMAIN, folder, languages=["es"], fallback=True)
    return _State.spanish


def tr(message: str) -> str:
    """``message`` in the chosen language (itself in English, or when it has no translation)."""
    spoken = _SPOKEN.get()
    if spoken:
        return _spoken().gettext(message) if spoken == "es" else message  # type: ignore[attr-defined]
    if not _State.active:
        return message
    return _State.catalog.gettext(message)  # type: ignore[attr-defined]


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for ``n``, in the chosen language."""
    spoken = _SPOKEN.get()
    if spoken == "es":
        return _spoken().ngettext(singular, plural, n)  # type: ignore[attr-defined]
    if spoken == "en":
        return singular if n == 1 else plural
    if _State.active:
        return _State.catalog.ngettext(singular, plural, n)  # type: ignore[attr-defined]
    return singular if n == 1 else plural


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it here: translated where it is
    shown for a person (a rich table's headers), left as it is where scripts read it (piped TSV)."""
    return message


_FIELD = r"\{(\w+)(?::[^{}]*)?\}"


def retranslate(text: str, templates: tuple[str, ...], again: tuple[str, ...] = ()) -> str:
    """``text``, made in English from one of ``templates`` (messages marked with :func:`N_` that
    JSON keeps in English), in the chosen language for a person to read: its fields are read back
    from the English and put into the translation (fields named in ``again`` are retranslated
    too); ``text`` itself when no template made it, and always in English."""
    if not (_State.active or _SPOKEN.get()):
        return text
    import re

    for template in templates:
        parts = re.split(_FIELD, template)  # literal, field, literal, …, literal
        pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        match = re.fullmatch(pattern, text, re.DOTALL)
        if match:
            fields = {k: retranslate(v, templates, again) if k in again else v for k, v in match.groupdict().items()}
            return re.sub(_FIELD, lambda m, f=fields: f.get(m[1], m[0]), tr(template))  # type: ignore[misc]
    return text
