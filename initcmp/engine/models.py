"""Each run's Keras model and optimizer: what its checkpoint holds, what `eval`
restores and what `inspect` and LSUV look inside. Training itself does not call the
model: the fused engine (engine/fused.py) trains stacked copies of its weights and copies them
back before every checkpoint.

The model is the notebook's MLP: Flatten -> Dense(h, activation) for each h in
model.hidden -> Dense(10) logits. Each Dense kernel gets its own initializer instance
seeded from (run seed, layer index), so no two layers are copies of each other. Biases
start at zero, or with `init.bias_variance` σ_b² > 0 are drawn from N(0, σ_b²), each
layer's from a seed of its own (`bias_seed`).
"""

from __future__ import annotations

import hashlib
import math


from initcmp.inits import registry
from initcmp.config.schema import Config


def build_model(cfg: Config):
    import keras

    layers = [keras.Input(shape=(28, 28), name="image"), keras.layers.Flatten(name="flatten")]
    sizes = cfg.model.widths()[1:]
    for index, units in enumerate(sizes):
        is_output = index == len(sizes) - 1
        layers.append(
            keras.layers.Dense(
                units,
                activation=None if is_output else cfg.model.activation,
                kernel_initializer=registry.build(cfg.init.name, cfg.init.params, cfg.seed, index),
                bias_initializer=bias_initializer(cfg.init.bias_variance, cfg.seed, index),
                name="logits" if is_output else f"hidden_{index}",
            )
        )
    return keras.Sequential(layers, name=cfg.name)


def bias_initializer(variance: float, seed: int, layer: int):
    """One layer's biases: Keras' "zeros" for σ_b² = 0 (the default, and the notebook's
    model), else an untruncated normal N(0, σ_b²) seeded by `bias_seed`."""
    if variance == 0:
        return "zeros"
    import keras

    return keras.initializers.RandomNormal(
        mean=0.0, stddev=math.sqrt(variance), seed=bias_seed(seed, layer)
    )


def bias_seed(seed: int, layer: int) -> int:
    """The seed of one layer's biases (registry.derived_seed: the kernel's entropy and 1)."""
    return registry.derived_seed(seed, layer, 1)


def build_optimizer(cfg: Config):
    import keras

    make = {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }[cfg.train.optimizer]
    return make(learning_rate=cfg.train.learning_rate)


def dense_layers(model) -> list:
    """The model's Dense layers in order, hidden first, logits last."""
    return [layer for layer in model.layers if hasattr(layer, "kernel")]


def flat_images(x):
    """Images (n, 28, 28) in [0, 1] as a float32 (n, 784) tensor: a Dense stack's input."""
    import tensorflow as tf

    return tf.reshape(tf.convert_to_tensor(x, tf.float32), (len(x), -1))


def pre_activation(layer, h):
    """One Dense layer's output before its activation: the same float32 arithmetic as
    the layer's own call."""
    import tensorflow as tf

    return tf.matmul(h, layer.kernel) + layer.bias


def forward(model, activation: str, x) -> list[tuple]:
    """Each Dense layer's output before and after its activation for a batch `x` of
    images (n, 28, 28) in [0, 1]: [(pre, post), ...], logits last (their post is their
    pre). Eager, one layer at a time, so that analysis/diagnose.py can look inside."""
    import keras

    act = keras.activations.get(activation)
    layers = dense_layers(model)
    h, out = flat_images(x), []
    for i, layer in enumerate(layers):
        pre = pre_activation(layer, h)
        h = pre if i == len(layers) - 1 else act(pre)
        out.append((pre, h))
    return out


def weights_sha256(model) -> str:
    """A fingerprint of every weight, to check determinism and resume at a glance."""
    h = hashlib.sha256()
    for w in model.weights:
        h.update(w.numpy().tobytes())
    return h.hexdigest()
