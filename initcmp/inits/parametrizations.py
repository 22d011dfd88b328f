"""Width parametrizations: how each layer's initial scale, forward multiplier and learning
rate change with the network's width (`model.parametrization`, `model.base_width`).

The chosen initializer sets each kernel's distribution and its variance at the layer's
actual fan-in (He: 2/fan_in, ...); a parametrization multiplies, per layer, the drawn
kernel by an init factor, the layer's product x @ W by a forward multiplier
(y = multiplier * (x @ W) + b, the bias outside it, as `mup.MuReadout` multiplies its
input), and the optimizer's learning rate by a learning-rate factor. Every factor is a
power of a width ratio m = (a layer's width) / base_width, as `microsoft/mup` counts them
(`infshape.width_mult()`), so at width == base_width every factor is exactly 1 and the
three parametrizations are the same network, bit for bit.

Layers: the input layer (fan-in 784, fixed; fan-out grows with width: m = fan_out/base),
hidden layers (both grow: m_in = fan_in/base, m_out = fan_out/base) and the readout
(fan-in grows, m = fan_in/base; fan-out 10, fixed). Biases have no init factor and no
multiplier; their learning rate follows their one width-sized dimension (`mup`'s
"vector-like" parameters), the readout's bias (10 entries, fixed) keeps η.

Table (factors relative to the standard network, m as above; "Adam" covers Adam and
RMSprop, whose updates normalise the gradient entrywise; "other biases" are the input
and hidden layers', whose m is their fan-out's):

| | input kernel | hidden kernel | readout kernel | other biases | readout bias |
|---|---|---|---|---|---|
| standard: everything | 1 | 1 | 1 | 1 | 1 |
| mup init std | 1 | 1 | sqrt(m) (or zero) | - | - |
| mup multiplier | 1 | 1 | 1/m | - | - |
| mup SGD lr | m | m_out/m_in | m | m | 1 |
| mup Adam lr | 1 | 1/m_in | 1 | 1 | 1 |
| ntk init std | 1 | sqrt(m_in) | sqrt(m) | - | - |
| ntk multiplier | 1 | 1/sqrt(m_in) | 1/sqrt(m) | - | - |
| ntk SGD lr | 1 | 1 | 1 | 1 | 1 |
| ntk Adam lr | 1/sqrt(m) | 1/m_in | 1/sqrt(m) | 1/sqrt(m) | 1 |

μP is Tensor Programs V's (Yang et al. 2022, arXiv:2203.03466), in the form of its
tables with a readout multiplier (readout init variance 1 (in width), multiplier
1/fan_in; Adam learning rate η/fan_in for hidden
weights and η elsewhere; SGD η·fan_out for input weights and biases, η·fan_in for the
readout, η for hidden weights), in the base-width-relative form of `microsoft/mup`:
`MuReadout` (output_mult / width_mult on its input, weights rescaled by
width_mult**0.5 by `set_base_shapes`; `readout_zero_init`), `MuAdam` (matrix-like
parameters' lr / width_mult) and `MuSGD` (vector-like lr * width_mult, matrix-like
lr / (fan_in_mult / fan_out_mult)). NTK with SGD is Yang & Hu 2021's NTK parametrization
(arXiv:2011.14522, Table 1 / eq. 3: W = n^(-1/2) w for hidden and readout weights, w
drawn with the base variance, learning rate Θ(1)). Yang & Hu give NTK for SGD only; the
Adam column here is the learning rate that keeps NTK's orders with an entrywise-normalised
update (features move as width^(-1/2), the logits as width^0), by the counting rule of
analysis/width_theory.py, which checks it. Standard (SP) is Keras' network untouched: the
factors are never applied, so its weights are today's, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from initcmp.errors import ConfigError

PARAMETRIZATIONS = ("standard", "ntk", "mup")
# Optimizers whose update is the gradient normalised entrywise: the table's Adam column.
ADAPTIVE = ("adam", "rmsprop")


@dataclass(frozen=True)
class LayerScaling:
    """One Dense layer's factors (module docstring): on the drawn kernel, on x @ W in the
    forward pass, and on the learning rate of its kernel and of its bias."""

    role: str  # input, hidden or readout
    init_std: float = 1.0  # 0.0: the readout starts at zero (init.readout: zero)
    multiplier: float = 1.0
    kernel_lr: float = 1.0
    bias_lr: float = 1.0


def roles(layers: int) -> list[str]:
    """The roles of a network's `layers` Dense layers, input side first."""
    if layers == 1:
        return ["readout"]  # 784 -> 10: no width at all
    return ["input", *["hidden"] * (layers - 2), "readout"]


def scalings(
    name: str,
    sizes: list[int],
    base_width: int | None,
    optimizer: str,
    zero_readout: bool = False,
) -> list[LayerScaling]:
    """Each Dense layer's factors for a network whose layer sizes are `sizes` (784, the
    hidden widths, 10). `zero_readout`: the readout kernel starts at zero."""
    if name not in PARAMETRIZATIONS:
        raise ConfigError(
            f"parametrization must be one of {', '.join(PARAMETRIZATIONS)}, not {name!r}"
        )
    layer_roles = roles(len(sizes) - 1)
    out = []
    for index, role in enumerate(layer_roles):
        fan_in, fan_out = sizes[index], sizes[index + 1]
        if name == "standard" or len(layer_roles) == 1:  # 784 -> 10 has no width
            scaling = LayerScaling(role)
        else:
            if base_width is None:
                raise ConfigError(f"parametrization {name!r} needs model.base_width")
            m_in, m_out = fan_in / base_width, fan_out / base_width
            rule = _mup if name == "mup" else _ntk
            scaling = rule(role, m_in, m_out, optimizer in ADAPTIVE)
        if zero_readout and role == "readout":
            scaling = LayerScaling(
                role, 0.0, scaling.multiplier, scaling.kernel_lr, scaling.bias_lr
            )
        out.append(scaling)
    return out


def _mup(role: str, m_in: float, m_out: float, adam: bool) -> LayerScaling:
    if role == "input":
        return LayerScaling(role, kernel_lr=1.0 if adam else m_out, bias_lr=1.0 if adam else m_out)
    if role == "hidden":
        return LayerScaling(
            role,
            kernel_lr=1.0 / m_in if adam else m_out / m_in,
            bias_lr=1.0 if adam else m_out,
        )
    return LayerScaling(
        role, init_std=math.sqrt(m_in), multiplier=1.0 / m_in, kernel_lr=1.0 if adam else m_in
    )


def _ntk(role: str, m_in: float, m_out: float, adam: bool) -> LayerScaling:
    if role == "input":
        lr = 1.0 / math.sqrt(m_out) if adam else 1.0
        return LayerScaling(role, kernel_lr=lr, bias_lr=lr)
    root = math.sqrt(m_in)
    if role == "hidden":
        return LayerScaling(
            role,
            init_std=root,
            multiplier=1.0 / root,
            kernel_lr=1.0 / m_in if adam else 1.0,
            bias_lr=1.0 / math.sqrt(m_out) if adam else 1.0,
        )
    return LayerScaling(
        role, init_std=root, multiplier=1.0 / root, kernel_lr=1.0 / root if adam else 1.0
    )
