"""Each run's Keras model and optimizer: what its checkpoint holds, what `eval`
restores and what `inspect` and LSUV look inside. Training itself does not call the
model: the fused engine (fused.py) trains stacked copies of its weights and copies them
back before every checkpoint.

The model is the notebook's MLP: Flatten -> Dense(h, activation) for each h in
model.hidden -> Dense(10) logits. Biases start at zero. Each Dense kernel gets its own
initializer instance seeded from (run seed, layer index), so no two layers are copies
of each other.
"""

from __future__ import annotations

import hashlib

from initcmp import initializers
from initcmp.config import Config

NUM_CLASSES = 10


def build_model(cfg: Config):
    import keras

    layers = [keras.Input(shape=(28, 28), name="image"), keras.layers.Flatten(name="flatten")]
    sizes = [*cfg.model.hidden, NUM_CLASSES]
    for index, units in enumerate(sizes):
        is_output = index == len(sizes) - 1
        layers.append(
            keras.layers.Dense(
                units,
                activation=None if is_output else cfg.model.activation,
                kernel_initializer=initializers.build(
                    cfg.init.name, cfg.init.params, cfg.seed, index
                ),
                bias_initializer="zeros",
                name="logits" if is_output else f"hidden_{index}",
            )
        )
    return keras.Sequential(layers, name=cfg.name)


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
    pre). Eager, one layer at a time, so that diagnose.py can look inside."""
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
