"""Model presets, the compact layer-spec language, and the lecture's per-layer arithmetic.

A spec is a comma-separated list of layers for 28×28×1 inputs, e.g.
``conv(32,3),pool(2),conv(16,3),pool(2),flatten,dense(10)``. Layers:

=========  ==========================================================================
conv       conv(filters, kernel, strides=1, padding=valid, activation=relu)
pool       pool(size=2, strides=size, padding=valid): max pooling
avgpool    avgpool(size=2, strides=size, padding=valid)
gap        global average pooling (one value per channel)
flatten    flatten to a vector
dense      dense(units, activation=relu); the last dense defaults to softmax
dropout    dropout(rate)
batchnorm  batch normalisation
=========  ==========================================================================

Every layer takes ``name=``. Presets are specs with tuned training defaults.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import input_error

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
ACTIVATIONS = (
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
PADDINGS = ("valid", "same")


@dataclass(frozen=True)
class Preset:
    """A named architecture (as a spec) and the training defaults tuned for it."""

    name: str
    spec: str
    description: str
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    schedule: str = "constant"
    augment: bool = False
    label_smoothing: float = 0.0


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "softmax",
            "flatten,dense(10)",
            "A softmax layer alone (the lecture's first exercise, about 92%)",
            epochs=10,
            batch_size=128,
            learning_rate=1e-3,
        ),
        Preset(
            "mlp",
            "flatten,dense(512),dropout(0.2),dense(512),dropout(0.2),dense(10)",
            "Two hidden layers of 512 with dropout (97–98% in the lecture; 98%+ here)",
            epochs=12,
            batch_size=128,
            learning_rate=1e-3,
            schedule="cosine",
        ),
        Preset(
            "cnn",
            "conv(16,5),pool(2),conv(32,5),pool(2),flatten,dense(128),dropout(0.3),dense(10)",
            "Recommended: two 5×5 conv blocks (16, 32), dense 128, dropout; cosine schedule, shifts",
            epochs=12,
            batch_size=128,
            learning_rate=3e-3,
            schedule="cosine",
            augment=True,
            label_smoothing=0.1,
        ),
        Preset(
            "lecture-cnn",
            "conv(32,3),pool(2,name=max_pool_1),conv(16,3),pool(2,name=max_pool_2),flatten,dense(10)",
            "The lecture's final network: conv 32, pool, conv 16, pool, dense 10 (8,954 params)",
            epochs=10,
            batch_size=128,
            learning_rate=1e-3,
        ),
        Preset(
            "slide-conv64",
            "conv(64,3),flatten,dense(10)",
            "Lecture slide: Conv2D(64) + Flatten + Dense(10) (433,290 params)",
        ),
        Preset(
            "slide-conv64-tanh",
            "conv(64,3),flatten,dense(15,activation=tanh),dense(10)",
            "Lecture slide: a hidden Dense(15, tanh) after the conv (649,775 params)",
        ),
        Preset(
            "slide-conv64-pool",
            "conv(64,3),pool(2),flatten,dense(15,activation=tanh),dense(10)",
            "Lecture slide: MaxPooling2D cuts the dense inputs by 75% (163,055 params)",
        ),
    ]
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


_LAYER_KINDS = ("conv", "pool", "avgpool", "gap", "flatten", "dense", "dropout", "batchnorm")
_ALIASES = {
    "conv2d": "conv",
    "maxpool": "pool",
    "max_pool": "pool",
    "maxpooling": "pool",
    "avg_pool": "avgpool",
    "globalavgpool": "gap",
    "bn": "batchnorm",
    "batch_norm": "batchnorm",
    "linear": "dense",
}
_TOKEN = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*(?:\((.*)\))?\s*$", re.DOTALL)
_NAME = re.compile(r"^[A-Za-z_][\w-]*$")


def _spec_error(spec: LayerSpec | None, message: str, text: str = "") -> Exception:
    if spec is None:
        return input_error(f"layer spec: {message}")
    return input_error(
        f"layer spec, layer {spec.index + 1} {spec.token.strip()!r} (column {spec.column + 1}): {message}"
    )


def _split_top_level(text: str) -> list[tuple[str, int]]:
    """Split on commas outside parentheses, keeping each piece's start column."""
    pieces: list[tuple[str, int]] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth > 1:
                raise input_error(f"layer spec: nested parentheses at column {i + 1}")
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise input_error(f"layer spec: unmatched ')' at column {i + 1}")
        elif ch == "," and depth == 0:
            pieces.append((text[start:i], start))
            start = i + 1
    if depth:
        raise input_error("layer spec: unclosed '(' (the spec ends inside a layer's arguments)")
    pieces.append((text[start:], start))
    return pieces


def _value(raw: str) -> Any:
    raw = raw.strip()
    if re.fullmatch(r"[+-]?\d+", raw):
        return int(raw)
    try:
        value = float(raw)
    except ValueError:
        return raw
    return value


def parse_spec(text: str) -> list[LayerSpec]:
    """Parse a layer spec into :class:`LayerSpec` items; errors point at the offending layer."""
    if not text or not text.strip():
        raise input_error("layer spec is empty: give layers such as 'flatten,dense(10)'")
    if len(text) > 100_000:
        raise input_error("layer spec is too long (over 100,000 characters)")
    specs: list[LayerSpec] = []
    for index, (piece, column) in enumerate(_split_top_level(text)):
        lead = len(piece) - len(piece.lstrip())
        token = piece.strip()
        probe = LayerSpec("?", token=token or "(empty)", index=index, column=column + lead)
        if not token:
            raise _spec_error(probe, "empty layer (two commas in a row, or a trailing comma?)")
        match = _TOKEN.match(token)
        if not match:
            raise _spec_error(probe, "expected NAME or NAME(args), e.g. conv(32,3)")
        kind = match.group(1).lower()
        kind = _ALIASES.get(kind, kind)
        if kind not in _LAYER_KINDS:
            from .suggest import did_you_mean

            raise _spec_error(
                probe,
                f"unknown layer {match.group(1)!r}{did_you_mean(kind, _LAYER_KINDS)}; "
                f"layers: {', '.join(_LAYER_KINDS)}",
            )
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        body = match.group(2)
        if body is not None and body.strip():
            for part in body.split(","):
                if not part.strip():
                    raise _spec_error(probe, "empty argument")
                if "=" in part:
                    key, _, val = part.partition("=")
                    key = key.strip().lower()
                    if not _NAME.match(key):
                        raise _spec_error(probe, f"bad argument name {key!r}")
                    if key in kwargs:
                        raise _spec_error(probe, f"argument {key!r} given twice")
                    kwargs[key] = _value(val)
                else:
                    if kwargs:
                        raise _spec_error(probe, "positional argument after a keyword argument")
                    args.append(_value(part))
        spec = LayerSpec(kind, tuple(args), kwargs, token, index, column + lead)
        _check_layer(spec)
        specs.append(spec)
    return specs


def _int(spec: LayerSpec, value: Any, what: str, low: int = 1, high: int = 1 << 20) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _spec_error(spec, f"{what} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise _spec_error(spec, f"{what} must be between {low} and {high:,}, got {value}")
    return value


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
}


def _bind(spec: LayerSpec) -> dict[str, Any]:
    positional, allowed = _SIGNATURES[spec.kind]
    if len(spec.args) > len(positional):
        raise _spec_error(spec, f"{spec.kind} takes at most {len(positional)} positional argument(s)")
    bound = dict(zip(positional, spec.args))
    for key, value in spec.kwargs.items():
        if key not in allowed:
            raise _spec_error(spec, f"{spec.kind} has no argument {key!r} (it takes {', '.join(allowed)})")
        if key in bound:
            raise _spec_error(spec, f"argument {key!r} given twice")
        bound[key] = value
    return bound


def _check_layer(spec: LayerSpec) -> None:
    """Validate one layer's arguments (types and ranges) without building anything."""
    bound = _bind(spec)
    if "name" in bound and (not isinstance(bound["name"], str) or not _NAME.match(bound["name"])):
        raise _spec_error(spec, f"name must be letters, digits, '_' or '-', got {bound['name']!r}")
    if "activation" in bound and bound["activation"] not in ACTIVATIONS:
        from .suggest import did_you_mean

        raise _spec_error(
            spec, f"unknown activation {bound['activation']!r}{did_you_mean(str(bound['activation']), ACTIVATIONS)}"
        )
    if "padding" in bound and bound["padding"] not in PADDINGS:
        raise _spec_error(spec, f"padding must be valid or same, got {bound['padding']!r}")
    if spec.kind == "conv":
        if "filters" not in bound or "kernel" not in bound:
            raise _spec_error(spec, "conv needs filters and kernel size, e.g. conv(32,3)")
        _int(spec, bound["filters"], "filters", 1, 4096)
        _int(spec, bound["kernel"], "kernel size", 1, 28)
        _int(spec, bound.get("strides", 1), "strides", 1, 28)
    elif spec.kind in ("pool", "avgpool"):
        _int(spec, bound.get("size", 2), "pool size", 1, 28)
        _int(spec, bound.get("strides", bound.get("size", 2)), "strides", 1, 28)
    elif spec.kind == "dense":
        if "units" not in bound:
            raise _spec_error(spec, "dense needs a number of units, e.g. dense(10)")
        _int(spec, bound["units"], "units", 1, 1 << 16)
    elif spec.kind == "dropout":
        rate = bound.get("rate")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise _spec_error(spec, f"dropout rate must be a number in [0, 1), got {rate!r}")
    elif spec.kind == "batchnorm" and "momentum" in bound:
        m = bound["momentum"]
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 <= m < 1:
            raise _spec_error(spec, f"momentum must be a number in [0, 1), got {m!r}")


def read_spec_argument(value: str) -> str:
    """Resolve ``--layers`` values: ``@FILE`` reads the spec from a file (``#`` comments allowed)."""
    if not value.startswith("@"):
        return value
    path = Path(value[1:])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise input_error(f"{path}: no such spec file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise input_error(f"{path}: cannot read spec file ({exc})") from None
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    joined = " ".join(line.strip() for line in lines if line.strip())
    # A file may list one layer per line, with or without trailing commas.
    joined = re.sub(r"\)\s+(?=[A-Za-z_])", "),", joined)
    joined = re.sub(r"(?<=[A-Za-z_0-9])\s+(?=[A-Za-z_])", ",", joined)
    return joined


def resolve_architecture(preset: str | None, layers: str | None) -> tuple[str, str | None]:
    """Return (spec, preset name or None) from a preset name or a ``--layers`` value."""
    if preset and layers:
        raise input_error("give a PRESET or --layers SPEC, not both")
    if layers:
        return read_spec_argument(layers), None
    if not preset:
        raise input_error(f"give a PRESET ({', '.join(PRESETS)}) or --layers SPEC")
    if preset not in PRESETS:
        from .suggest import did_you_mean

        raise input_error(f"unknown preset {preset!r}{did_you_mean(preset, PRESETS)}; presets: {', '.join(PRESETS)}")
    return PRESETS[preset].spec, preset


def _keras_layer(k: Any, spec: LayerSpec, last_dense: bool, counters: dict[str, int]) -> Any:
    bound = _bind(spec)
    keras_type = {
        "conv": "conv2d",
        "pool": "max_pooling2d",
        "avgpool": "average_pooling2d",
        "gap": "global_average_pooling2d",
        "flatten": "flatten",
        "dense": "dense",
        "dropout": "dropout",
        "batchnorm": "batch_normalization",
    }[spec.kind]
    count = counters.get(keras_type, 0)
    counters[keras_type] = count + 1
    name = bound.get("name") or (keras_type if count == 0 else f"{keras_type}_{count}")
    if spec.kind == "conv":
        return k.layers.Conv2D(
            bound["filters"],
            bound["kernel"],
            strides=bound.get("strides", 1),
            padding=bound.get("padding", "valid"),
            activation=bound.get("activation", "relu"),
            name=name,
        )
    if spec.kind in ("pool", "avgpool"):
        cls = k.layers.MaxPooling2D if spec.kind == "pool" else k.layers.AveragePooling2D
        size = bound.get("size", 2)
        return cls(pool_size=size, strides=bound.get("strides", size), padding=bound.get("padding", "valid"), name=name)
    if spec.kind == "gap":
        return k.layers.GlobalAveragePooling2D(name=name)
    if spec.kind == "flatten":
        return k.layers.Flatten(name=name)
    if spec.kind == "dense":
        default = "softmax" if last_dense else "relu"
        # Under mixed precision the class probabilities stay float32, as Keras advises.
        dtype = "float32" if last_dense and k.mixed_precision.global_policy().name.startswith("mixed") else None
        return k.layers.Dense(bound["units"], activation=bound.get("activation", default), name=name, dtype=dtype)
    if spec.kind == "dropout":
        return k.layers.Dropout(float(bound["rate"]), name=name)
    return k.layers.BatchNormalization(momentum=float(bound.get("momentum", 0.99)), name=name)


def build_model(
    spec: str | list[LayerSpec],
    *,
    name: str = "convcli_model",
    input_shape: tuple[int, int, int] = INPUT_SHAPE,
    num_classes: int = NUM_CLASSES,
) -> Any:
    """Build a ``keras.Sequential`` from a spec; the output must be ``num_classes`` probabilities."""
    specs = parse_spec(spec) if isinstance(spec, str) else spec
    from .backend import keras

    k = keras()
    dense_indices = [i for i, s in enumerate(specs) if s.kind == "dense"]
    last_dense = dense_indices[-1] if dense_indices else -1
    counters: dict[str, int] = {}
    names: set[str] = set()
    layers = []
    x = k.Input(shape=input_shape)
    for i, layer_spec in enumerate(specs):
        layer = _keras_layer(k, layer_spec, i == last_dense, counters)
        if layer.name in names:
            raise _spec_error(layer_spec, f"layer name {layer.name!r} is used twice")
        names.add(layer.name)
        shape = tuple(x.shape[1:])
        try:
            x = layer(x)
        except (ValueError, TypeError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise _spec_error(layer_spec, f"cannot follow an output of shape {shape} ({detail[:160]})") from None
        if any(d is not None and d < 1 for d in x.shape[1:]):
            raise _spec_error(layer_spec, f"turns shape {shape} into {tuple(x.shape[1:])}: nothing left")
        layers.append(layer)
    model = k.Sequential([k.Input(shape=input_shape), *layers], name=name)
    out_shape = tuple(model.outputs[0].shape[1:])
    if out_shape != (num_classes,):
        raise _spec_error(
            specs[-1],
            f"the model's output has shape {out_shape}; it must end in dense({num_classes}) "
            f"after flatten or gap, giving {num_classes} class probabilities",
        )
    return model


# --------------------------------------------------------------------------- summary arithmetic


@dataclass
class LayerRow:
    """One row of ``convcli summary``: what a layer outputs and holds, and the arithmetic."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    params_formula: str
    shape_formula: str

    def as_json(self) -> dict[str, Any]:
        """The JSON object for ``summary --json``."""
        return {
            "name": self.name,
            "type": self.type,
            "output_shape": list(self.output_shape),
            "params": self.params,
            "params_formula": self.params_formula,
            "shape_formula": self.shape_formula,
        }


def _size_formula(n: int, k: int, s: int, padding: str, out: int) -> str:
    if padding == "same":
        if s == 1 and k % 2 == 1:
            p = (k - 1) // 2
            return f"({n} + 2·{p} − {k})/{s} + 1 = {out}"
        return f"⌈{n}/{s}⌉ = {out} (same)"
    exact = (n - k) % s == 0
    core = f"({n} + 2·0 − {k})/{s}"
    return f"{core} + 1 = {out}" if exact else f"⌊{core}⌋ + 1 = {out}"


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _shape_formula(layer: Any, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> str:
    cls = type(layer).__name__
    if cls in ("Conv2D", "MaxPooling2D", "AveragePooling2D"):
        if cls == "Conv2D":
            kh, kw = _pair(layer.kernel_size)
        else:
            kh, kw = _pair(layer.pool_size)
        sh, sw = _pair(layer.strides)
        fh = _size_formula(in_shape[0], kh, sh, layer.padding, out_shape[0])
        fw = _size_formula(in_shape[1], kw, sw, layer.padding, out_shape[1])
        return fh if fh == fw else f"{fh}; {fw}"
    if cls == "Flatten":
        return "·".join(str(d) for d in in_shape) + f" = {math.prod(in_shape)}"
    if cls == "Dense":
        return f"{layer.units} units"
    if cls == "GlobalAveragePooling2D":
        return f"mean over {in_shape[0]}×{in_shape[1]} → {in_shape[2]}"
    return "unchanged" if in_shape == out_shape else ""


def _params_formula(layer: Any, in_shape: tuple[int, ...], params: int) -> str:
    cls = type(layer).__name__
    if cls == "Conv2D":
        kh, kw = _pair(layer.kernel_size)
        f, c = layer.filters, in_shape[-1]
        bias = f" + {f}" if layer.use_bias else ""
        return f"{f}·{kh}·{kw}·{c}{bias} = {params}"
    if cls == "Dense":
        n_in, units = in_shape[-1], layer.units
        bias = f" + {units}" if layer.use_bias else ""
        return f"{n_in}·{units}{bias} = {params}"
    if cls == "BatchNormalization":
        c = in_shape[-1]
        return f"4·{c} = {params} ({2 * c} trainable)"
    return "0" if params == 0 else str(params)


def describe_model(model: Any) -> list[LayerRow]:
    """Per-layer output shape and parameter count, each with the arithmetic that gives it."""
    rows: list[LayerRow] = []
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    for layer in model.layers:
        out = tuple(int(d) for d in layer.output.shape[1:])
        params = int(layer.count_params())
        rows.append(
            LayerRow(
                layer.name,
                type(layer).__name__,
                out,
                params,
                _params_formula(layer, shape, params),
                _shape_formula(layer, shape, out),
            )
        )
        shape = out
    return rows


def load_model(path: str | Any) -> Any:
    """Load a ``.keras`` model in Keras's safe mode: files carrying code (Lambda layers,
    custom objects) are refused, and a damaged file is a clear error, not a traceback."""
    import zipfile

    p = Path(path)
    if not p.exists():
        raise input_error(f"{p}: no such model file")
    if p.is_dir():
        raise input_error(f"{p}: is a folder, expected a .keras model file")
    if p.suffix != ".keras":
        raise input_error(f"{p}: expected a .keras model file (Keras 3 format)")
    if not zipfile.is_zipfile(p):
        raise input_error(f"{p}: not a .keras model (not a zip archive; truncated or corrupted?)")
    try:
        with zipfile.ZipFile(p) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                raise input_error(f"{p}: not a .keras model (no config.json inside)")
            bad = archive.testzip()
            if bad is not None:
                raise input_error(f"{p}: corrupted model file ({bad} fails its checksum)")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise input_error(f"{p}: corrupted model file ({exc})") from None
    from .backend import keras

    k = keras()
    import warnings

    from .backend import is_verbose

    try:
        with warnings.catch_warnings():
            if not is_verbose():  # Keras's notes (optimizer state skipped, …) are not the user's errors
                warnings.simplefilter("ignore")
            return k.saving.load_model(p, safe_mode=True, compile=True)
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "safe_mode" in str(exc) or "Lambda" in str(exc) or "lambda" in str(exc):
            raise input_error(
                f"{p}: refused: the model carries code (a Lambda layer or custom object), which "
                "safe mode does not load from untrusted files"
            ) from None
        raise input_error(f"{p}: cannot load model ({message[:200]})") from None


def check_image_model(model: Any, source: str = "model") -> tuple[int, ...]:
    """The model's input shape without the batch axis; it must take 28×28(×1) images."""
    shape = tuple(model.inputs[0].shape[1:])
    if shape not in ((28, 28, 1), (28, 28), (784,)):
        raise input_error(f"{source}: the model takes inputs of shape {shape}, not 28×28×1 images")
    out = tuple(model.outputs[0].shape[1:])
    if len(out) != 1:
        raise input_error(f"{source}: the model outputs shape {out}, not class scores")
    return shape


def model_from_argument(model: str | None, layers: str | None) -> Any:
    """A Keras model from ``summary``'s arguments: a ``.keras`` file, a preset, or a spec."""
    if model and (model.endswith(".keras") or Path(model).exists()) and not layers:
        return load_model(model)
    spec, name = resolve_architecture(model, layers)
    return build_model(spec, name=name or "convcli_model")
