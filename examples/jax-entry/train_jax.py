"""A two-layer MLP in plain JAX: an entry workload for reprogrid.

reprogrid imports this file and calls ``main(seed=..., determinism=..., data_dir=...,
output_dir=...)`` after seeding Python and NumPy; JAX has no global seed, so the model's
randomness comes from ``jax.random.PRNGKey(seed)``. ``main`` returns its metrics and the
test predictions (hashed into the record, so runs can be compared bit for bit).
Try it alone: python -c "import train_jax; print(train_jax.main(1, True, '.', '.'))"
"""
import numpy as np


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 10)).astype("float32")
    y = (np.sin(x[:, 0]) + x[:, 1] * x[:, 2] > 0).astype("float32")
    return x[:384], y[:384], x[384:], y[384:]


def main(seed, determinism, data_dir, output_dir, epochs=20):
    import jax
    import jax.numpy as jnp

    x_train, y_train, x_test, y_test = _data()
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    params = {
        "w1": jax.random.normal(k1, (10, 32)) * 0.3, "b1": jnp.zeros(32),
        "w2": jax.random.normal(k2, (32,)) * 0.3, "b2": jnp.zeros(()),
    }

    def logits(p, x):
        return jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]

    def loss(p, x, y):
        z = logits(p, x)
        return jnp.mean(jnp.maximum(z, 0) - z * y + jnp.log1p(jnp.exp(-jnp.abs(z))))

    @jax.jit
    def step(p, x, y):
        grads = jax.grad(loss)(p, x, y)
        return jax.tree_util.tree_map(lambda a, g: a - 0.3 * g, p, grads)

    for _ in range(epochs):
        params = step(params, x_train, y_train)
    probs = jax.nn.sigmoid(logits(params, x_test))
    return {
        "val_loss": float(loss(params, x_test, y_test)),
        "val_accuracy": float(jnp.mean((probs > 0.5) == y_test)),
        "predictions": np.asarray(probs),
    }
