"""The Spanish interface (issue 29): a complete, clean catalog; help and errors in Spanish with the
lecture's vocabulary; English output, JSON and exit statuses unchanged; start-up unharmed."""

from __future__ import annotations

import gettext
import io
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, requires

sys.path.insert(0, str(ROOT / "tools"))

from i18n_catalog import PO, used_messages

from convcli import i18n
from convcli.daemon.protocol import identity
from convcli.imaging.samples import SAMPLES
from convcli.pofile import mo_bytes, read_po

PY = sys.executable
LOCALE_VARIABLES = ("CONVCLI_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def env_for(**variables: str) -> dict[str, str]:
    """This environment with only ``variables`` choosing the language, no daemon, 100 columns."""
    env = {k: v for k, v in os.environ.items() if k not in LOCALE_VARIABLES}
    return {**env, "CONVCLI_DAEMON": "off", "COLUMNS": "100", **variables}


SPANISH = env_for(LANG="es_ES.UTF-8")


def run(args: list[str], env: dict[str, str], cwd: object = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "convcli", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


# --------------------------------------------------------------------------- the catalog

CATALOG = read_po(str(PO))
ENTRIES = {(e.msgid, e.msgid_plural): e for e in CATALOG if e.msgid and not e.obsolete}


def framework_only(entry: object) -> bool:
    return all(ref.startswith(("click/", "typer/")) for ref in entry.references)  # type: ignore[attr-defined]


def test_every_message_shown_has_a_spanish_translation_and_none_is_stale() -> None:
    """Each message id in the code, each help text and each of Click's and Typer's strings is in
    the catalog, translated and not fuzzy; the catalog holds no id of ours the code stopped using
    (Click's and Typer's ids may belong to another version of them: kept)."""
    own, framework = used_messages()
    used = set(own) | set(framework)
    missing = [key[0][:70] for key in used if key not in ENTRIES]
    untranslated = [key[0][:70] for key in used if key in ENTRIES and not ENTRIES[key].translated]
    stale = [key[0][:70] for key, entry in ENTRIES.items() if key not in used and not framework_only(entry)]
    assert not missing, f"not in the catalog (run tools/i18n_catalog.py): {missing}"
    assert not untranslated, f"untranslated or fuzzy: {untranslated}"
    assert not stale, f"no longer used (run tools/i18n_catalog.py): {stale}"
    assert not [e.msgid for e in CATALOG if e.obsolete]
    assert len(own) > 150 and len(framework) > 60  # the extraction found the help and Click's strings


@requires(shutil.which("msgfmt") is not None, "GNU gettext's msgfmt (Debian package gettext)")
def test_msgfmt_statistics_are_clean() -> None:
    """GNU msgfmt reads the catalog without a warning: all translated, nothing fuzzy or untranslated."""
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", os.devnull, str(PO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(rf"{len(ENTRIES)} translated messages\.\n", result.stderr), result.stderr


PLACEHOLDER = re.compile(r"\{[^{}\s]*\}|%\(\w+\)s")
KEPT = re.compile(r"(?<![\w}-])--?[a-z][\w-]*|`[^`]+`|\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
"""Flags, marked and underscored names; not a suffix after a field (``{limit}-byte``)."""


@pytest.mark.parametrize("entry", [e for e in ENTRIES.values()], ids=lambda e: e.msgid[:40])
def test_translations_keep_placeholders_flags_and_parameter_names(entry: object) -> None:
    """What the code fills in or maps stays as written: format fields, flags (``--out-dir``),
    marked and underscored parameter names (the CLI turns them into flags), and example lines."""
    msgid = entry.msgid  # type: ignore[attr-defined]
    for text in entry.msgstr:  # type: ignore[attr-defined]
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(msgid)) or entry.msgid_plural  # type: ignore[attr-defined]
        if not framework_only(entry):
            assert set(KEPT.findall(text)) >= set(KEPT.findall(msgid)) - {"-"}, text
            commands = [line.split("#")[0].rstrip() for line in msgid.splitlines() if line.startswith("    ")]
            assert [line.split("#")[0].rstrip() for line in text.splitlines() if line.startswith("    ")] == commands


def test_the_compiled_catalog_translates_singular_and_plural() -> None:
    """The .mo written by convcli.pofile (what the wheel and a source checkout use) reads back in
    the standard library's gettext: every entry, and both plural forms."""
    catalog = gettext.GNUTranslations(io.BytesIO(mo_bytes(CATALOG)))
    for (msgid, plural), entry in ENTRIES.items():
        if plural is None:
            assert catalog.gettext(msgid) == entry.msgstr[0]
        else:
            assert catalog.ngettext(msgid, plural, 1) == entry.msgstr[0]
            assert catalog.ngettext(msgid, plural, 3) == entry.msgstr[1]


# --------------------------------------------------------------------------- choosing the language


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "en"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "es_ES.UTF-8"}, "es"),
        ({"LANG": "es_MX"}, "es"),
        ({"LC_MESSAGES": "es_AR.UTF-8", "LANG": "en_US.UTF-8"}, "es"),
        ({"LC_ALL": "C", "LANG": "es_ES.UTF-8"}, "en"),
        ({"LANGUAGE": "fr:es", "LANG": "C"}, "es"),
        ({"LANGUAGE": "en_GB:es", "LANG": "es_ES"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
        ({"CONVCLI_LANG": "en", "LANG": "es_ES.UTF-8"}, "en"),
        ({"CONVCLI_LANG": "es", "LANG": "C"}, "es"),
    ],
)
def test_the_language_follows_the_standard_variables(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: str
) -> None:
    for name in LOCALE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert i18n.language() == expected


def test_a_daemon_serves_only_callers_of_its_language(monkeypatch: pytest.MonkeyPatch) -> None:
    """The language is part of the daemon's identity: a Spanish call never reaches an English
    daemon (it runs in process, or in a daemon started in Spanish)."""
    monkeypatch.setenv("CONVCLI_LANG", "en")
    english = identity()
    monkeypatch.setenv("CONVCLI_LANG", "es")
    assert identity() != english
    assert "language es" in identity().splitlines()


# --------------------------------------------------------------------------- help in Spanish

HELP_SCRIPT = (
    "import json, sys\nsys.path.insert(0, 'tools')\nfrom convcli.i18n import setup\nsetup()\n"
    "from cli_reference import command_paths, help_text, reference\n"
    "each = sys.argv[1] == 'each'\n"
    "print(json.dumps({' '.join(p): help_text(p) for p in command_paths()}) if each else reference(), end='')\n"
)
LECTURE_TERMS = (
    "kernel", "padding", "stride", "bias", "pooling", "Flatten", "softmax", "accuracy", "filtro",
    "capa convolucional", "convolución", "escala de grises", "canales", "mapas de características",
    "pesos", "dígito", "entrenamiento", "Conv2D",
)  # fmt: skip
RENAMED = ("zancada", "núcleo", "sesgo", "agrupación", "precisión", "tonos de gris ")


def test_every_commands_help_is_spanish_in_the_lectures_words() -> None:
    """``--help`` of every command under ``LANG=es_ES.UTF-8``: Click's and Typer's frame, each
    command's text and its options in Spanish, the field's English terms kept as the lecture keeps them."""
    result = subprocess.run([PY, "-c", HELP_SCRIPT, "each"], capture_output=True, text=True, env=SPANISH, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    pages = json.loads(result.stdout)
    assert len(pages) >= 17
    for path, page in pages.items():
        assert page.startswith(f"Uso: convcli {path}".rstrip()), page[:80]
        assert "Opciones:\n" in page and "Mostrar este mensaje y salir." in page, path
        for english in ("Usage:", "Options:", "Show this message", "Example:", "Arguments:", "[default:"):
            assert english not in page, (path, english)
        assert not re.search(r"\[OPTIONS\]|COMMAND \[ARGS\]|\b(?:TEXT|INTEGER|FLOAT|RANGE|PATH)\b", page), path
    everything = "\n".join(pages.values())
    assert "Comandos:\n" in pages[""] and "Argumentos:\n" in pages["gray"]
    for term in LECTURE_TERMS:
        assert term in everything, term
    for word in RENAMED:
        assert word not in everything.lower(), word
    assert "Stride del kernel (S)" in pages["filter"] and "el P de la clase" in pages["filter"]
    assert pages["predict"].startswith("Uso: convcli predict [OPCIONES] MODEL.keras [IMAGE...]\n")
    assert pages[""].startswith("Uso: convcli [OPCIONES] [COMANDO] [ARGS]...\n")
    assert re.search(r"\n  --top ENTERO +Cuántas clases", pages["predict"])  # Click's type names: metavars
    assert re.search(r"\n  --data-dir TEXTO +", pages["predict"]) and "--files-from FILE " in pages["predict"]
    assert "# el 266 -61 -30 ... de la clase" in pages[""]


def test_english_help_is_byte_identical_under_lang_c_and_with_convcli_lang_en() -> None:
    """The whole reference (docs/cli.md) comes out unchanged in a process that chose English."""
    expected = (ROOT / "docs" / "cli.md").read_text()
    for env in (env_for(LANG="C"), env_for(LANG="es_ES.UTF-8", CONVCLI_LANG="en"), env_for()):
        result = subprocess.run([PY, "-c", HELP_SCRIPT, "all"], capture_output=True, text=True, env=env, cwd=ROOT)
        assert result.returncode == 0, result.stderr
        assert result.stdout == expected


# --------------------------------------------------------------------------- errors in Spanish

TRY = "Pruebe 'convcli {} --help' para ver la ayuda."
ERRORS = [
    (["gray", "--bogus"], 2, ["Error: No existe la opción '--bogus'.", TRY.format("gray")]),
    (["kernels", "show"], 2, ["Error: Falta el argumento 'NAME'.", TRY.format("kernels show")]),
    (
        ["gray", "--method", "foo", "x.png"],
        2,
        [
            "Error: Valor inválido para '--method' / '-m': 'foo' no es uno de 'luma', 'average', 'bt709', 'bt601'.",
            TRY.format("gray"),
        ],
    ),
    (
        ["gray", "-j", "0", "x.png"],
        2,
        ["Error: Valor inválido para '--workers' / '-j': 0 no está en el rango 1<=x<=64.", TRY.format("gray")],
    ),
    (
        ["grya"],
        2,
        ["Error: No existe el comando 'grya'. ¿Quiso decir 'gray'?", "Pruebe 'convcli --help' para ver la ayuda."],
    ),
    (["gray", "nofile.png", "-o", "x.png"], 2, ["Error: nofile.png: no existe el archivo"]),
    (
        ["gray"],
        2,
        ["Error: no se dio ninguna entrada: nombre un archivo de imagen, '-' para stdin, o --sample NAME"],
    ),
    (["gray", "--sample", "astronaut"], 2, ["Error: indique -o OUTPUT (o -o - para PNG en stdout), o --out-dir DIR"]),
    (
        ["gray", "--verbose", "x.png"],
        2,
        [
            "Error: --verbose es una opción global: póngala antes del comando (convcli --verbose gray …)",
            TRY.format("gray"),
        ],
    ),
    (
        ["gray", "--sample", "astronot", "-o", "x.png"],
        2,
        [
            "Error: imagen de ejemplo desconocida 'astronot' (¿quiso decir 'astronaut'?); "
            f"disponibles: {', '.join(SAMPLES)}"
        ],
    ),
    (["kernels", "show", "sharpn"], 2, None),
    (["train", "cnn", "--max-pixels"], 2, ["Error: No existe la opción '--max-pixels'.", TRY.format("train")]),
]


@pytest.mark.parametrize(("args", "status", "lines"), ERRORS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_typical_errors_read_in_spanish_with_the_same_status(
    tmp_path: object, args: list[str], status: int, lines: list[str] | None
) -> None:
    """Ten-plus typical mistakes (Click's usage errors among them): the Spanish lines, and the
    exit status and stdout of the English run."""
    spanish = run(args, SPANISH, cwd=tmp_path)
    english = run(args, env_for(LANG="C"), cwd=tmp_path)
    assert spanish.returncode == english.returncode == status
    assert spanish.stdout == english.stdout
    assert spanish.stderr != english.stderr and spanish.stderr.startswith("Error: ")
    if lines is not None:
        assert spanish.stderr.splitlines() == lines
    else:
        assert "kernel desconocido 'sharpn' (¿quiso decir 'sharpen'?)" in spanish.stderr


# --------------------------------------------------------------------------- what never changes


@pytest.mark.parametrize(
    "args",
    [
        ["kernels", "--json"],
        ["kernels", "show", "sharpen"],
        ["kernels"],
        ["gray", "--sample", "camera", "-o", "gray.png", "--json"],
    ],
)
def test_machine_readable_output_is_the_same_in_both_languages(tmp_path: object, args: list[str]) -> None:
    """JSON keys and values, kernel names, file names, piped tables and exit statuses: the same."""
    spanish = run(args, SPANISH, cwd=tmp_path)
    english = run(args, env_for(LANG="C"), cwd=tmp_path)
    assert spanish.returncode == english.returncode == 0, spanish.stderr
    assert spanish.stdout == english.stdout and spanish.stdout
    if "--json" in args:
        assert [json.loads(line) for line in spanish.stdout.splitlines()]


# --------------------------------------------------------------------------- start-up


def modules_loaded(args: list[str], env: dict[str, str]) -> set[str]:
    """The modules a ``convcli`` call has imported when it ends, whatever its exit status."""
    code = (
        "import sys\nfrom convcli.entry import main\nsys.argv = ['convcli', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run([PY, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.splitlines()[-1].split())


LANGUAGE_COST = r"""
import contextlib, io, sys, time
import copy, gettext, locale, re, struct  # every call imports them anyway (the module check): not the language's cost
from convcli import i18n

start = time.process_time()
i18n.setup()
setup = time.process_time() - start
import typer.main
from convcli.cli import app

command = typer.main.get_command(app)
renders = []
for _ in range(8):
    start = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            command.main(sys.argv[1:], prog_name="convcli", standalone_mode=False)
        except BaseException:
            pass
    renders.append(time.process_time() - start)
print(setup, min(renders[1:]))
"""


def language_cost(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """CPU seconds of choosing the language (:func:`convcli.i18n.setup`) and of one answer to
    ``args`` once everything is imported (best of 7), in a fresh process: the work that differs
    between languages, without the imports both make (whole-process times vary by ±30 ms from one
    start to the next here, more under the other test worker's load; these vary by well under 1 ms)."""
    result = subprocess.run(
        [PY, "-c", LANGUAGE_COST, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    setup, answer = map(float, result.stdout.split())
    return setup, answer


@pytest.mark.parametrize("args", [["--help"], ["gray"]])
def test_spanish_starts_within_10_ms_of_english(args: list[str]) -> None:
    """Choosing Spanish imports no module English does not (no numpy or Keras either way), and its
    own work (finding and loading the compiled catalog, translating the answer) costs under 10 ms
    of CPU over English: best of 5 fresh processes each (about 3 ms here)."""
    run(["--help"], SPANISH)  # a source checkout compiles the catalog once, into the user's cache
    english_modules, spanish_modules = modules_loaded(args, env_for(LANG="C")), modules_loaded(args, SPANISH)
    assert not {"numpy", "tensorflow", "keras"} & (english_modules | spanish_modules)
    assert spanish_modules <= english_modules, sorted(spanish_modules - english_modules)
    english = [language_cost(args, env_for(LANG="C")) for _ in range(5)]
    spanish = [language_cost(args, SPANISH) for _ in range(5)]
    setup = (min(s for s, _ in spanish) - min(s for s, _ in english)) * 1000
    answer = (min(a for _, a in spanish) - min(a for _, a in english)) * 1000
    assert min(s for s, _ in spanish) > min(s for s, _ in english)  # Spanish does load a catalog
    assert setup + answer < 10, f"Spanish costs {setup:.1f} ms more to set up and {answer:.1f} ms more to answer"


# --------------------------------------------------------------------------- the explain page


def test_the_pages_spanish_is_the_catalogs() -> None:
    """``static/i18n-es.js`` holds exactly the catalog's Spanish for each of the page's ids (run
    tools/i18n_catalog.py after editing the catalog), in the lecture's words."""
    from i18n_catalog import PAGE_CATALOG, page_catalog, page_messages

    assert PAGE_CATALOG.read_text(encoding="utf-8") == page_catalog(CATALOG)
    table = json.loads(PAGE_CATALOG.read_text(encoding="utf-8").split("=", 1)[1].strip().rstrip(";"))["es"]
    assert set(table) == {key[0] for key in page_messages()} and len(table) > 50
    assert table["Σ patch ⊙ kernel = {sum}"] == "Σ parche ⊙ kernel = {sum}"
    assert table["Total params: {total}"] == "Total de parámetros: {total}"
    spanish = " ".join(table.values()).lower()
    for term in ("kernel", "bias", "pooling", "softmax", "filtro", "canal", "mapas de características", "pesos"):
        assert term in spanish, term
    assert [word for word in RENAMED if word in spanish] == []


# --------------------------------------------------------------------------- the library's errors a student meets

LIBRARY_ERRORS = [
    (
        ["gray", "big.png", "-o", "out.png", "--max-pixels", "100"],
        "Error: big.png: la imagen es de 20×20 = 400 pixels, más que el límite de 100 "
        "(suba --max-pixels para permitirla)",
    ),
    (
        ["filter", "ragged.txt", "-k", "sharpen"],
        "Error: ragged.txt, línea 2: la fila tiene 2 valores, se esperaban 3 (como en la línea 1)",
    ),
    (["filter", "words.txt", "-k", "sharpen"], "Error: words.txt, línea 1: 'uno' no es un número"),
    (
        ["filter", "empty.txt", "-k", "sharpen"],
        "Error: empty.txt: no se encontraron números (se esperaban filas de números)",
    ),
    (["evaluate", "missing.keras"], "Error: missing.keras: no existe el archivo del modelo"),
    (
        ["evaluate", "notes.keras"],
        "Error: notes.keras: no es un modelo .keras (no es un archivo zip; ¿cortado o dañado?)",
    ),
    (  # a layer-spec detail in Spanish, its parameter (given_as: input_shape) as the flags typed
        ["summary", "--layers", "conv(8,3,input_shape=(28,28,1)),flatten,dense(10)", "--image-size", "32"],
        "Error: especificación de capas: las capas declaran la forma de entrada (28, 28, 1), pero --image-size "
        "(--color) es 32x32x1; quite la forma declarada o haga que las dos coincidan",
    ),
    (
        ["summary", "--layers", "conv(8,3,padding=full),flatten,dense(10)"],
        "Error: especificación de capas, capa 1 'conv(8,3,padding=full)' (columna 1): padding debe ser valid, "
        "same o un número P (ceros en cada lado), se recibió 'full'",
    ),
    (  # batches: out_dir named as the flag typed
        ["filter", "ragged.txt", "words.txt", "-k", "sharpen"],
        "Error: 2 entradas necesitan --out-dir DIR (una salida por entrada)",
    ),
    (
        ["filter", "words.txt", "-k", "sharpen", "--stride", "2x"],
        "Error: el stride debe ser S o SxS (como 2 o 2x1), se dio '2x'",
    ),
    (
        ["filter", "ragged.txt", "-k", "sharpen", "--shard", "5/3"],
        "Error: --shard '5/3': indique K/N con K de 1 a N (1/3, 2/3, 3/3), o auto",
    ),
    (
        ["gray", "big.png", "-o", "nowhere/out.png"],
        "Error: nowhere/out.png: la carpeta de salida nowhere no existe",
    ),
    (  # datasets: a --data folder without class folders, in the lecture's words
        ["train", "cnn", "--data", ".", "--epochs", "1", "-o", "m.keras"],
        "Error: .: no hay carpetas de clases (ponga las imágenes de cada clase en una subcarpeta con el nombre de "
        "la clase)",
    ),
]


@pytest.mark.parametrize(("args", "line"), LIBRARY_ERRORS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_the_library_errors_a_student_meets_read_in_spanish_with_their_flags(
    tmp_path: object, args: list[str], line: str
) -> None:
    """Bad matrix text, an oversized image, a missing or damaged model: the library's message in
    Spanish, a parameter it names (``max_pixels``) still shown as the flag typed (``--max-pixels``),
    and the English run's exit status and (empty) stdout."""
    from PIL import Image

    Image.new("L", (20, 20)).save(tmp_path / "big.png")  # type: ignore[operator]
    for name, text in {"ragged.txt": "1 2 3\n4 5\n", "words.txt": "uno dos\n", "empty.txt": "# nada\n"}.items():
        (tmp_path / name).write_text(text)  # type: ignore[operator]
    (tmp_path / "notes.keras").write_text("not a model\n")  # type: ignore[operator]
    spanish = run(args, SPANISH, cwd=tmp_path)
    english = run(args, env_for(LANG="C"), cwd=tmp_path)
    assert spanish.returncode == english.returncode == 2
    assert spanish.stdout == english.stdout == ""
    assert spanish.stderr.strip().splitlines()[-1] == line, spanish.stderr
    assert "--max-pixels" not in line or "(raise --max-pixels to allow it)" in english.stderr


def test_summary_lines_keep_the_lectures_english_terms() -> None:
    """The evaluate and train summary lines: accuracy and loss stay as the lecture and Keras say them."""
    evaluate = ENTRIES[("accuracy {accuracy:.2f}%  loss {loss:.4f}  n {n}", None)].msgstr[0]
    assert evaluate == "accuracy {accuracy:.2f}%  loss {loss:.4f}  n {n}"
    train = ENTRIES[
        ("test accuracy {accuracy:.2f}%  {loss} {value:.4f}  ({seconds:.0f} s)\nmodel: {model}\nrecord: {record}", None)
    ].msgstr[0]
    assert train.startswith("accuracy en test {accuracy:.2f}%") and "modelo: {model}" in train


def test_test_data_and_daemon_reasons_translate_where_shown_and_stay_english_in_json() -> None:
    """The export's ``verification.data`` and evaluate's ``evaluated_on`` (datasets.wording), and the
    daemon status's ``reason``: English as made (what JSON keeps), Spanish only when rendered."""
    from convcli.daemon.control import REASONS
    from convcli.datasets.wording import OWN_SPLIT, SAMPLE, shown

    data = SAMPLE.format(picked=65, total=1234, what=OWN_SPLIT.format(root="/d", count=1234))
    reason = REASONS[2].format(pid=42)
    assert data == "65 of 1,234 pictures: the run's own test split of /d (1,234 files named in its record)"
    assert shown(data) == data and i18n.retranslate(reason, REASONS) == reason  # English: unchanged
    i18n.speak("es")
    try:
        assert shown(data) == (
            "65 de 1,234 imágenes: la partición de test de la propia ejecución de /d (1,234 archivos nombrados en su "
            "registro)"
        )
        assert shown("/d/test") == "/d/test"  # a folder's path is no description
        assert i18n.retranslate(reason, REASONS).startswith("el proceso 42 tiene el bloqueo del daemon")
    finally:
        i18n.speak("")


# --------------------------------------------------------------------------- pictures


def header(title: str) -> object:
    """The title line of a tile grid drawn with ``title`` (rows 2-16, the first 240 columns)."""
    import numpy as np

    from convcli.plots import render_tiles

    picture, _layout = render_tiles(np.zeros((4, 4, 1)), title)
    return picture[2:17, :240]


def test_pictures_draw_the_spanish_letters_not_boxes() -> None:
    """Pillow's bundled default font (Aileron) has ASCII only and draws a box for á; a picture's
    text with any other letter is drawn in DejaVu Sans (matplotlib's copy, a dependency): each
    Spanish letter comes out as itself, unlike the font's missing-glyph box and unlike its bare
    letter, with its accent above (or its ¿ ¡ below) where the bare letter has no ink. ASCII text
    keeps Pillow's default font, pixel for pixel (English pictures unchanged)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    box = header("\ue000\u00a0")  # a private-use character: the missing-glyph box
    for letter, bare in zip("áéíóúÁÉÍÓÚüñÑ¿¡", "aeıouAEIOUunN?!"):  # ı: the dotless i under í's accent
        drawn, plain = header(letter + "\u00a0"), header(bare + "\u00a0")  # a no-break space: no ink, not ASCII
        assert not np.array_equal(drawn, box), letter
        differs = np.nonzero((drawn != plain).any(axis=(1, 2)))[0]
        ink = np.nonzero((plain < 128).any(axis=(1, 2)))[0]  # the rows the bare letter inks
        assert differs.size and ink.size, letter
        if letter in "¿¡":
            assert differs.max() > ink.max(), letter  # below the baseline, where ? and ! stop
        else:
            assert differs.min() < ink.min(), letter  # an accent above the bare letter
    english = "conv2d (Conv2D) on mnist test image 7 (9)"
    expected = Image.new("RGB", (240, 17), (255, 255, 255))
    ImageDraw.Draw(expected).text((4, 4), english, fill=(0, 0, 0), font=ImageFont.load_default())
    np.testing.assert_array_equal(header(english), np.asarray(expected)[2:17])


def test_words_json_keeps_in_english_read_back_in_spanish_where_shown() -> None:
    """Summary's shape words and a digit folder's description stay English as made (JSON, piped
    text) and read back in Spanish for a person; a named kernel's description too (a terminal's
    ``convcli kernels``)."""
    from convcli.datasets.wording import DIGIT_FOLDER_BLANKS, shown
    from convcli.filtering.kernels import load_kernel
    from convcli.models.summary import MEAN_OVER, SHAPE_WORDS, UNITS, ZEROS

    made = [
        UNITS.format(units=128),
        MEAN_OVER.format(height=7, width=7, channels=64),
        ZEROS.format(formula="28 + 2·1 = 30"),
    ]
    folder = DIGIT_FOLDER_BLANKS.format(root="/d/test", count=2)
    sharpen = load_kernel("sharpen").description
    assert made == ["128 units", "mean over 7×7 → 64", "28 + 2·1 = 30 (P zeros each side)"]
    assert [i18n.retranslate(m, SHAPE_WORDS) for m in made] == made and shown(folder) == folder
    i18n.speak("es")
    try:
        assert [i18n.retranslate(m, SHAPE_WORDS) for m in made] == [
            "128 unidades", "media sobre 7×7 → 64", "28 + 2·1 = 30 (P ceros a cada lado)"
        ]  # fmt: skip
        assert shown(folder) == (
            "todas las imágenes de /d/test, cada una preparada como los dígitos de MNIST, como lo hace predict "
            "(2 sin dígito, evaluadas como imágenes en blanco)"
        )
        assert (
            i18n.tr(sharpen)
            == "Realce (sharpen): 5 en el centro, -1 en los 4 vecinos (el ejemplo resuelto de la clase)"
        )
    finally:
        i18n.speak("")
