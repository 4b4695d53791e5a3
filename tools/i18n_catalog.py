"""The messages convcli shows, and the Spanish catalog that translates them.

``python tools/i18n_catalog.py`` brings ``src/convcli/locale/es/LC_MESSAGES/convcli.po`` up to date
with the code: new messages are added untranslated, gone ones are dropped, translations are kept.
``tests/test_i18n.py`` fails while any message lacks a translation or the catalog holds one the
code no longer shows. The messages come from three places:

- the code's own calls: ``_("…")`` (``convcli.i18n.tr``), ``N_("…")`` (marked, translated where
  shown) and ``ngettext("…", "…", n)``, read with ``ast``;
- every command's help, its parameters' help and its sub-commands' summaries, read from the
  running Click tree (the docstrings and ``help=`` texts exactly as Click shows them);
- Click's and Typer's own ``_()``/``ngettext()`` strings (usage errors, "Options", "Commands"…),
  read with ``ast`` from the installed packages;
- the named kernels' descriptions (``kernels/*.txt``), shown translated by ``convcli kernels``;
- the explain page's: ``msg("…")`` and ``t("…")`` in its scripts, and in ``index.html`` each direct text of an
  element marked ``data-i18n`` and the ``aria-label`` of one marked ``data-i18n-label``.

It also writes the page's Spanish strings, taken from the catalog, into
``src/convcli/explain/static/i18n-es.js`` (the page runs without a server too, as a static site).
"""

from __future__ import annotations

import ast
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "convcli"
PO = SRC / "locale" / "es" / "LC_MESSAGES" / "convcli.po"
STATIC = SRC / "explain" / "static"
PAGE_SCRIPTS = ("i18n.js", "app.js", "engine.js", "prepare.js")
PAGE_CATALOG = STATIC / "i18n-es.js"
JS_CALL = re.compile(r'\b(?:t|msg)\(\s*"((?:[^"\\\n]|\\.)*)"')
"""``t("…")`` (i18n.js) and ``msg("…")`` (app.js) in the page's scripts: a double-quoted id (a
template literal is never an id)."""
CALLS = {"_": 1, "tr": 1, "N_": 1, "ngettext": 2}
"""Function name → how many leading string arguments are message ids (singular, plural)."""
FRAMEWORK_MODULES = ("click", "typer.core", "typer.main")
"""Where Click's and Typer's own strings come from (Typer's rich_utils is never used: no rich markup)."""
HEADER = (
    "Project-Id-Version: convcli\n"
    "PO-Revision-Date: 2026-01-01 00:00+0000\n"
    "Last-Translator: convcli <convcli@localhost>\n"
    "Language-Team: Spanish\n"
    "Language: es\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "Plural-Forms: nplurals=2; plural=(n != 1);\n"
)

sys.path.insert(0, str(ROOT / "src"))

from convcli.pofile import Entry, format_po, read_po  # noqa: E402

Messages = dict[tuple[str, str | None], list[str]]
"""(msgid, msgid_plural) → where it is used."""


def calls_in(path: Path, label: str, messages: Messages) -> None:
    """Add the message ids of ``path``'s ``_()``, ``tr()`` and ``ngettext()`` calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.func.id not in CALLS:
            continue
        count = CALLS[node.func.id]
        texts = [a.value for a in node.args[:count] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if len(texts) == count:
            key = (texts[0], texts[1] if count == 2 else None)
            messages.setdefault(key, []).append(f"{label}:{node.lineno}")


def code_messages() -> Messages:
    """The message ids convcli's own code passes to ``_()``/``ngettext()``."""
    messages: Messages = {}
    for path in sorted(SRC.rglob("*.py")):
        calls_in(path, path.relative_to(ROOT).as_posix(), messages)
    return messages


def help_messages() -> Messages:
    """Every help text ``--help`` shows: each command's, its parameters', its sub-commands'."""
    import click
    import typer

    from convcli.cli import app
    from convcli.cli.helpformat import restore_argument_help

    messages: Messages = {}

    def walk(command: click.Command, path: str) -> None:
        restore_argument_help(command)
        for owner in (command, *command.params):
            for attribute in ("help", "short_help", "epilog"):
                text = getattr(owner, attribute, None)
                if text:
                    messages.setdefault((text, None), []).append(f"help:{path.replace(' ', '.') or 'convcli'}")
        if isinstance(command, click.Group):
            for name in command.list_commands(click.Context(command)):
                sub = command.get_command(click.Context(command), name)
                if sub is not None:
                    walk(sub, f"{path} {name}".strip())

    walk(typer.main.get_command(app), "")
    return messages


def kernel_messages() -> Messages:
    """The named kernels' descriptions (``# description:`` in ``kernels/*.txt``): ``convcli kernels``
    shows them translated on a terminal (a kernel file and piped output keep the file's words)."""
    from convcli.filtering.kernels import list_kernels, named_kernel_files

    files = named_kernel_files()
    return {
        (k.description, None): [files[k.name].relative_to(ROOT).as_posix()] for k in list_kernels() if k.description
    }


def framework_messages() -> Messages:
    """Click's and Typer's own translatable strings, from the installed packages."""
    import importlib.util

    messages: Messages = {}
    for name in FRAMEWORK_MODULES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        origin = Path(spec.origin)
        files = sorted(origin.parent.glob("*.py")) if origin.name == "__init__.py" else [origin]
        for path in files:
            calls_in(path, f"{name.split('.')[0]}/{path.name}", messages)
    return messages


class _MarkedText(HTMLParser):
    """The message ids ``index.html`` marks, with their lines: each direct text of an element
    with ``data-i18n``, each ``aria-label`` of an element with ``data-i18n-label``."""

    VOID = frozenset({"meta", "link", "input", "br", "img", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []
        self.found: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if "data-i18n-label" in names and names.get("aria-label"):
            self.found.append((" ".join(str(names["aria-label"]).split()), self.getpos()[0]))
        if tag not in self.VOID:
            self.stack.append("data-i18n" in names)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] and data.strip():
            self.found.append((" ".join(data.split()), self.getpos()[0]))


def page_messages() -> Messages:
    """The explain page's message ids: its scripts' ``t("…")`` calls and index.html's marked text."""
    messages: Messages = {}
    for name in PAGE_SCRIPTS:
        text = (STATIC / name).read_text(encoding="utf-8")
        for match in JS_CALL.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            messages.setdefault((json.loads(f'"{match.group(1)}"'), None), []).append(f"page/{name}:{line}")
    parser = _MarkedText()
    parser.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    for text, line in parser.found:
        messages.setdefault((text, None), []).append(f"page/index.html:{line}")
    return messages


def page_catalog(entries: list[Entry]) -> str:
    """``i18n-es.js``: the Spanish of each of the page's ids, from the catalog's ``entries``."""
    translated = {e.msgid: e.msgstr[0] for e in entries if e.msgid and not e.obsolete and e.translated}
    table = {key[0]: translated[key[0]] for key in sorted(page_messages()) if key[0] in translated}
    body = json.dumps({"es": table}, ensure_ascii=False, indent=1)
    return (
        "// Generated by tools/i18n_catalog.py from src/convcli/locale/es/LC_MESSAGES/convcli.po: edit\n"
        "// the catalog and run the tool again. The explain page's Spanish (see i18n.js).\n"
        f"window.convcliMessages = {body};\n"
    )


def used_messages() -> tuple[Messages, Messages]:
    """(convcli's own messages, help texts and page strings, Click's and Typer's strings)."""
    own = help_messages()
    for found in (code_messages(), page_messages(), kernel_messages()):
        for key, where in found.items():
            own.setdefault(key, []).extend(where)
    return own, framework_messages()


def update() -> str:
    """The catalog with the code's messages: existing translations kept, unused ids dropped."""
    old = {(e.msgid, e.msgid_plural): e for e in read_po(str(PO)) if not e.obsolete} if PO.exists() else {}
    own, framework = used_messages()
    entries = [Entry("", msgstr=[HEADER])]
    seen: set[tuple[str, str | None]] = set()
    for group in (own, framework):
        for key, where in group.items():
            if key[0] == "" or key in seen:
                continue
            seen.add(key)
            previous = old.get(key)
            entry = Entry(key[0], key[1], msgstr=["", ""] if key[1] is not None else [""])
            if previous is not None:
                entry.msgstr, entry.flags, entry.comments = previous.msgstr, previous.flags, previous.comments
            entry.references = sorted(set(where))[:4]
            entries.append(entry)
    return format_po(entries)


if __name__ == "__main__":
    PO.parent.mkdir(parents=True, exist_ok=True)
    PO.write_text(update(), encoding="utf-8")
    PAGE_CATALOG.write_text(page_catalog(read_po(str(PO))), encoding="utf-8")
    print(f"wrote {PO.relative_to(ROOT)} and {PAGE_CATALOG.relative_to(ROOT)}")
