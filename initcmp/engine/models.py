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
    scalings = cfg.layer_scalings()
    for index, (units, scaling) in enumerate(zip(sizes, scalings)):
        is_output = index == len(sizes) - 1
        dense, extra = keras.layers.Dense, {}
        if scaling.multiplier != 1.0:
            dense, extra = scaled_dense(), {"multiplier": scaling.multiplier}
        layers.append(
            dense(
                units,
                activation=None if is_output else cfg.model.activation,
                kernel_initializer=registry.build(cfg.init.name, cfg.init.params, cfg.seed, index),
                bias_initializer=bias_initializer(cfg.init.bias_variance, cfg.seed, index),
                name="logits" if is_output else f"hidden_{index}",
                **extra,
            )
        )
    model = keras.Sequential(layers, name=cfg.name)
    for layer, scaling in zip(dense_layers(model), scalings):
        if scaling.init_std == 0.0:  # init.readout: zero, biases too (mup's readout_zero_init)
            layer.kernel.assign(keras.ops.zeros_like(layer.kernel))
            layer.bias.assign(keras.ops.zeros_like(layer.bias))
        elif scaling.init_std != 1.0:
            layer.kernel.assign(layer.kernel * scaling.init_std)
    return model


_SCALED_DENSE: list = []  # the class, made once, on first use (it needs Keras)


def scaled_dense():
    """A Dense layer whose output is `multiplier * (x @ W) + b`, the arithmetic of the
    fused engine's `fused.dense` with a multiplier."""
    if _SCALED_DENSE:
        return _SCALED_DENSE[0]
    import keras

    class ScaledDense(keras.layers.Dense):
        def __init__(self, units, multiplier: float = 1.0, **kwargs):
            super().__init__(units, **kwargs)
            self.multiplier = float(multiplier)

        def call(self, inputs, training=None):
            x = keras.ops.matmul(inputs, self.kernel) * self.multiplier
            x = keras.ops.add(x, self.bias)
            return self.activation(x) if self.activation is not None else x

        def get_config(self):
            return {**super().get_config(), "multiplier": self.multiplier}

    _SCALED_DENSE.append(ScaledDense)
    return ScaledDense


def multiplier(layer) -> float:
    """A Dense layer's forward multiplier: 1 for Keras' own Dense."""
    return getattr(layer, "multiplier", 1.0)


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
    factors = [f for s in cfg.layer_scalings() for f in (s.kernel_lr, s.bias_lr)]
    if all(f == 1.0 for f in factors):  # standard: Keras' optimizer as it is
        return make(learning_rate=cfg.train.learning_rate)
    return per_variable(make)(factors, learning_rate=cfg.train.learning_rate)


def per_variable(make):
    """Keras optimizer class `make` with a learning-rate factor per variable, in the
    order the optimizer is built with (a model's trainable variables: kernel, bias, ...;
    the fused stack's, in the same order): each variable's update is the class's own,
    at learning rate × its factor (microsoft/mup's MuAdam and MuSGD do this with
    parameter groups). A factor of 1 leaves its variable's arithmetic untouched."""

    class PerVariable(make):
        def __init__(self, factors, **kwargs):
            super().__init__(**kwargs)
            self.lr_factors = list(factors)

        def update_step(self, gradient, variable, learning_rate):
            factor = self.lr_factors[self._get_variable_index(variable)]
            if factor != 1.0:
                learning_rate = learning_rate * factor
            return super().update_step(gradient, variable, learning_rate)

    PerVariable.__name__ = f"PerVariable{make.__name__}"
    return PerVariable


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

    scale = multiplier(layer)
    if scale == 1.0:
        return tf.matmul(h, layer.kernel) + layer.bias
    return tf.matmul(h, layer.kernel) * scale + layer.bias


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
