"""A model's layers from Keras code pasted from the lecture's slides (``--layers-from FILE``).

The file is read with :mod:`ast`, never executed. Layers come from ``model.add(Layer(...))``
lines and from ``Sequential([Layer(...), ...])``; ``model.summary()``, imports and other
statements are passed over. Variables assigned a plain value in the file (``input_shape =
(28, 28, 1)``, ``num_classes = 10``) are put in place of their names; a name the file does not
assign (the lecture's ``input_shape=input_shape``) stays a name, which the caller resolves
from the data or ``--input`` (:func:`convcli.models.speccheck.resolve_input_shape`).

The result is a layer spec in Keras's call syntax, one layer per call, which
:func:`convcli.models.layerspec.parse_spec` reads like any other spec. (Moves to ``models/`` with the
package layout of issue 22.)
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from ..errors import ConvcliError, input_error, read_text
from ..i18n import tr
from .layerspec import parse_layer

_SEQUENTIAL = "Sequential"


def _call_name(node: ast.AST) -> str:
    """``Conv2D`` for ``Conv2D``, ``layers.Conv2D`` or ``keras.layers.Conv2D``; else ''."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _literal(node: ast.AST, variables: dict[str, Any]) -> Any:
    """A literal value (numbers, strings, tuples, lists, negative numbers), or a known variable."""
    if isinstance(node, ast.Name) and node.id in variables:
        return variables[node.id]
    return ast.literal_eval(node)


def _argument_text(node: ast.AST, variables: dict[str, Any], where: str) -> str:
    """An argument as spec text: its literal's repr, or a name the file does not assign."""
    if isinstance(node, ast.Name) and node.id not in variables:
        return node.id
    try:
        return repr(_literal(node, variables))
    except (ValueError, TypeError, SyntaxError):
        raise input_error(
            tr(
                "{where}: {code!r} is not a plain value (numbers, 'strings', tuples); convcli reads the code, it "
                "does not run it"
            ).format(where=where, code=ast.unparse(node))
        ) from None


def _layer_text(call: ast.Call, variables: dict[str, Any], where: str) -> str:
    """One layer call as spec text, such as ``Conv2D(64, kernel_size=3, activation='relu')``."""
    name = _call_name(call.func)
    if not name:
        raise input_error(
            tr("{where}: expected a layer such as Conv2D(...), got {code!r}").format(
                where=where, code=ast.unparse(call)
            )
        )
    args = [_argument_text(a, variables, where) for a in call.args]
    for keyword in call.keywords:
        if keyword.arg is None:
            message = tr("{where}: **{code} cannot be read without running the code")
            raise input_error(message.format(where=where, code=ast.unparse(keyword.value)))
        args.append(f"{keyword.arg}={_argument_text(keyword.value, variables, where)}")
    text = f"{name}({', '.join(args)})"
    try:
        parse_layer(text)
    except ConvcliError as exc:
        raise input_error(f"{where}: {exc.message.split(': ', 1)[-1]}") from None
    return text


def _layers_of(node: ast.AST) -> list[ast.AST] | None:
    """The layer list of ``Sequential([...])`` (None when ``node`` is not such a call)."""
    if isinstance(node, ast.Call) and _call_name(node.func) == _SEQUENTIAL and node.args:
        first = node.args[0]
        if isinstance(first, (ast.List, ast.Tuple)):
            return list(first.elts)
    return None


def _statement_layers(statement: ast.stmt, variables: dict[str, Any]) -> list[ast.AST]:
    """The layer calls one statement adds: ``m.add(L)``, ``m = Sequential([...])``; an
    assignment of a plain value is remembered in ``variables``."""
    value = statement.value if isinstance(statement, (ast.Expr, ast.Assign)) else None
    if value is None:
        return []
    listed = _layers_of(value)
    if listed is not None:
        return listed
    if isinstance(statement, ast.Assign):
        for target in statement.targets:
            if isinstance(target, ast.Name):
                try:
                    variables[target.id] = _literal(value, variables)
                except (ValueError, TypeError, SyntaxError):
                    variables.pop(target.id, None)
        return []
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "add":
        return list(value.args[:1])
    return []


def spec_from_code(text: str, source: str = "code") -> str:
    """The layer spec written by Keras code: each ``model.add(...)`` or ``Sequential([...])``
    layer, in order, in Keras's call syntax. Errors name ``source`` and the line."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise input_error(
            tr("{source}, line {line}: not Python code ({reason})").format(
                source=source, line=exc.lineno, reason=exc.msg
            )
        ) from None
    variables: dict[str, Any] = {}
    layers: list[str] = []
    for statement in tree.body:
        for node in _statement_layers(statement, variables):
            where = tr("{source}, line {line}").format(source=source, line=getattr(node, "lineno", statement.lineno))
            if not isinstance(node, ast.Call):
                raise input_error(
                    tr("{where}: expected a layer such as Conv2D(...), got {code!r}").format(
                        where=where, code=ast.unparse(node)
                    )
                )
            layers.append(_layer_text(node, variables, where))
    if not layers:
        raise input_error(
            tr(
                "{source}: no layers found: expected model.add(Conv2D(...)) lines or Sequential([Conv2D(...), ...])"
            ).format(source=source)
        )
    return ", ".join(layers)


def read_layers_file(path: str | Path) -> str:
    """:func:`spec_from_code` on a file's text (``--layers-from FILE``)."""
    return spec_from_code(read_text(path, "Keras code"), str(path))
