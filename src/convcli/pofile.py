"""Reading and writing gettext catalogs: ``.po`` (the translations, in the source) and ``.mo``
(compiled, what :mod:`gettext` reads). Standard library only, so that the build (``hatch_build.py``),
a source checkout's first Spanish run (:func:`convcli.i18n.locale_dir`) and the tests share one
compiler and need neither Babel nor GNU gettext.
"""

from __future__ import annotations

import ast
import os
import struct
import tempfile
from dataclasses import dataclass, field

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\r": "\\r"}


@dataclass
class Entry:
    """One message: its id (and plural id), translation(s), flags (``fuzzy``) and comments."""

    msgid: str
    msgid_plural: str | None = None
    msgstr: list[str] = field(default_factory=lambda: [""])
    flags: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    obsolete: bool = False

    @property
    def translated(self) -> bool:
        """Every form has a translation and none is marked fuzzy."""
        return all(self.msgstr) and "fuzzy" not in self.flags


def _unquote(text: str, where: str) -> str:
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"{where}: expected a quoted string, got {text[:40]!r}")
    return ast.literal_eval(text)  # C escapes (\n \t \b \" \\ and octal) read as Python's


def read_po(path: str) -> list[Entry]:
    """The entries of a ``.po`` file, the header (``msgid ""``) first; ValueError when malformed."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int] | None = None
    pending: tuple[set[str], list[str], list[str]] = (set(), [], [])
    for number, raw in enumerate(lines, 1):
        where = f"{path}:{number}"
        obsolete = raw.startswith("#~")
        line = raw[2:].strip() if obsolete else raw.strip()
        if not line or (line.startswith("#") and not obsolete):
            if line.startswith("#,"):
                pending[0].update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#:"):
                pending[1].extend(line[2:].split())
            elif line.startswith("#.") or line.startswith("# "):
                pending[2].append(line[2:].strip())
            continue
        keyword, _, rest = line.partition(" ")
        if keyword == "msgid":
            current = Entry(_unquote(rest, where), flags=pending[0], references=pending[1], comments=pending[2])
            current.obsolete = obsolete
            current.msgstr = []
            entries.append(current)
            pending = (set(), [], [])
            target = ("msgid", 0)
        elif current is None:
            raise ValueError(f"{where}: {keyword} before any msgid")
        elif keyword == "msgid_plural":
            current.msgid_plural = _unquote(rest, where)
            target = ("msgid_plural", 0)
        elif keyword.startswith("msgstr"):
            index = int(keyword[7:-1]) if keyword.startswith("msgstr[") else 0
            current.msgstr.append(_unquote(rest, where))
            target = ("msgstr", index)
        elif keyword.startswith('"') and target is not None:
            text = _unquote(line, where)
            if target[0] == "msgid":
                current.msgid += text
            elif target[0] == "msgid_plural":
                current.msgid_plural = (current.msgid_plural or "") + text
            else:
                current.msgstr[-1] += text
        else:
            raise ValueError(f"{where}: cannot read {line[:40]!r}")
    return entries


def _quote(text: str) -> str:
    return '"' + "".join(_ESCAPES.get(c, c) for c in text) + '"'


def _field(keyword: str, text: str, prefix: str) -> list[str]:
    """``keyword "text"``, split after each newline as msgcat does when the text has several lines."""
    parts = text.splitlines(keepends=True)
    if len(parts) <= 1:
        return [f"{prefix}{keyword} {_quote(text)}"]
    return [f'{prefix}{keyword} ""'] + [prefix + _quote(part) for part in parts]


def format_po(entries: list[Entry]) -> str:
    """The text of a ``.po`` file holding ``entries`` (what :func:`read_po` reads back)."""
    out: list[str] = []
    for entry in entries:
        prefix = "#~ " if entry.obsolete else ""
        out += [f"#. {comment}" for comment in entry.comments]
        if entry.references:
            out.append("#: " + " ".join(entry.references))
        if entry.flags:
            out.append("#, " + ", ".join(sorted(entry.flags)))
        out += _field("msgid", entry.msgid, prefix)
        if entry.msgid_plural is not None:
            out += _field("msgid_plural", entry.msgid_plural, prefix)
            for index, text in enumerate(entry.msgstr or ["", ""]):
                out += _field(f"msgstr[{index}]", text, prefix)
        else:
            out += _field("msgstr", (entry.msgstr or [""])[0], prefix)
        out.append("")
    return "\n".join(out)


def mo_bytes(entries: list[Entry]) -> bytes:
    """The compiled catalog (GNU ``.mo``, little-endian, no hash table) of the translated,
    non-fuzzy, non-obsolete entries and the header: untranslated messages stay in English."""
    pairs: dict[bytes, bytes] = {}
    for entry in entries:
        if entry.obsolete or not (entry.translated or entry.msgid == ""):
            continue
        key = entry.msgid if entry.msgid_plural is None else entry.msgid + "\0" + entry.msgid_plural
        pairs[key.encode()] = "\0".join(entry.msgstr).encode()
    keys = sorted(pairs)
    ids = strs = b""
    offsets = []
    for key in keys:
        offsets.append((len(key), len(ids), len(pairs[key]), len(strs)))
        ids += key + b"\0"
        strs += pairs[key] + b"\0"
    start = 7 * 4 + 16 * len(keys)
    key_table = [v for length, off, _, _ in offsets for v in (length, start + off)]
    value_table = [v for _, _, length, off in offsets for v in (length, start + len(ids) + off)]
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + 8 * len(keys), 0, 0)
    return (
        header
        + struct.pack(f"<{len(key_table)}I", *key_table)
        + struct.pack(f"<{len(value_table)}I", *value_table)
        + ids
        + strs
    )


def compile_catalog(po_path: str, mo_path: str) -> None:
    """Compile ``po_path`` to ``mo_path`` (written atomically: concurrent first runs are safe)."""
    data = mo_bytes(read_po(po_path))
    folder = os.path.dirname(mo_path)
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, mo_path)
    except BaseException:
        os.unlink(temporary)
        raise
