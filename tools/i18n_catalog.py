"""The messages convcli shows, and the Spanish catalog that translates them.

``python tools/i18n_catalog.py`` brings ``src/convcli/locale/es/LC_MESSAGES/convcli.po`` up to date
with the code: new messages are added untranslated, gone ones are dropped, translations are kept.
``tests/test_i18n.py`` fails while any message lacks a translation or the catalog holds one the
code no longer shows. The messages come from three places:

- the code's own calls: ``_("…")`` (``convcli.i18n.tr``) and ``ngettext("…", "…", n)``, read with ``ast``;
- every command's help, its parameters' help and its sub-commands' summaries, read from the
  running Click tree (the docstrings and ``help=`` texts exactly as Click shows them);
- Click's and Typer's own ``_()``/``ngettext()`` strings (usage errors, "Options", "Commands"…),
  read with ``ast`` from the installed packages.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "convcli"
PO = SRC / "locale" / "es" / "LC_MESSAGES" / "convcli.po"
CALLS = {"_": 1, "tr": 1, "ngettext": 2}
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


def used_messages() -> tuple[Messages, Messages]:
    """(convcli's own messages and help texts, Click's and Typer's strings)."""
    own = help_messages()
    for key, where in code_messages().items():
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
    print(f"wrote {PO.relative_to(ROOT)}")
