"""Loaders for the published data files, as ``keras.datasets`` and keras-io read them.

- ``mnist.npz``: arrays ``x_train`` (N, 28, 28) uint8, ``y_train``, ``x_test``, ``y_test``.
- ``imdb.npz``: object arrays of word-index lists; :func:`load_imdb` reproduces
  ``keras.datasets.imdb.load_data(num_words=20000)`` (shuffle with seed 113, train then
  test from one RandomState; start_char 1, oov_char 2, index_from 3) and then
  ``pad_sequences(maxlen=200)`` (pre-padding with 0, pre-truncation).
- ``creditcard.csv``: the Kaggle file, header ``"Time","V1".."V28","Amount","Class"``,
  read line by line as the keras-io example does (quotes stripped, float32 features).

A missing or malformed file raises :class:`DataError` naming the file and what was
expected. Standard library + numpy only; numpy is imported by the loaders that need it,
so the file names and :func:`sha256_file` cost a command workload nothing (issue 28).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

if TYPE_CHECKING:  # the annotations only; each loader imports numpy when it runs
    import numpy as np

MNIST_FILE = "mnist.npz"
IMDB_FILE = "imdb.npz"
CREDITCARD_FILE = "creditcard.csv"

CREDITCARD_HEADER = ["Time"] + ["V%d" % i for i in range(1, 29)] + ["Amount", "Class"]
IMDB_SEED = 113
IMDB_START_CHAR = 1
IMDB_OOV_CHAR = 2
IMDB_INDEX_FROM = 3


class DataError(Exception):
    """A data file is missing or not in the published format."""

    def __init__(self, path: str, expected: str, detail: str = "") -> None:
        self.path = str(path)
        self.expected = expected
        self.detail = detail
        text = "%s: %s" % (self.path, detail) if detail else self.path
        super().__init__("%s; expected %s" % (text, expected))


def sha256_file(path: str) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    import hashlib  # here: the spec imports this module for the file names only

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _require(path: str, expected: str) -> None:
    if not os.path.isfile(path):
        raise DataError(path, expected, "file not found (is it in the job's data folder / transfer_input_files?)")


def _open_npz(path: str, keys: Sequence[str], expected: str, allow_pickle: bool) -> Dict[str, np.ndarray]:
    import pickle  # late, as numpy: the loaders alone need them, not the catalogue's file names
    import zipfile

    import numpy as np  # late: only the built-in loaders need numpy, not a command workload

    _require(path, expected)
    if not zipfile.is_zipfile(path):  # never let np.load fall back to unpickling a non-archive
        raise DataError(path, expected, "not a .npz (zip) archive")
    try:
        with np.load(path, allow_pickle=allow_pickle) as archive:
            missing = [key for key in keys if key not in archive.files]
            if missing:
                raise DataError(path, expected, "arrays %s are missing (has %s)" % (", ".join(missing), ", ".join(sorted(archive.files)) or "none"))
            arrays = {key: archive[key] for key in archive.files}
    except DataError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, pickle.UnpicklingError) as err:
        raise DataError(path, expected, "not a readable .npz archive (%s: %s)" % (type(err).__name__, err))
    return arrays


MNIST_EXPECTED = "mnist.npz as keras.datasets.mnist caches it: uint8 arrays x_train (N, 28, 28), y_train (N,), x_test, y_test with labels 0-9"


def load_mnist(data_dir: str, max_samples: Optional[int] = None) -> Dict[str, np.ndarray]:
    """Raw MNIST arrays (uint8), the first ``max_samples`` of each split when given."""
    import numpy as np  # late: only the built-in loaders need numpy, not a command workload

    path = os.path.join(data_dir, MNIST_FILE)
    arrays = _open_npz(path, ["x_train", "y_train", "x_test", "y_test"], MNIST_EXPECTED, allow_pickle=False)
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8:
            raise DataError(path, MNIST_EXPECTED, "x_%s has shape %s dtype %s" % (split, x.shape, x.dtype))
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(path, MNIST_EXPECTED, "y_%s has shape %s for %d images" % (split, y.shape, len(x)))
        if len(y) and (int(y.min()) < 0 or int(y.max()) > 9):
            raise DataError(path, MNIST_EXPECTED, "y_%s holds labels outside 0-9" % split)
    out = {key: arrays[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    if max_samples:
        out = {key: value[:max_samples] for key, value in out.items()}
    return out


IMDB_EXPECTED = "imdb.npz as keras.datasets.imdb caches it: object arrays x_train/x_test of word-index lists, 0/1 labels y_train/y_test"


def pad_sequences(sequences: Sequence[Sequence[int]], maxlen: int, value: int = 0) -> np.ndarray:
    """``keras.utils.pad_sequences(sequences, maxlen)`` with its defaults: int32, pre-padding, pre-truncation."""
    import numpy as np  # late: only the built-in loaders need numpy, not a command workload

    out = np.full((len(sequences), maxlen), value, dtype="int32")
    for row, seq in enumerate(sequences):
        if not len(seq):
            continue
        trunc = np.asarray(seq[-maxlen:], dtype="int32")
        out[row, -len(trunc):] = trunc
    return out


def imdb_transform(sequences: Sequence[Sequence[int]], num_words: int) -> List[List[int]]:
    """Add start_char, shift indices by index_from, replace words >= num_words by oov_char."""
    out = []
    for seq in sequences:
        words = [IMDB_START_CHAR] + [int(w) + IMDB_INDEX_FROM for w in seq]
        out.append([w if w < num_words else IMDB_OOV_CHAR for w in words])
    return out


def load_imdb(data_dir: str, num_words: int = 20000, maxlen: int = 200, max_samples: Optional[int] = None) -> Dict[str, np.ndarray]:
    """``imdb.load_data(num_words=num_words)`` then ``pad_sequences(maxlen=maxlen)``.

    ``max_samples`` keeps the first N of each split after the shuffle (the per-sequence
    transform is independent, so this equals capping keras' output).
    """
    import numpy as np  # late: only the built-in loaders need numpy, not a command workload

    path = os.path.join(data_dir, IMDB_FILE)
    arrays = _open_npz(path, ["x_train", "y_train", "x_test", "y_test"], IMDB_EXPECTED, allow_pickle=True)
    rng = np.random.RandomState(IMDB_SEED)
    out = {}
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        if x.ndim != 1 or y.ndim != 1 or len(x) != len(y):
            raise DataError(path, IMDB_EXPECTED, "x_%s/y_%s have shapes %s/%s" % (split, split, x.shape, y.shape))
        indices = np.arange(len(x))
        rng.shuffle(indices)
        x, y = x[indices], y[indices]
        if max_samples:
            x, y = x[:max_samples], y[:max_samples]
        try:
            seqs = imdb_transform(x, num_words)
        except (TypeError, ValueError) as err:
            raise DataError(path, IMDB_EXPECTED, "x_%s does not hold lists of integers (%s)" % (split, err))
        if len(y) and not set(np.unique(y).tolist()) <= {0, 1}:
            raise DataError(path, IMDB_EXPECTED, "y_%s holds labels other than 0/1" % split)
        out["x_" + split] = pad_sequences(seqs, maxlen)
        out["y_" + split] = np.asarray(y)
    return out


CREDITCARD_EXPECTED = 'creditcard.csv from Kaggle (mlg-ulb/creditcardfraud): header "Time","V1".."V28","Amount","Class" and 31 numeric fields per row, Class 0 or 1'


def load_creditcard(data_dir: str, max_samples: Optional[int] = None) -> Dict[str, np.ndarray]:
    """Features (float32, N x 30) and targets (uint8, N x 1), the keras-io way.

    ``max_samples`` keeps the first N data rows (the split is then made on those).
    """
    import numpy as np  # late: only the built-in loaders need numpy, not a command workload

    path = os.path.join(data_dir, CREDITCARD_FILE)
    _require(path, CREDITCARD_EXPECTED)
    features = []
    targets = []
    try:
        with open(path, "r", encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if lineno == 1:
                    header = [field.strip().replace('"', "") for field in line.strip().split(",")]
                    if header != CREDITCARD_HEADER:
                        raise DataError(path, CREDITCARD_EXPECTED, "line 1 is not the Kaggle header (got %r)" % line.strip()[:80])
                    continue
                if not line.strip():
                    continue
                if max_samples and len(targets) >= max_samples:
                    break
                fields = line.strip().split(",")
                if len(fields) != 31:
                    raise DataError(path, CREDITCARD_EXPECTED, "line %d has %d fields" % (lineno, len(fields)))
                try:
                    features.append([float(v.replace('"', "")) for v in fields[:-1]])
                    label = int(fields[-1].replace('"', ""))
                except ValueError as err:
                    raise DataError(path, CREDITCARD_EXPECTED, "line %d: %s" % (lineno, err))
                if label not in (0, 1):
                    raise DataError(path, CREDITCARD_EXPECTED, "line %d: Class is %d" % (lineno, label))
                targets.append([label])
    except UnicodeDecodeError as err:
        raise DataError(path, CREDITCARD_EXPECTED, "not a text file (%s)" % err)
    if not targets:
        raise DataError(path, CREDITCARD_EXPECTED, "no data rows")
    return {
        "features": np.array(features, dtype="float32"),
        "targets": np.array(targets, dtype="uint8"),
    }
