"""Spiking CNNs for event cameras, as frontend networks (trained through :mod:`snn.deep`).

* :func:`cordone_network`: the sparse strided spiking CNN of Cordone, Miramond & Ferrante,
  "Learning from Event Cameras with Sparse Spiking Convolutional Neural Networks" (IJCNN 2021):
  four strided convolutions 2->4 (5x5, s2), 4->8 (5x5, s2), 8->8 (3x3, s2), 8->16 (3x3, s2) of
  LIF neurons with learnable leak and threshold and soft reset, and a dense readout whose
  membrane potential is averaged over time (about 9k parameters at 128x128 input).
* :func:`csnn_network`: the convolutional SNN of NeuroBench's DVS Gesture example (32x32 input,
  conv 5x5 -> pool 2 -> conv 5x5 -> pool 2 -> conv 5x5 to 11 classes). NeuroBench average-pools
  the convolution's currents; here each pooling is a layer of spike max-pooling neurons (a
  DeltaLIF with reset to zero whose threshold any single input spike exceeds), which keeps every
  layer a population of spiking neurons that the event-driven backends and hardware can run.

Weights are drawn like torch's default initialisation (uniform in +-1/sqrt(fan_in)), scaled by
``weight_gain``, so that the untrained network already passes spikes from layer to layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import snn
from snn.connectors import Conv2d, Dense, Pool2d
from snn.network import Network, Population
from snn.neurons import DeltaLIF, LeakyIntegrator

DVS_GESTURE_CLASSES = 11


def _fan_in_uniform(fan_in: int, gain: float) -> snn.Uniform:
    bound = gain / math.sqrt(fan_in)
    return snn.Uniform(-bound, bound)


def _check(input_shape: Sequence[int], n_classes: int, dt: float) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (C, H, W) positive integers, got {input_shape!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
    return shape[0], shape[1], shape[2]


def _conv_layer(
    net: Network,
    pre: Population,
    conv: Conv2d,
    model: DeltaLIF,
    label: str,
    gain: float,
) -> Population:
    post = net.population(conv.output_shape(pre.shape), model, label=label)
    fan_in = pre.shape[0] * conv.kernel_size**2
    net.connect(pre, post, conv, weight=_fan_in_uniform(fan_in, gain), label=f"{label}_w")
    return post


def cordone_network(
    input_shape: Sequence[int] = (2, 128, 128),
    n_classes: int = DVS_GESTURE_CLASSES,
    dt: float = 1e-3,
    tau_m: float = 10e-3,
    v_thresh: float = 1.0,
    weight_gain: float = 2.0,
    seed: int = 0,
) -> Network:
    """The Cordone et al. (2021) strided spiking CNN (see the module docstring)."""
    _check(input_shape, n_classes, dt)
    net = Network(dt=dt, seed=seed)
    x = net.input(tuple(input_shape), label="events")
    lif = DeltaLIF(tau_m=tau_m, v_thresh=v_thresh, reset="subtract", learn=("tau_m", "v_thresh"))
    h: Population = x
    for i, (c, k) in enumerate(((4, 5), (8, 5), (8, 3), (16, 3)), start=1):
        h = _conv_layer(net, h, Conv2d(c, k, stride=2), lif, f"conv{i}", weight_gain)
    out = net.population(
        n_classes, LeakyIntegrator(tau_m=tau_m, learn=("v_bias",)), label="readout"
    )
    net.connect(h, out, Dense(), weight=_fan_in_uniform(h.size, weight_gain), label="readout_w")
    return net


def csnn_network(
    input_shape: Sequence[int] = (2, 32, 32),
    n_classes: int = DVS_GESTURE_CLASSES,
    dt: float = 1e-3,
    tau_m: float = 10e-3,
    v_thresh: float = 1.0,
    channels: int = 32,
    weight_gain: float = 2.0,
    seed: int = 0,
) -> Network:
    """NeuroBench's DVS Gesture CSNN with spike max-pooling layers (module docstring)."""
    c_in, h_in, w_in = _check(input_shape, n_classes, dt)
    if (h_in - 4) // 2 < 5 or (w_in - 4) // 2 < 5:
        raise ValueError(f"csnn_network needs inputs of at least 28x28, got {h_in}x{w_in}")
    net = Network(dt=dt, seed=seed)
    x = net.input((c_in, h_in, w_in), label="events")
    lif = DeltaLIF(tau_m=tau_m, v_thresh=v_thresh, reset="subtract", learn=("v_bias",))
    # any single input spike (weight 1) crosses 0.5 and the reset to zero forgets it: spike OR
    pool_lif = DeltaLIF(tau_m=tau_m, v_thresh=0.5, reset="zero", learn=())
    h = _conv_layer(net, x, Conv2d(channels, 5), lif, "conv1", weight_gain)
    pool = Pool2d(2)
    p1 = net.population(pool.output_shape(h.shape), pool_lif, label="pool1")
    net.connect(h, p1, pool, weight=1.0, label="pool1_w")
    h2 = _conv_layer(net, p1, Conv2d(channels, 5), lif, "conv2", weight_gain)
    p2 = net.population(pool.output_shape(h2.shape), pool_lif, label="pool2")
    net.connect(h2, p2, pool, weight=1.0, label="pool2_w")
    conv3 = Conv2d(n_classes, 5)
    out_shape = conv3.output_shape(p2.shape)
    out = net.population(
        out_shape, LeakyIntegrator(tau_m=tau_m, learn=("v_bias",)), label="readout"
    )
    fan_in = p2.shape[0] * 25
    net.connect(p2, out, conv3, weight=_fan_in_uniform(fan_in, weight_gain), label="readout_w")
    return net
