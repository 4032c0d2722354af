"""The user-workload contract on the job side: run a user's command or call their function.

A ``command`` workload runs in the job's sandbox with ``REPROGRID_SEED``,
``REPROGRID_DETERMINISM`` (1/0), ``REPROGRID_DATA_DIR``, ``REPROGRID_OUTPUT_DIR``,
``PYTHONHASHSEED`` and, with determinism on, the frameworks' determinism switches set; it
writes ``metrics.json`` (a flat map of metric name -> number) and may write
``predictions.npy`` into ``$REPROGRID_OUTPUT_DIR``. An ``entry`` workload is a function
(``FILE.py:NAME`` or ``module:NAME``) the job imports and calls with ``seed``,
``determinism``, ``data_dir`` and ``output_dir`` after seeding Python, NumPy and each
framework the code uses; it returns a dict of metrics and may return ``predictions``.

Every way the contract can be broken is its own exception (its class name becomes the
record's ``error_type``). Python 3.8 syntax, standard library and NumPy only.
"""
from __future__ import annotations

import ast
import collections
import importlib
import importlib.util
import json
import math
import os
import random
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

if TYPE_CHECKING:  # annotations only: numpy is imported where predictions or seeding need it
    import numpy as np

from . import catalogue
from .data import sha256_file

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.npy"
FRAMEWORKS = ("tensorflow", "keras", "torch", "jax")
STDERR_TAIL_LINES = 15

# Set for every command (and in the job's own environment for an entry) when determinism is on.
DETERMINISM_ENV = (
    ("TF_DETERMINISTIC_OPS", "1"),
    ("TF_CUDNN_DETERMINISTIC", "1"),
    ("CUBLAS_WORKSPACE_CONFIG", ":4096:8"),
)


class ContractError(Exception):
    """The user's workload did not keep the contract (see docs/user-guide.md)."""


class CommandFailed(ContractError):
    """The command exited with a non-zero status."""


class MetricsMissing(ContractError):
    """No metrics.json in $REPROGRID_OUTPUT_DIR (or an entry returned nothing)."""


class MetricsMalformed(ContractError):
    """metrics.json is not JSON, or not a flat map of metric names to numbers."""


class MetricWrongType(ContractError):
    """A metric's value (or what an entry returned) is not a number."""


class MetricNotFinite(MetricWrongType):
    """A metric's value is NaN, infinite or too large for a float (``NaN``, ``Infinity``, ``1e999``)."""


class PrimaryMetricMissing(ContractError):
    """The declared primary metric is not among the metrics."""


class EntryNotFound(ContractError):
    """The entry's file or module does not import, or it does not define the function."""


class PredictionsMalformed(ContractError):
    """predictions.npy (or the returned predictions) is not a numeric array."""


class UserWorkload(object):
    """A command or entry workload as render wrote it into ``reprogrid-workload.json``."""

    def __init__(self, data: Dict[str, Any], code_dir: str) -> None:
        self.name = str(data["name"])
        self.kind = str(data["kind"])
        self.command = [str(a) for a in data.get("command") or []]
        self.entry = data.get("entry")
        self.files = [str(f) for f in data.get("files") or []]
        self.data = [str(d) for d in data.get("data") or []]
        self.task = data.get("task") or self.name
        self.primary_metric = str(data["primary_metric"])
        self.higher_is_better = bool(data["higher_is_better"])
        self.code_dir = code_dir
        if self.kind not in (catalogue.KIND_COMMAND, catalogue.KIND_ENTRY):
            raise ValueError("workload kind must be command or entry, not %r" % self.kind)

    @classmethod
    def load(cls, path: str) -> "UserWorkload":
        with open(path, "r", encoding="utf-8") as handle:
            return cls(json.load(handle), os.path.dirname(os.path.abspath(path)))

    def data_paths(self, data_dir: str) -> List[str]:
        """Where each of the workload's own inputs lands (by file name, as HTCondor transfers them)."""
        return [os.path.join(data_dir, os.path.basename(d.split("://", 1)[-1].rstrip("/"))) for d in self.data]

    def files_sha256(self) -> Dict[str, str]:
        """sha256 of every shipped file (folders file by file), by path relative to the code folder."""
        out = {}
        for rel in self.files:
            path = os.path.join(self.code_dir, rel)
            if os.path.isdir(path):
                for root, dirs, names in os.walk(path):
                    dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                    for name in sorted(names):
                        full = os.path.join(root, name)
                        out[os.path.relpath(full, self.code_dir).replace(os.sep, "/")] = sha256_file(full)
            elif os.path.isfile(path):
                out[rel] = sha256_file(path)
        return out


# -- the metrics ---------------------------------------------------------------------

def check_metrics(value: Any, source: str) -> Dict[str, float]:
    """A flat map of metric name -> number, or the contract error saying what is wrong."""
    if value is None:
        raise MetricsMissing("%s gave no metrics; return (or write) a map like {\"accuracy\": 0.91}" % source)
    if not isinstance(value, dict):
        raise MetricsMalformed("%s must be a map of metric name -> number, like {\"accuracy\": 0.91}; got %s"
                               % (source, type(value).__name__))
    np = sys.modules.get("numpy")  # a NumPy number can only be here when numpy is loaded
    booleans, numbers = ((bool, np.bool_), (int, float, np.integer, np.floating)) if np else ((bool,), (int, float))
    out = {}
    for key, number in value.items():
        if not isinstance(key, str) or not key:
            raise MetricsMalformed("%s has a metric name %r; names are non-empty strings" % (source, key))
        if isinstance(number, booleans) or not isinstance(number, numbers):
            if np and isinstance(number, np.ndarray) and number.shape == () and number.dtype.kind in "iuf":
                number = number.item()
            else:
                raise MetricWrongType("%s: metric %r is %s, not a number; write plain numbers (float(x))"
                                      % (source, key, _describe(number)))
        try:
            out[key] = float(number)
        except OverflowError:
            out[key] = float("inf")
        if not math.isfinite(out[key]):
            raise MetricNotFinite("%s: metric %r is %s, not a finite number; a run that diverged is a failed run "
                                  "(write a finite number, or let the run fail)" % (source, key, _describe(number)))
    return out


def _describe(value: Any) -> str:
    text = repr(value)
    return "%s %s" % (type(value).__name__, text if len(text) <= 40 else text[:37] + "...")


def primary_value(metrics: Dict[str, float], primary: str, source: str) -> float:
    """The declared primary metric's value (``PrimaryMetricMissing`` naming what there is)."""
    if primary not in metrics:
        names = ", ".join(sorted(metrics)) or "none"
        raise PrimaryMetricMissing("the primary metric %r is not in %s (it has: %s); write it, or change "
                                   "metrics.primary in the spec" % (primary, source, names))
    return metrics[primary]


def read_metrics_file(output_dir: str) -> Dict[str, float]:
    """``<output_dir>/metrics.json`` checked against the contract."""
    path = os.path.join(output_dir, METRICS_FILE)
    if not os.path.isfile(path):
        raise MetricsMissing("the command wrote no %s into $REPROGRID_OUTPUT_DIR (%s); write a JSON map "
                             "like {\"accuracy\": 0.91} there" % (METRICS_FILE, output_dir))
    try:
        with open(path, "r", encoding="utf-8") as handle:
            value = json.load(handle)
    except (ValueError, UnicodeDecodeError) as err:
        raise MetricsMalformed("%s is not valid JSON: %s" % (METRICS_FILE, err))
    return check_metrics(value, METRICS_FILE)


def predictions_array(value: Any, source: str) -> np.ndarray:
    """``value`` as a numeric NumPy array (``PredictionsMalformed`` otherwise)."""
    import numpy as np  # late: only a workload with predictions needs numpy

    try:
        array = np.asarray(value)
    except Exception as err:  # ragged lists and the like
        raise PredictionsMalformed("%s is not an array: %s" % (source, err))
    if array.dtype.kind not in "biuf":
        raise PredictionsMalformed("%s must be a numeric array, not dtype %s" % (source, array.dtype))
    return array


def read_predictions_file(output_dir: str) -> Optional[np.ndarray]:
    """``<output_dir>/predictions.npy`` when the workload wrote one (no pickles allowed)."""
    path = os.path.join(output_dir, PREDICTIONS_FILE)
    if not os.path.isfile(path):
        return None
    import numpy as np  # late: only a workload that wrote predictions needs numpy

    try:
        value = np.load(path, allow_pickle=False)
    except Exception as err:
        raise PredictionsMalformed("%s does not load with numpy.load (no pickles): %s" % (PREDICTIONS_FILE, err))
    return predictions_array(value, PREDICTIONS_FILE)


# -- the environment and seeding ---------------------------------------------------------

def contract_environment(seed: int, determinism: bool, data_dir: str, output_dir: str,
                         base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The command's environment: ``base`` (the job's) plus the contract's variables."""
    env = dict(os.environ if base is None else base)
    env.update({
        "REPROGRID_SEED": str(int(seed)),
        "REPROGRID_DETERMINISM": "1" if determinism else "0",
        "REPROGRID_DATA_DIR": os.path.abspath(data_dir),
        "REPROGRID_OUTPUT_DIR": os.path.abspath(output_dir),
        "PYTHONHASHSEED": str(int(seed)),
    })
    if determinism:
        env.update(DETERMINISM_ENV)
    return env


def frameworks_in_code(paths: Sequence[str]) -> List[str]:
    """The frameworks (tensorflow, keras, torch, jax) any of these Python files imports, at any depth."""
    found = set()
    for path in paths:
        try:
            with open(path, "r", encoding="utf-8") as handle:
                tree = ast.parse(handle.read(), filename=path)
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return [f for f in FRAMEWORKS if f in found]


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def frameworks_to_seed(code_paths: Sequence[str], environ: Optional[Dict[str, str]] = None) -> List[str]:
    """Loaded frameworks, those the code imports and that are importable; all importable ones
    with ``REPROGRID_SEED_FRAMEWORKS=all``, exactly those listed (comma-separated), none with ``none``."""
    choice = (environ if environ is not None else os.environ).get("REPROGRID_SEED_FRAMEWORKS", "").strip()
    if choice == "all":
        wanted = list(FRAMEWORKS)
    elif choice:
        wanted = [f for f in FRAMEWORKS if f in {c.strip() for c in choice.split(",")}]
    else:
        wanted = [f for f in FRAMEWORKS if f in sys.modules or f in frameworks_in_code(code_paths)]
    return [f for f in wanted if f in sys.modules or _importable(f)]


def seed_everything(seed: int, determinism: bool, frameworks: Sequence[str]) -> List[str]:
    """Seed Python and NumPy, then each framework as it documents; returns what was seeded."""
    import numpy as np  # late: an entry workload is seeded in-process; a command never is

    from . import determinism as tf_determinism

    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    done = ["python", "numpy"]
    for name in frameworks:
        if name == "tensorflow":
            tf = importlib.import_module("tensorflow")
            if determinism:
                tf_determinism.apply(tf, seed, True)  # set_random_seed + enable_op_determinism
            else:
                tf.random.set_seed(seed)
        elif name == "keras":
            keras = importlib.import_module("keras")
            utils = getattr(keras, "utils", None)
            if hasattr(utils, "set_random_seed"):
                utils.set_random_seed(seed)
        elif name == "torch":
            torch = importlib.import_module("torch")
            torch.manual_seed(seed)  # every device
            if determinism:
                torch.use_deterministic_algorithms(True)
                torch.backends.cudnn.deterministic = True
                torch.backends.cudnn.benchmark = False
        elif name == "jax":
            importlib.import_module("jax")  # JAX has no global seed: the function gets ``seed`` for its PRNGKey
        done.append(name)
    return done


# -- running the two forms ---------------------------------------------------------------

def run_command(argv: List[str], env: Dict[str, str], cwd: str) -> None:
    """Run the command; its stdout and stderr go to the job's, the last lines of stderr are kept.

    ``python``/``python3`` as the first word is the job's own interpreter (the container's).
    """
    if argv and argv[0] in ("python", "python3"):
        argv = [sys.executable] + list(argv[1:])
    tail = collections.deque(maxlen=STDERR_TAIL_LINES)  # type: collections.deque
    sys.stdout.flush()
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as err:
        raise CommandFailed("cannot start %r: %s; check the command's first word exists in the container"
                            % (argv[0], err.strerror or err))
    assert proc.stderr is not None
    out = getattr(sys.stderr, "buffer", None)
    for line in proc.stderr:
        if out is not None:
            out.write(line)
            out.flush()
        tail.append(line.decode("utf-8", "replace").rstrip())
    code = proc.wait()
    if code != 0:
        how = "was killed by signal %d" % -code if code < 0 else "exited with status %d" % code
        last = "\n".join(tail)
        raise CommandFailed("the command %s%s" % (how, "; last lines of its stderr:\n" + last if last else ""))


def load_entry(entry: str, code_dir: str) -> Callable[..., Any]:
    """Import ``FILE.py:NAME`` (from the code folder) or ``module:NAME`` and return the function."""
    module_name, _, function = entry.partition(":")
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    try:
        if module_name.endswith(".py"):
            path = os.path.join(code_dir, module_name)
            if not os.path.isfile(path):
                raise EntryNotFound("the entry's file %s was not shipped with the job (add it to files)" % module_name)
            name = "reprogrid_entry_" + os.path.splitext(os.path.basename(module_name))[0]
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        else:
            module = importlib.import_module(module_name)
    except ImportError as err:
        raise EntryNotFound("cannot import %s for the entry %s: %s" % (module_name, entry, err))
    target = getattr(module, function, None)
    if not callable(target):
        raise EntryNotFound("%s defines no function %r (entry %s)" % (module_name, function, entry))
    return target


def call_entry(target: Callable[..., Any], seed: int, determinism: bool, data_dir: str,
               output_dir: str) -> Tuple[Dict[str, float], Optional[np.ndarray]]:
    """Call the function with the contract's keyword arguments; (metrics, predictions or None)."""
    result = target(seed=int(seed), determinism=bool(determinism), data_dir=os.path.abspath(data_dir),
                    output_dir=os.path.abspath(output_dir))
    predictions = None
    if isinstance(result, dict) and "predictions" in result:
        result = dict(result)
        raw = result.pop("predictions")
        predictions = None if raw is None else predictions_array(raw, "the returned predictions")
    return check_metrics(result, "the entry's return value"), predictions


def fresh_output_dir(code_dir: str, run_id: str) -> str:
    """An empty folder for the run's outputs (a stale one from a retry is removed)."""
    path = os.path.join(code_dir, "reprogrid-output", run_id)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def run_workload(workload: UserWorkload, run_id: str, seed: int, determinism: bool, data_dir: str,
                 stage: Dict[str, str]) -> Dict[str, Any]:
    """Run a command or entry workload; returns metrics, predictions and what was seeded.

    ``stage["stage"]`` names the step in progress, for the record of a failure.
    """
    output_dir = fresh_output_dir(workload.code_dir, run_id)
    env = contract_environment(seed, determinism, data_dir, output_dir)
    seeded = []  # type: List[str]
    if workload.kind == catalogue.KIND_COMMAND:
        stage["stage"] = "run command"
        run_command(workload.command, env, workload.code_dir)
        stage["stage"] = "read metrics.json"
        metrics = read_metrics_file(output_dir)
        predictions = read_predictions_file(output_dir)
    else:
        os.environ.update({k: v for k, v in env.items() if os.environ.get(k) != v})  # the same variables as a command
        stage["stage"] = "import entry"
        target = load_entry(str(workload.entry), workload.code_dir)
        stage["stage"] = "seed"
        code = [os.path.join(workload.code_dir, f) for f in workload.files if f.endswith(".py")]
        seeded = seed_everything(seed, determinism, frameworks_to_seed(code))
        stage["stage"] = "call entry"
        metrics, predictions = call_entry(target, seed, determinism, data_dir, output_dir)
    stage["stage"] = "check metrics"
    value = primary_value(metrics, workload.primary_metric,
                          METRICS_FILE if workload.kind == catalogue.KIND_COMMAND else "the entry's return value")
    return {"metrics": metrics, "predictions": predictions, "primary_value": value, "seeded": seeded}
