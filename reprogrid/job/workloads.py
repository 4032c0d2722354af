"""The three keras-io examples as the original study ran them.

Each workload loads its data (``data.py``), builds the model, trains and evaluates it,
returning plain numbers and arrays; nothing here writes files. Architectures,
preprocessing, optimiser, loss, batch size, epochs and splits follow keras-io:

- ``mnist_convnet`` (vision/mnist_convnet): 34,826 parameters; adam, batch 128,
  15 epochs, validation_split 0.1; evaluated with ``model.evaluate`` on the test split.
- ``bidirectional_lstm_imdb`` (nlp/bidirectional_lstm_imdb): 2,757,761 parameters;
  adam, batch 32, 2 epochs, validation_data = the 25k test split; evaluated with
  ``model.evaluate`` on the test split after training (as the study's scripts did).
- ``imbalanced_classification`` (structured_data/imbalanced_classification):
  139,777 parameters; Adam(1e-2), batch 2048, 30 epochs, class weights 1/count,
  validation_data = the last 20% of rows; evaluated with ``model.evaluate`` on those rows
  after training (not the last epoch's ``val_*`` from ``fit``); fraud confusion counts at
  threshold 0.5. (The example's per-epoch
  ModelCheckpoint files are not written: they do not change the numbers.)

Works with ``tf.keras`` on Keras 2 (TF 2.8-2.15) and Keras 3 (TF 2.16+).
"""
from __future__ import annotations

import copy
import os
from typing import Any, Dict, List, Optional

import numpy as np

from . import catalogue
from . import data as datafiles


class TrainingResult(object):
    """What a training run produced (plain Python / numpy, no Keras objects)."""

    def __init__(self) -> None:
        self.test_loss = None  # type: Optional[float]
        self.test_accuracy = None  # type: Optional[float]
        self.history = {}  # type: Dict[str, List[float]]
        self.predictions = None  # type: Optional[np.ndarray]
        self.weights = []  # type: List[np.ndarray]
        self.confusion = None  # type: Optional[Dict[str, int]]


def _history(hist: Any) -> Dict[str, List[float]]:
    return {str(k): [float(v) for v in values] for k, values in sorted(hist.history.items())}


class BuiltinWorkload(object):
    """Base: subclasses set the names and defaults and implement the four steps."""

    name = ""
    files = []  # type: List[str]
    epochs = 1
    batch_size = 32
    options = {}  # type: Dict[str, Any]

    def option(self, key: str) -> Any:
        """The value of an option (``catalogue`` lists them): the variant's, else the example's."""
        return self.options.get(key, catalogue.BUILTIN[self.name].options[key].default)

    def with_options(self, options: Optional[Dict[str, Any]]) -> "BuiltinWorkload":
        """A variant of this example: the same steps with ``options`` (checked by the catalogue)."""
        good, bad = catalogue.check_options(self.name, dict(options or {}))
        if bad:
            raise ValueError("; ".join("option %s: %s" % item for item in sorted(bad.items())))
        variant = copy.copy(self)
        variant.options = good
        return variant

    def load(self, data_dir: str, max_samples: Optional[int]) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    def build(self, keras: Any, data: Optional[Dict[str, np.ndarray]] = None) -> Any:
        raise NotImplementedError

    def train(self, keras: Any, model: Any, data: Dict[str, np.ndarray], epochs: int, verbose: int = 2) -> Dict[str, List[float]]:
        raise NotImplementedError

    def evaluate(self, keras: Any, model: Any, data: Dict[str, np.ndarray], outcome: TrainingResult) -> None:
        raise NotImplementedError

    def data_paths(self, data_dir: str) -> List[str]:
        return [os.path.join(data_dir, name) for name in self.files]


class MnistConvnet(BuiltinWorkload):
    name = "mnist_convnet"
    files = [catalogue.data_file("mnist_convnet")]
    epochs = 15
    batch_size = 128
    num_classes = 10

    def load(self, data_dir, max_samples):
        raw = datafiles.load_mnist(data_dir, max_samples)
        out = {}
        for split in ("train", "test"):
            x = raw["x_" + split].astype("float32") / 255
            out["x_" + split] = np.expand_dims(x, -1)
            out["y_" + split] = np.eye(self.num_classes, dtype="float32")[raw["y_" + split].astype("int64")]
        return out

    def build(self, keras, data=None):
        layers = keras.layers
        return keras.Sequential(
            [
                keras.Input(shape=(28, 28, 1)),
                layers.Conv2D(self.option("filters"), kernel_size=(3, 3), activation="relu"),
                layers.MaxPooling2D(pool_size=(2, 2)),
                layers.Conv2D(2 * self.option("filters"), kernel_size=(3, 3), activation="relu"),
                layers.MaxPooling2D(pool_size=(2, 2)),
                layers.Flatten(),
                layers.Dropout(self.option("dropout")),
                layers.Dense(self.num_classes, activation="softmax"),
            ]
        )

    def train(self, keras, model, data, epochs, verbose=2):
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        hist = model.fit(
            data["x_train"], data["y_train"], batch_size=self.batch_size, epochs=epochs,
            validation_split=0.1, verbose=verbose,
        )
        return _history(hist)

    def evaluate(self, keras, model, data, outcome):
        score = model.evaluate(data["x_test"], data["y_test"], verbose=0)
        outcome.test_loss, outcome.test_accuracy = float(score[0]), float(score[1])
        outcome.predictions = model.predict(data["x_test"], batch_size=self.batch_size, verbose=0)


class BidirectionalLstmImdb(BuiltinWorkload):
    name = "bidirectional_lstm_imdb"
    files = [catalogue.data_file("bidirectional_lstm_imdb")]
    epochs = 2
    batch_size = 32
    max_features = 20000
    maxlen = 200

    def load(self, data_dir, max_samples):
        return datafiles.load_imdb(data_dir, num_words=self.max_features, maxlen=self.maxlen, max_samples=max_samples)

    def build(self, keras, data=None):
        layers = keras.layers
        inputs = keras.Input(shape=(None,), dtype="int32")
        x = layers.Embedding(self.max_features, self.option("embedding_dim"))(inputs)
        x = layers.Bidirectional(layers.LSTM(self.option("lstm_units"), return_sequences=True))(x)
        x = layers.Bidirectional(layers.LSTM(self.option("lstm_units")))(x)
        outputs = layers.Dense(1, activation="sigmoid")(x)
        return keras.Model(inputs, outputs)

    def train(self, keras, model, data, epochs, verbose=2):
        model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
        hist = model.fit(
            data["x_train"], data["y_train"], batch_size=self.batch_size, epochs=epochs,
            validation_data=(data["x_test"], data["y_test"]), verbose=verbose,
        )
        return _history(hist)

    def evaluate(self, keras, model, data, outcome):
        outcome.test_loss, outcome.test_accuracy = evaluate_test(model, data)
        outcome.predictions = model.predict(data["x_test"], batch_size=self.batch_size, verbose=0)


class ImbalancedClassification(BuiltinWorkload):
    name = "imbalanced_classification"
    files = [catalogue.data_file("imbalanced_classification")]
    epochs = 30
    batch_size = 2048
    num_features = 30

    def load(self, data_dir, max_samples):
        raw = datafiles.load_creditcard(data_dir, max_samples)
        features, targets = raw["features"], raw["targets"]
        num_val_samples = int(len(features) * 0.2)
        if num_val_samples < 1 or num_val_samples >= len(features):
            raise datafiles.DataError(
                os.path.join(data_dir, datafiles.CREDITCARD_FILE), datafiles.CREDITCARD_EXPECTED,
                "%d rows are too few for an 80/20 split (raise --max-samples)" % len(features),
            )
        train_features = features[:-num_val_samples]
        train_targets = targets[:-num_val_samples]
        val_features = features[-num_val_samples:]
        val_targets = targets[-num_val_samples:]
        counts = np.bincount(train_targets[:, 0], minlength=2)
        if counts[0] == 0 or counts[1] == 0:
            raise datafiles.DataError(
                os.path.join(data_dir, datafiles.CREDITCARD_FILE), datafiles.CREDITCARD_EXPECTED,
                "the training split (first 80%% of %d rows) has %d non-fraud and %d fraud rows; both classes are needed (raise --max-samples)"
                % (len(features), counts[0], counts[1]),
            )
        mean = np.mean(train_features, axis=0)
        train_features -= mean
        val_features -= mean
        std = np.std(train_features, axis=0)
        train_features /= std
        val_features /= std
        return {
            "x_train": train_features, "y_train": train_targets,
            "x_test": val_features, "y_test": val_targets,
            "class_weight": np.array([1.0 / counts[0], 1.0 / counts[1]]),
        }

    def build(self, keras, data=None):
        layers = keras.layers
        shape = data["x_train"].shape[1:] if data is not None else (self.num_features,)
        return keras.Sequential(
            [
                keras.Input(shape=shape),
                layers.Dense(self.option("units"), activation="relu"),
                layers.Dense(self.option("units"), activation="relu"),
                layers.Dropout(self.option("dropout")),
                layers.Dense(self.option("units"), activation="relu"),
                layers.Dropout(self.option("dropout")),
                layers.Dense(1, activation="sigmoid"),
            ]
        )

    def train(self, keras, model, data, epochs, verbose=2):
        metrics = [
            "accuracy",
            keras.metrics.FalseNegatives(name="fn"),
            keras.metrics.FalsePositives(name="fp"),
            keras.metrics.TrueNegatives(name="tn"),
            keras.metrics.TruePositives(name="tp"),
            keras.metrics.Precision(name="precision"),
            keras.metrics.Recall(name="recall"),
        ]
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=metrics)
        weights = data["class_weight"]
        hist = model.fit(
            data["x_train"], data["y_train"], batch_size=self.batch_size, epochs=epochs,
            validation_data=(data["x_test"], data["y_test"]),
            class_weight={0: float(weights[0]), 1: float(weights[1])}, verbose=verbose,
        )
        return _history(hist)

    def evaluate(self, keras, model, data, outcome):
        outcome.test_loss, outcome.test_accuracy = evaluate_test(model, data)
        outcome.predictions = model.predict(data["x_test"], batch_size=self.batch_size, verbose=0)
        outcome.confusion = confusion_counts(outcome.predictions, data["y_test"])


def evaluate_test(model: Any, data: Dict[str, np.ndarray]) -> "tuple":
    """(loss, accuracy) from ``model.evaluate`` on the test split after training, as the study did.

    Not the last epoch's ``val_*`` numbers from ``fit``: those are computed in the fit's
    batches (2048 for the credit-card workload) and differ in the last digits.
    """
    scores = model.evaluate(data["x_test"], data["y_test"], verbose=0, return_dict=True)
    return float(scores["loss"]), float(scores["accuracy"])


def confusion_counts(predictions: np.ndarray, targets: np.ndarray, threshold: float = 0.5) -> Dict[str, int]:
    """Fraud (class 1) confusion counts, predicted positive when ``p > threshold`` (as Keras' metrics)."""
    pred = np.asarray(predictions).reshape(-1) > threshold
    true = np.asarray(targets).reshape(-1).astype(bool)
    return {
        "tp": int(np.sum(pred & true)),
        "fp": int(np.sum(pred & ~true)),
        "tn": int(np.sum(~pred & ~true)),
        "fn": int(np.sum(~pred & true)),
    }


WORKLOADS = {w.name: w for w in (MnistConvnet(), BidirectionalLstmImdb(), ImbalancedClassification())}

# Trainable + non-trainable parameters of the full-size models (keras-io model.summary()).
EXPECTED_PARAMS = {"mnist_convnet": 34826, "bidirectional_lstm_imdb": 2757761, "imbalanced_classification": 139777}


def get(name: str, options: Optional[Dict[str, Any]] = None) -> BuiltinWorkload:
    """The workload called ``name``, a variant when ``options`` are given (KeyError lists the known ones)."""
    try:
        workload = WORKLOADS[name]
    except KeyError:
        raise KeyError("unknown workload %r (known: %s)" % (name, ", ".join(sorted(WORKLOADS))))
    return workload.with_options(options) if options else workload
