"""The compact layer-spec language: parse a spec, check each layer, explain errors by position.

A spec is a comma-separated list of layers for 28×28×1 inputs, e.g.
``conv(32,3),pool(2),conv(16,3),pool(2),flatten,dense(10)``. Layers:

=========  ======================  ==========================================================
layer      also written            arguments
=========  ======================  ==========================================================
conv       Conv2D                  conv(filters, kernel, strides=1, padding=valid, activation=relu)
pool       MaxPooling2D, maxpool   pool(size=2, strides=size, padding=valid): max pooling
avgpool    AveragePooling2D        avgpool(size=2, strides=size, padding=valid)
gap        GlobalAveragePooling2D  global average pooling (one value per channel)
flatten    Flatten                 flatten to a vector
dense      Dense                   dense(units, activation=relu); the last dense defaults to softmax
dropout    Dropout                 dropout(rate)
batchnorm  BatchNormalization      batch normalisation
=========  ======================  ==========================================================

Names are read in any letter case, ``_`` ignored (Keras's default layer names such as
``max_pooling2d`` work too). Layers are separated by commas; every layer takes ``name=``.

Keras's own call syntax, as the lecture writes it, is read too: ``Conv2D(64, kernel_size=3,
activation="relu", input_shape=input_shape)``, ``MaxPooling2D(pool_size=(2,2))``,
``keras.layers.Dense(10)``: quoted strings, tuples, Keras's argument names (``kernel_size``,
``pool_size``) and ``Input(shape=(28, 28, 1))`` (the first layer's ``input_shape``). Sizes and
strides may be pairs (``(2, 1)``, ``2x1``); a conv's ``padding`` may be the lecture's number P.
Values are read by :mod:`convcli.models.specsyntax`, never executed.
Nothing here imports Keras: a spec is checked before any model is built (shapes:
:mod:`convcli.models.speccheck`). (Written by hand: no library parses this small notation.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ConvcliError, input_error, read_text
from ..filtering.config import PADDINGS
from ..i18n import N_, tr
from ..suggest import did_you_mean
from .specsyntax import as_pair, missing_commas, parse_value, split_keyword, split_top_level

LAYER_ACTIVATIONS = (
    "relu",
    "linear",
    "tanh",
    "sigmoid",
    "softmax",
    "elu",
    "selu",
    "gelu",
    "swish",
    "silu",
    "softplus",
    "leaky_relu",
    "relu6",
    "hard_sigmoid",
)
"""The Keras activations a spec's ``conv`` and ``dense`` layers accept."""

LAYER_KINDS = ("conv", "pool", "avgpool", "gap", "flatten", "dense", "dropout", "batchnorm")
KERAS_NAMES = {
    "Conv2D": "conv",
    "MaxPooling2D": "pool",
    "AveragePooling2D": "avgpool",
    "GlobalAveragePooling2D": "gap",
    "Flatten": "flatten",
    "Dense": "dense",
    "Dropout": "dropout",
    "BatchNormalization": "batchnorm",
}
"""Keras's class names, accepted as aliases of the spec's layers (any letter case)."""
OTHER_ALIASES = {
    "maxpool": "pool",
    "avgpool2d": "avgpool",
    "globalavgpool": "gap",
    "bn": "batchnorm",
}
"""Short names people write for the same layers (any letter case; ``_`` ignored)."""
_ALIASES = {
    **{name.lower(): kind for name, kind in KERAS_NAMES.items()},
    **{name.lower(): kind for name, kind in OTHER_ALIASES.items()},
    "maxpool2d": "pool",
    "maxpooling": "pool",
    "linear": "dense",
}
KEYWORD_ALIASES = {"kernel_size": "kernel", "pool_size": "size"}
"""Keras's argument names that the spec spells shorter (``Conv2D(64, kernel_size=3)``)."""
INPUT_NAMES = ("input", "inputlayer")
"""``Input(shape=(28, 28, 1))``: not a layer but the input shape, given to the next layer."""
_TOKEN = re.compile(r"^\s*((?:[A-Za-z_]\w*\.)*[A-Za-z_][\w-]*)\s*(?:\((.*)\))?\s*$", re.DOTALL)
_NAME = re.compile(r"^[A-Za-z_][\w-]*$")

_SIGNATURES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (positional names, allowed keyword names)
    "conv": (("filters", "kernel"), ("filters", "kernel", "strides", "padding", "activation", "name")),
    "pool": (("size",), ("size", "strides", "padding", "name")),
    "avgpool": (("size",), ("size", "strides", "padding", "name")),
    "gap": ((), ("name",)),
    "flatten": ((), ("name",)),
    "dense": (("units",), ("units", "activation", "name")),
    "dropout": (("rate",), ("rate", "name")),
    "batchnorm": ((), ("name", "momentum")),
    "input": (("shape",), ("shape", "name")),
}


@dataclass(frozen=True)
class LayerSpec:
    """One parsed layer of a spec, remembering where it was written (for error messages)."""

    kind: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    token: str = ""
    index: int = 0
    column: int = 0


def spec_error(spec: LayerSpec, message: str) -> ConvcliError:
    """An input error that names the layer, its text and its column."""
    return input_error(
        tr("layer spec, layer {number} {layer!r} (column {column}): {message}").format(
            number=spec.index + 1, layer=spec.token.strip(), column=spec.column + 1, message=message
        )
    )


def _check_commas(text: str) -> None:
    """Layers written with spaces instead of commas: say so, with the spec as it should read."""
    gaps = missing_commas(text)
    if not gaps:
        return
    pieces = [text[start:end].strip() for start, end in zip([0, *gaps], [*gaps, len(text)])]
    raise input_error(
        tr("layer spec: layers are separated by commas, found only spaces at column {column}; write {items!r}").format(
            column=gaps[0] + 1, items=",".join(pieces)
        )
    )


def _value(probe: LayerSpec, raw: str) -> Any:
    """One argument's value (see :func:`convcli.models.specsyntax.parse_value`), errors naming the layer."""
    try:
        return parse_value(raw)
    except ConvcliError as exc:
        raise spec_error(probe, exc.message.partition(": ")[2]) from None


def _arguments(probe: LayerSpec, body: str | None) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments written between a layer's parentheses."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    if body is None or not body.strip():
        return args, kwargs
    for part, _ in split_top_level(body):
        if not part.strip():
            raise spec_error(probe, tr("empty argument"))
        key, raw = split_keyword(part)
        value = _value(probe, raw)
        if key is not None:
            key = key.strip().lower()
            if not _NAME.match(key):
                raise spec_error(probe, tr("bad argument name {name!r}").format(name=key))
            key = KEYWORD_ALIASES.get(key, key)
            if key in kwargs:
                raise spec_error(probe, tr("argument {name!r} given twice").format(name=key))
            kwargs[key] = value
        else:
            if kwargs:
                raise spec_error(probe, tr("positional argument after a keyword argument"))
            args.append(value)
    return args, kwargs


def layer_kind(name: str) -> str | None:
    """The spec's layer kind for a written name (``pool``, ``MaxPooling2D``, ``max_pooling2d``,
    ``maxpool``…), or None when it names no layer."""
    for key in (name.lower(), name.lower().replace("_", "")):
        if key in LAYER_KINDS or key in _ALIASES:
            return _ALIASES.get(key, key)
        if key in INPUT_NAMES:
            return "input"
    return None


def _suggestion(name: str) -> str:
    """A close layer name, spelled as written in the docs: the spec's own lowercase name
    (``flatten``, ``pool``) for a lowercase typo, the Keras name (``MaxPooling2D``) for a
    capitalised one."""
    own = (*LAYER_KINDS, *OTHER_ALIASES)
    spellings: dict[str, str] = {}
    for spelt in (*KERAS_NAMES, *own) if name != name.lower() else (*own, *KERAS_NAMES):
        spellings.setdefault(spelt.lower(), spelt)
    hint = did_you_mean(name.lower().replace("_", ""), spellings)
    for lower, spelt in spellings.items():
        hint = hint.replace(f"'{lower}'", f"'{spelt}'")
    return hint


def _parse_layer(piece: str, index: int, column: int) -> LayerSpec:
    lead = len(piece) - len(piece.lstrip())
    token = piece.strip()
    probe = LayerSpec("?", token=token or "(empty)", index=index, column=column + lead)
    if not token:
        raise spec_error(probe, tr("empty layer (two commas in a row, or a trailing comma?)"))
    match = _TOKEN.match(token)
    if not match:
        raise spec_error(probe, tr("expected NAME or NAME(args), e.g. conv(32,3)"))
    written = match.group(1).rsplit(".", 1)[-1]  # keras.layers.Conv2D, layers.Conv2D: Conv2D
    kind = layer_kind(written)
    if kind is None:
        raise spec_error(
            probe,
            tr("unknown layer {name!r}{suggestion}; layers: {kinds} (or Keras's names: {keras})").format(
                name=written,
                suggestion=_suggestion(written),
                kinds=", ".join(LAYER_KINDS),
                keras=", ".join(KERAS_NAMES),
            ),
        )
    args, kwargs = _arguments(probe, match.group(2))
    spec = LayerSpec(kind, tuple(args), kwargs, token, index, column + lead)
    _check_layer(spec)
    return spec


def parse_layer(text: str) -> LayerSpec:
    """One layer's text (``Conv2D(64, kernel_size=3)``) parsed and checked on its own."""
    return _parse_layer(text, 0, 0)


def parse_spec(text: str) -> list[LayerSpec]:
    """Parse a layer spec into :class:`LayerSpec` items; errors point at the offending layer."""
    if not text or not text.strip():
        raise input_error(tr("layer spec is empty: give layers such as 'flatten,dense(10)'"))
    if len(text) > 100_000:
        raise input_error(tr("layer spec is too long (over 100,000 characters)"))
    _check_commas(text)
    specs = [_parse_layer(piece, index, column) for index, (piece, column) in enumerate(split_top_level(text))]
    return _input_to_first_layer(specs)


def _input_to_first_layer(specs: list[LayerSpec]) -> list[LayerSpec]:
    """``Input(shape=S), Conv2D(...)`` as the lecture writes it: the first layer with
    ``input_shape=S``. An input shape anywhere but on the first layer is an error."""
    for position, spec in enumerate(specs):
        if ("input_shape" in spec.kwargs and position > 0) or (spec.kind == "input" and position > 0):
            raise spec_error(spec, tr("the input shape belongs to the first layer only (or Input(shape=...) first)"))
    if not specs or specs[0].kind != "input":
        return specs
    given, rest = specs[0], specs[1:]
    if not rest:
        raise spec_error(given, tr("an Input(shape=...) needs layers after it"))
    bound = bind_arguments(given)
    shape = bound.get("shape", bound.get("input_shape"))
    if shape is None:
        raise spec_error(given, tr("Input needs shape=(H, W, C), e.g. Input(shape=(28, 28, 1))"))
    if "input_shape" in rest[0].kwargs:
        raise spec_error(rest[0], tr("input shape given twice (Input(shape=...) and input_shape=)"))
    first = replace(rest[0], kwargs={**rest[0].kwargs, "input_shape": shape})
    return [first, *rest[1:]]


def _int(spec: LayerSpec, value: Any, what: str, low: int = 1, high: int = 1 << 20) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise spec_error(spec, tr("{what} must be a whole number, got {value!r}").format(what=tr(what), value=value))
    if not low <= value <= high:
        raise spec_error(
            spec,
            tr("{what} must be between {low} and {high:,}, got {value}").format(
                what=tr(what), low=low, high=high, value=value
            ),
        )
    return value


def _ints(spec: LayerSpec, value: Any, what: str, high: int) -> None:
    """A size or stride: one whole number, or a pair (``(2, 1)``, ``2x1``) for height and width."""
    if isinstance(value, tuple) and len(value) != 2:
        raise spec_error(
            spec,
            tr("{what} must be a number or a pair such as (2, 1), got {value!r}").format(what=tr(what), value=value),
        )
    for one in as_pair(value):
        _int(spec, one, what, 1, high)


def _check_padding(spec: LayerSpec, padding: Any) -> None:
    """``valid``, ``same`` or, for conv, the lecture's P: that many zeros on each side."""
    if padding in PADDINGS:
        return
    if spec.kind == "conv" and isinstance(padding, int) and not isinstance(padding, bool):
        _int(spec, padding, N_("padding P"), 0, 64)
        return
    allowed = tr("valid, same or a number P (zeros on each side)") if spec.kind == "conv" else tr("valid or same")
    raise spec_error(spec, tr("padding must be {allowed}, got {padding!r}").format(allowed=allowed, padding=padding))


def _check_input_shape(spec: LayerSpec, shape: Any) -> None:
    """(H, W) or (H, W, C) with C 1 or 3, or a Python name (``input_shape=input_shape``) that
    the caller resolves (see :func:`convcli.models.speccheck.resolve_input_shape`)."""
    if isinstance(shape, str) and re.fullmatch(r"[A-Za-z_]\w*", shape):
        return
    ok = isinstance(shape, tuple) and len(shape) in (2, 3) and all(type(n) is int and 1 <= n <= 4096 for n in shape)
    if not ok or shape[2:] not in ((), (1,), (3,)):
        raise spec_error(
            spec, tr("input shape must be (H, W) or (H, W, C) with C 1 or 3, got {shape!r}").format(shape=shape)
        )


def _fraction(spec: LayerSpec, value: Any, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise spec_error(
            spec, tr("{what} must be a number in [0, 1), got {value!r}").format(what=tr(what), value=value)
        )


def bind_arguments(spec: LayerSpec) -> dict[str, Any]:
    """The layer's arguments by name (positional ones named by the layer's signature)."""
    positional, allowed = _SIGNATURES[spec.kind]
    if len(spec.args) > len(positional) and not positional:
        named = ", ".join(f"{name}=" for name in allowed)
        only_name = tr("{kind} takes no arguments (only {names})")
        message = only_name if allowed == ("name",) else tr("{kind} takes no positional arguments; name them ({names})")
        raise spec_error(spec, message.format(kind=spec.kind, names=named))
    if len(spec.args) > len(positional):
        raise spec_error(
            spec,
            tr("{kind} takes at most {count} positional argument(s)").format(kind=spec.kind, count=len(positional)),
        )
    bound = dict(zip(positional, spec.args))
    for key, value in spec.kwargs.items():
        if key not in allowed and key != "input_shape":
            raise spec_error(
                spec,
                tr("{kind} has no argument {name!r} (it takes {allowed})").format(
                    kind=spec.kind, name=key, allowed=", ".join(allowed)
                ),
            )
        if key in bound:
            raise spec_error(spec, tr("argument {name!r} given twice").format(name=key))
        bound[key] = value
    return bound


def _check_layer(spec: LayerSpec) -> None:
    """Validate one layer's arguments (types and ranges) without building anything."""
    bound = bind_arguments(spec)
    if "name" in bound and (not isinstance(bound["name"], str) or not _NAME.match(bound["name"])):
        raise spec_error(spec, tr("name must be letters, digits, '_' or '-', got {name!r}").format(name=bound["name"]))
    if "activation" in bound and bound["activation"] not in LAYER_ACTIVATIONS:
        activation = str(bound["activation"])
        raise spec_error(
            spec,
            tr("unknown activation {name!r}{suggestion}").format(
                name=activation, suggestion=did_you_mean(activation, LAYER_ACTIVATIONS)
            ),
        )
    _check_padding(spec, bound.get("padding", "valid"))
    if "input_shape" in bound or "shape" in bound:
        _check_input_shape(spec, bound.get("input_shape", bound.get("shape")))
    if spec.kind == "conv":
        if "filters" not in bound or "kernel" not in bound:
            raise spec_error(spec, tr("conv needs filters and kernel size, e.g. conv(32,3)"))
        _int(spec, bound["filters"], "filters", 1, 4096)
        _ints(spec, bound["kernel"], N_("kernel size"), 28)
        _ints(spec, bound.get("strides", 1), "strides", 28)
    elif spec.kind in ("pool", "avgpool"):
        _ints(spec, bound.get("size", 2), "pool size", 28)
        _ints(spec, bound.get("strides", bound.get("size", 2)), "strides", 28)
    elif spec.kind == "dense":
        if "units" not in bound:
            raise spec_error(spec, tr("dense needs a number of units, e.g. dense(10)"))
        _int(spec, bound["units"], "units", 1, 1 << 16)
    elif spec.kind == "dropout":
        _fraction(spec, bound.get("rate"), N_("dropout rate"))
    elif spec.kind == "batchnorm" and "momentum" in bound:
        _fraction(spec, bound["momentum"], "momentum")


def read_spec_argument(value: str) -> str:
    """Resolve a spec argument: ``@FILE`` reads the spec from a file (``#`` comments allowed)."""
    if not value.startswith("@"):
        return value
    text = read_text(value[1:], "a layer spec")
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    joined = " ".join(line.strip() for line in lines if line.strip())
    # A file may list one layer per line, with or without trailing commas.
    joined = re.sub(r"\)\s+(?=[A-Za-z_])", "),", joined)
    joined = re.sub(r"(?<=[A-Za-z_0-9])\s+(?=[A-Za-z_])", ",", joined)
    return joined
