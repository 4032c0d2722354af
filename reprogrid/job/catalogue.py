"""The workload registry: every kind of workload, and every built-in example with its options.

The one table of what a study can run. Three kinds go through it: ``builtin`` (a keras-io
example of the original study, optionally a *variant* with options such as a narrower
LSTM), ``command`` (a user's command run in the job's sandbox) and ``entry`` (a function
in a user's file, called by the job). The spec validates names, options and metrics
against it, render ships each built-in example's data file, ``prepare.datafiles`` fetches
and checks those files, and the job side (``workloads``, ``usercode``) implements each
entry. Plain data, importable anywhere (Python 3.8, no third-party imports), so the
toolkit can read it without TensorFlow.
"""
from collections import OrderedDict
from typing import Any, Dict, Optional, Tuple

from .data import CREDITCARD_FILE, IMDB_FILE, MNIST_FILE

KIND_BUILTIN = "builtin"
KIND_COMMAND = "command"
KIND_ENTRY = "entry"


class KindEntry(object):
    """One kind of workload: how a spec names it and which job-side module runs it."""

    def __init__(self, name: str, spec_key: Optional[str], runner: str, summary: str) -> None:
        self.name = name
        self.spec_key = spec_key
        self.runner = runner
        self.summary = summary

    def __repr__(self) -> str:
        return "KindEntry(%r, runner=%r)" % (self.name, self.runner)


KINDS = OrderedDict(
    (entry.name, entry)
    for entry in (
        KindEntry(KIND_BUILTIN, "example", "runner",
                  "a keras-io example of the original study (or a variant of one with options)"),
        KindEntry(KIND_COMMAND, "command", "usercode",
                  "a command run in the job's sandbox that writes $REPROGRID_OUTPUT_DIR/metrics.json"),
        KindEntry(KIND_ENTRY, "entry", "usercode",
                  "a function FILE.py:NAME (or module:NAME) called with seed, determinism, data_dir, output_dir"),
    )
)
KIND_NAMES = tuple(KINDS)


class OptionSpec(object):
    """One option of a built-in example: its type, allowed range and the example's value."""

    def __init__(self, name: str, kind: type, minimum: float, maximum: float, default: Any, summary: str) -> None:
        self.name = name
        self.kind = kind
        self.minimum = minimum
        self.maximum = maximum
        self.default = default
        self.summary = summary

    def check(self, value: Any) -> Tuple[Optional[Any], Optional[str]]:
        """(value converted, None) or (None, what is wrong) for a value from a spec or argv."""
        if isinstance(value, bool):
            return None, "expected a number, got %r" % (value,)
        if isinstance(value, str):
            try:
                value = int(value) if self.kind is int else float(value)
            except ValueError:
                return None, "expected a %s, got %r" % ("whole number" if self.kind is int else "number", value)
        if self.kind is int and not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            return None, "expected a whole number, got %r" % (value,)
        if not isinstance(value, (int, float)):
            return None, "expected a number, got %r" % (value,)
        value = self.kind(value)
        if not (self.minimum <= value <= self.maximum):
            return None, "must be between %s and %s, got %s" % (self.minimum, self.maximum, value)
        return value, None


class CatalogueEntry(object):
    """One built-in workload: its data file, the keras-io example it follows, its options."""

    def __init__(self, name: str, data_file: str, example: str, summary: str,
                 options: Tuple[OptionSpec, ...] = ()) -> None:
        self.name = name
        self.data_file = data_file
        self.example = example
        self.summary = summary
        self.options = OrderedDict((o.name, o) for o in options)

    def __repr__(self) -> str:
        return "CatalogueEntry(%r, data_file=%r)" % (self.name, self.data_file)


BUILTIN = OrderedDict(
    (entry.name, entry)
    for entry in (
        CatalogueEntry("mnist_convnet", MNIST_FILE, "vision/mnist_convnet",
                       "a small convnet on MNIST digits (test accuracy > 99% on the full data)",
                       (OptionSpec("dropout", float, 0.0, 0.95, 0.5, "the dropout rate before the classifier"),
                        OptionSpec("filters", int, 1, 512, 32, "filters of the first convolution (the second has twice as many)"))),
        CatalogueEntry("bidirectional_lstm_imdb", IMDB_FILE, "nlp/bidirectional_lstm_imdb",
                       "a two-layer bidirectional LSTM on IMDB review sentiment",
                       (OptionSpec("lstm_units", int, 1, 1024, 64, "units of each LSTM direction in both layers"),
                        OptionSpec("embedding_dim", int, 1, 1024, 128, "width of the word embedding"))),
        CatalogueEntry("imbalanced_classification", CREDITCARD_FILE, "structured_data/imbalanced_classification",
                       "a dense network on the Kaggle credit-card fraud data, class-weighted",
                       (OptionSpec("dropout", float, 0.0, 0.95, 0.3, "the rate of both dropout layers"),
                        OptionSpec("units", int, 1, 4096, 256, "units of each hidden dense layer"))),
    )
)

WORKLOAD_NAMES = tuple(BUILTIN)
DATA_FILES = tuple(entry.data_file for entry in BUILTIN.values())

# The metrics a built-in run records, each with its direction (True: higher is better).
# The primary metric's default, for built-in runs and for records that name none (the
# reference data), is decided here; the spec, the job and the analysis ask for it.
BUILTIN_METRICS = OrderedDict((("test_accuracy", True), ("test_loss", False)))
BUILTIN_PRIMARY = "test_accuracy"
BUILTIN_HIGHER_IS_BETTER = BUILTIN_METRICS[BUILTIN_PRIMARY]
#: metrics in [0, 1] whose range is also given in percentage points
FRACTION_METRICS = ("test_accuracy",)


def builtin_direction(metric):
    # type: (str) -> bool
    """Whether a higher value of built-in ``metric`` is better (``KeyError`` for others)."""
    return BUILTIN_METRICS[metric]

# File names the job writes next to the user's files in the sandbox (a user file may not use them).
WORKLOAD_FILE = "reprogrid-workload.json"
RESERVED_FILES = (WORKLOAD_FILE, "reprogrid-job.pyz", "run_job.sh", "results", "reprogrid-output")


def data_file(name: str) -> str:
    """The data file a built-in workload reads (``KeyError`` for an unknown name)."""
    return BUILTIN[name].data_file


def check_options(example: str, options: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """(options converted, {option: problem}) for a built-in example's options."""
    entry = BUILTIN[example]
    good, bad = {}, {}
    for key, value in options.items():
        spec = entry.options.get(key)
        if spec is None:
            known = ", ".join(entry.options) or "none"
            bad[key] = "unknown option of %s (its options: %s)" % (example, known)
            continue
        converted, problem = spec.check(value)
        if problem:
            bad[key] = problem
        else:
            good[key] = converted
    return good, bad
