"""The workload catalogue: every built-in workload's name, data file and origin.

The one table of what a study can run; the spec validates names against it, render ships
each workload's data file, ``prepare.datafiles`` fetches and checks those files, and the
job side (``workloads``) implements each entry. Plain data, importable anywhere (Python 3.8,
no third-party imports), so the toolkit can read it without TensorFlow.
"""
from collections import OrderedDict
from .data import CREDITCARD_FILE, IMDB_FILE, MNIST_FILE


class CatalogueEntry(object):
    """One built-in workload: its data file and the keras-io example it follows."""

    def __init__(self, name: str, data_file: str, example: str, summary: str) -> None:
        self.name = name
        self.data_file = data_file
        self.example = example
        self.summary = summary

    def __repr__(self) -> str:
        return "CatalogueEntry(%r, data_file=%r)" % (self.name, self.data_file)


BUILTIN = OrderedDict(
    (entry.name, entry)
    for entry in (
        CatalogueEntry("mnist_convnet", MNIST_FILE, "vision/mnist_convnet",
                       "a small convnet on MNIST digits (test accuracy > 99% on the full data)"),
        CatalogueEntry("bidirectional_lstm_imdb", IMDB_FILE, "nlp/bidirectional_lstm_imdb",
                       "a two-layer bidirectional LSTM on IMDB review sentiment"),
        CatalogueEntry("imbalanced_classification", CREDITCARD_FILE, "structured_data/imbalanced_classification",
                       "a dense network on the Kaggle credit-card fraud data, class-weighted"),
    )
)

WORKLOAD_NAMES = tuple(BUILTIN)
DATA_FILES = tuple(entry.data_file for entry in BUILTIN.values())


def data_file(name: str) -> str:
    """The data file a built-in workload reads (``KeyError`` for an unknown name)."""
    return BUILTIN[name].data_file
