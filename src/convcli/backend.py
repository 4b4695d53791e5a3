"""Lazy, quiet access to Keras, and the project's only direct TensorFlow calls.

Keras (and with it TensorFlow, a 2.5-second import) is imported on first use only, so commands
that do not need it start fast. TensorFlow's native start-up log lines are silenced unless
verbose mode is on. The backend is chosen just before that import: ``KERAS_BACKEND`` when set,
else JAX when a CUDA-enabled JAX and a GPU are found (the ``gpu`` extra), else Keras's default.
"""

from __future__ import annotations

import contextlib
import glob
import os
import sys
from collections.abc import Callable, Mapping
from importlib.util import find_spec
from types import ModuleType
from typing import Any

_verbose = False
_backend_reason: str | None = None  # why keras() chose the backend it imported

REASON_ENV = "KERAS_BACKEND set"
REASON_GPU_JAX = "JAX with a GPU found"
REASON_DEFAULT = "default"
JAX_CUDA_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin")
PRECISIONS = ("float32", "mixed")
"""What ``--precision`` takes (:func:`set_precision`)."""
DEVICES = ("auto", "cpu")
"""What ``--device`` takes (:func:`select_device`)."""
ONEDNN_DEFAULT = "1"
"""``TF_ENABLE_ONEDNN_OPTS`` unless the user set it: TensorFlow turns its oneDNN kernels on by
itself only on CPUs with AVX-512 VNNI/BF16 or AMX; on an AVX2 CPU (this 2-core EPYC) its own
kernels ran a ``train cnn`` epoch in 12.5 s against oneDNN's 7.4 s (a 1-channel 5×5 conv
5.4 ms a batch against 1.6, measured). ``TF_ENABLE_ONEDNN_OPTS=0`` keeps TensorFlow's own."""


def set_verbose(flag: bool) -> None:
    """Let TensorFlow's native log lines through (``--verbose``)."""
    global _verbose
    _verbose = flag


def is_verbose() -> bool:
    """Whether ``--verbose`` was given."""
    return _verbose


@contextlib.contextmanager
def _native_stderr_silenced():  # type: ignore[no-untyped-def]
    """Point file descriptor 2 at /dev/null for the duration (C++ logs bypass sys.stderr)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


native_stderr_silenced = _native_stderr_silenced
"""Public name for the exported models' runtimes (LiteRT's interpreter, the converters)."""


def _native_stdout_to_stderr() -> None:
    """Send native (C++) writes to file descriptor 1 to stderr, keeping Python's stdout for results."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
        sys.stdout = os.fdopen(saved, "w", buffering=1)
    except (OSError, ValueError):
        pass


def keras() -> ModuleType:
    """Import and return ``keras``, silencing the backend's start-up noise unless verbose."""
    global _backend_reason
    if "keras" in sys.modules and hasattr(sys.modules["keras"], "Sequential"):
        return sys.modules["keras"]
    name, _backend_reason = choose_backend()
    if name:  # otherwise Keras's own default: keras.json, else tensorflow
        os.environ["KERAS_BACKEND"] = name
    if not _verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", ONEDNN_DEFAULT)
    ctx = contextlib.nullcontext() if _verbose else _native_stderr_silenced()
    with _signals_deferred(), ctx:
        _keras = _import_keras()

        if _keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            if not _verbose:
                tf.get_logger().setLevel("ERROR")
            _split_tf_cpu(tf)
    return _keras


def _split_tf_cpu(tf: Any) -> None:
    """``CONVCLI_TF_CPU_DEVICES=N`` splits the CPU into N logical devices (to try --distribute)."""
    count = int(os.environ.get("CONVCLI_TF_CPU_DEVICES", "0") or 0)
    if count > 1:
        cpus = tf.config.list_physical_devices("CPU")
        with contextlib.suppress(RuntimeError):  # already initialised
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
            )


def _import_keras() -> ModuleType:
    """``import keras``, plainly: no import tricks (a finder that deferred scipy broke the JAX
    backend, which imports scipy; the warm daemon is the answer to start-up time)."""
    import keras as _keras

    return _keras


@contextlib.contextmanager
def _signals_deferred():  # type: ignore[no-untyped-def]
    """Hold SIGINT/SIGTERM during the backend's import and keep Python's handlers.

    A signal that lands inside TensorFlow's native start-up can kill the process silently;
    held, it is delivered right after, to Python's handler, and ends the run cleanly.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    watched = (signal.SIGINT, signal.SIGTERM)
    handlers = {sig: signal.getsignal(sig) for sig in watched}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(watched))
    try:
        yield
    finally:
        for sig, handler in handlers.items():
            if handler is not None and signal.getsignal(sig) is not handler:
                signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def select_device(device: str) -> None:
    """``cpu`` hides every GPU from the backend (set before Keras is imported); ``auto`` uses one."""
    from .errors import input_error, param
    from .i18n import tr

    if device not in DEVICES:
        raise input_error(
            tr("unknown {param} {device!r}: use auto or cpu").format(param=param("device"), device=device)
        )
    if device == "cpu":
        if "keras" in sys.modules:
            raise input_error(tr("{param} cpu must be chosen before Keras is loaded").format(param=param("device")))
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        os.environ["JAX_PLATFORMS"] = "cpu"


def no_gradients() -> contextlib.AbstractContextManager[Any]:
    """A context in which eager layer calls keep no autograd record: ``torch.no_grad()`` under
    PyTorch (which otherwise holds every activation for a backward pass); nothing elsewhere."""
    if keras().backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def has_gpu() -> bool:
    """Whether the active backend sees a GPU."""
    info = backend_info()
    return any("gpu" in d.lower() or "cuda" in d.lower() for d in info["devices"])


def set_precision(precision: str) -> str:
    """Apply ``--precision``: ``mixed`` uses float16 compute on a GPU; on a CPU it stays float32
    (measured slower here: 9.4 s against 8.0 s an epoch with bfloat16). Returns the policy used."""
    from .errors import input_error, param
    from .i18n import tr

    if precision not in PRECISIONS:
        raise input_error(
            tr("unknown {param} {precision!r}: use {choices}").format(
                param=param("precision"), precision=precision, choices=tr(" or ").join(PRECISIONS)
            )
        )
    k = keras()
    policy = "mixed_float16" if precision == "mixed" and has_gpu() else "float32"
    k.mixed_precision.set_global_policy(policy)
    return policy


def data_parallel(
    num_processes: int | None = None, coordinator: str | None = None, process_id: int | None = None
) -> tuple[Any, int]:
    """Set up data-parallel training over every device with the backend's own engine.

    JAX: ``keras.distribution.DataParallel`` (after ``keras.distribution.initialize`` for several
    processes). TensorFlow: returns a ``tf.distribute.MirroredStrategy`` whose scope must hold
    the model (multi-worker TensorFlow is broken under Keras 3, keras-team/keras#20585).
    Returns (strategy or None, number of replicas).
    """
    from .errors import input_error
    from .i18n import tr

    k = keras()
    name = k.backend.backend()
    multi = num_processes is not None and num_processes > 1
    if name == "jax":
        if multi:
            import jax

            jax.config.update("jax_cpu_collectives_implementation", "gloo")
            _native_stdout_to_stderr()  # Gloo prints its connection notes on stdout
            k.distribution.initialize(job_addresses=coordinator, num_processes=num_processes, process_id=process_id)
        devices = k.distribution.list_devices()
        distribution = k.distribution.DataParallel(devices=devices)
        if multi:
            distribution.auto_shard_dataset = False  # each process already reads only its own shard
        k.distribution.set_distribution(distribution)
        return None, len(devices)
    if multi:
        raise input_error(
            "multi-process training needs KERAS_BACKEND=jax: TensorFlow's MultiWorkerMirroredStrategy "
            "is broken under Keras 3 (keras-team/keras issue 20585)"
        )
    if name == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        strategy = tf.distribute.MirroredStrategy(devices=devices)
        return strategy, int(strategy.num_replicas_in_sync)

    raise input_error(tr("distribute=True needs the jax or tensorflow backend, not {name}").format(name=name))


def choose_backend(environ: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """The Keras backend to load and why: (name, or None for Keras's default; reason).

    ``KERAS_BACKEND`` always wins (so ``KERAS_BACKEND=tensorflow`` forces TensorFlow); else JAX
    when a CUDA-enabled JAX and a visible GPU are found, the fastest backend on a GPU; else None.
    """
    env = os.environ if environ is None else environ
    if env.get("KERAS_BACKEND"):
        return env["KERAS_BACKEND"], REASON_ENV
    if gpu_jax_available(env):
        return "jax", REASON_GPU_JAX
    return None, REASON_DEFAULT


def gpu_jax_available(environ: Mapping[str, str] | None = None) -> bool:
    """Whether JAX with a CUDA plugin is installed and an NVIDIA GPU is visible, without importing JAX."""
    env = os.environ if environ is None else environ
    if env.get("JAX_PLATFORMS", "").strip().lower() == "cpu" or not nvidia_gpu_present(env):
        return False
    return find_spec("jax") is not None and any(find_spec(p) is not None for p in JAX_CUDA_PLUGINS)


def nvidia_gpu_present(environ: Mapping[str, str] | None = None, root: str = "/") -> bool:
    """Whether the NVIDIA driver shows a GPU (``/dev/nvidia0``…) that ``CUDA_VISIBLE_DEVICES`` does not hide."""
    env = os.environ if environ is None else environ
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    return bool(glob.glob(os.path.join(root, "dev", "nvidia[0-9]*")))


def backend_info() -> dict[str, Any]:
    """Backend name, its version and the devices it sees (for ``convcli info``)."""
    k = keras()
    name = k.backend.backend()
    reason = _backend_reason or (REASON_ENV if os.environ.get("KERAS_BACKEND") else REASON_DEFAULT)
    info: dict[str, Any] = {"keras": k.__version__, "backend": name, "backend_reason": reason}
    if name == "tensorflow":
        import tensorflow as tf

        info["backend_version"] = tf.__version__
        info["devices"] = [d.name for d in tf.config.list_logical_devices()]
        # what TF_ENABLE_ONEDNN_OPTS asks (ONEDNN_DEFAULT); null: unset, TensorFlow decides by the CPU
        asked = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower()
        info["onednn"] = {"1": True, "true": True, "0": False, "false": False}.get(asked)
    elif name == "jax":
        import jax

        info["backend_version"] = jax.__version__
        info["devices"] = [str(d) for d in jax.devices()]
    elif name == "torch":
        import torch

        info["backend_version"] = torch.__version__
        devices = ["cpu"]
        if torch.cuda.is_available():
            devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        info["devices"] = devices
    return info


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend so a run repeats on the same machine."""
    k = keras()
    k.utils.set_random_seed(seed)
    if k.backend.backend() == "tensorflow":
        import tensorflow as tf

        with contextlib.suppress(AttributeError, RuntimeError):  # older TF, or already set
            tf.config.experimental.enable_op_determinism()


def tf_batches(batch: Callable[[int], tuple[Any, Any]], count: int, shapes: Any, dtypes: Any) -> Any:
    """``count`` batches for ``fit`` as a ``tf.data`` pipeline: batch ``k`` is ``batch(k)``, an
    (images, targets) pair of NumPy arrays made in a background thread; ``shapes`` and
    ``dtypes`` are one image's and one target's shape and NumPy dtype.

    Rather than Keras's ``PyDataset``: that goes through ``from_generator``, which cost
    ``train cnn`` 3.5–4 s an epoch of 422 steps on 2 cores. And with tf.data's autotuning off:
    its model thread, asleep between rounds, held up the deletion of ``fit``'s iterators by
    4–10 s at the end of a run (both measured with ``train cnn --epochs 1``)."""
    import tensorflow as tf

    types = [tf.as_dtype(dtype) for dtype in dtypes]

    def made(k: Any) -> tuple[Any, Any]:
        made_batch = tf.numpy_function(lambda i: batch(int(i)), [k], types)
        for tensor, shape in zip(made_batch, shapes):
            tensor.set_shape((None, *shape))
        return made_batch[0], made_batch[1]

    options = tf.data.Options()
    options.autotune.enabled = False
    return tf.data.Dataset.range(count).map(made).prefetch(2).with_options(options)
