"""Logistic regression in a few lines of NumPy: a command workload run on two NumPy stacks.

The contract: read REPROGRID_SEED (and REPROGRID_DATA_DIR for inputs), write
$REPROGRID_OUTPUT_DIR/metrics.json (name -> number) and, optionally, predictions.npy.
Run it alone with: REPROGRID_SEED=1 REPROGRID_OUTPUT_DIR=/tmp/out python train.py --epochs 3
"""
import argparse
import json
import os

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()

seed = int(os.environ.get("REPROGRID_SEED", "1"))
out = os.environ.get("REPROGRID_OUTPUT_DIR", ".")
rng = np.random.default_rng(seed)

# A small synthetic two-class problem (the same for every seed; the seed drives training).
data = np.random.default_rng(0)
x = data.normal(size=(600, 8))
y = (x @ data.normal(size=8) + 0.5 * data.normal(size=600) > 0).astype(float)
x_train, y_train, x_test, y_test = x[:500], y[:500], x[500:], y[500:]

w, b = rng.normal(scale=0.1, size=8), 0.0
for _ in range(args.epochs):
    for batch in np.array_split(rng.permutation(len(x_train)), 10):
        p = 1 / (1 + np.exp(-(x_train[batch] @ w + b)))
        w -= 0.5 * x_train[batch].T @ (p - y_train[batch]) / len(batch)
        b -= 0.5 * float(np.mean(p - y_train[batch]))

p_test = 1 / (1 + np.exp(-(x_test @ w + b)))
loss = float(-np.mean(y_test * np.log(p_test + 1e-12) + (1 - y_test) * np.log(1 - p_test + 1e-12)))
metrics = {"accuracy": float(np.mean((p_test > 0.5) == y_test)), "loss": loss}
with open(os.path.join(out, "metrics.json"), "w") as handle:
    json.dump(metrics, handle)
np.save(os.path.join(out, "predictions.npy"), p_test)
print(metrics)
