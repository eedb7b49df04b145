"""Torch lowering of a deep network: a trainable ``nn.Module`` over the frontend's parameters.

The forward pass follows the shared semantics of :mod:`snn.deep.graph` exactly (one step of
delay per projection, ``v = (beta v + I) + v_bias``, strict threshold, soft or zero reset), so
with float64 and the same weights it gives the NumPy reference's spikes. It runs layer by layer:
a projection's input over all steps is known once its pre layer has run, so each projection is
one batched convolution (or matmul) over ``batch x steps`` frames, and only the cheap membrane
recurrence loops over time. Gradients flow through surrogate derivatives
(:mod:`snn.deep.surrogate`); the reset is detached from the graph by default (``detach_reset``).

Trainable: every conv2d/dense kernel; per layer, the parameters its model names in ``learn``:
``tau_m`` and ``v_thresh`` as one scalar per layer, ``v_bias`` one per channel (per neuron for
1-D layers). :meth:`SpikingModule.export` writes them back into the network.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from snn.connectors import Conv2d, Dense, Pool2d
from snn.deep.graph import DeepGraph, Layer, deep_graph
from snn.deep.surrogate import check_surrogate, spike
from snn.network import Network, Projection
from snn.neurons import DeltaLIF


def _uniform(layer: Layer, name: str, values: np.ndarray) -> float:
    if not np.all(values == values.flat[0]):
        raise ValueError(
            f"layer {layer.label!r}: {name} is learnable but differs between neurons; a learnable "
            f"{name} is one value per layer (set_params({name}=...) to make it uniform)"
        )
    return float(values.flat[0])


def _per_channel(layer: Layer, values: np.ndarray) -> np.ndarray:
    shape = layer.shape
    arr = values.reshape(shape)
    if len(shape) == 1:
        return arr.copy()
    flat = arr.reshape(shape[0], -1)
    if not np.all(flat == flat[:, :1]):
        raise ValueError(
            f"layer {layer.label!r}: a learnable v_bias is one value per channel, but it differs "
            "within a channel"
        )
    return flat[:, 0].copy()


class SpikingModule(nn.Module):
    """``module(frames)``: frames (batch, T, *input.shape) -> logits (batch, n_classes).

    ``forward(frames, record=True)`` also returns each spiking layer's spikes, shape
    (batch, n_steps, *layer.shape). ``n_steps`` defaults to ``T + latency``.
    """

    def __init__(
        self,
        net: Network,
        surrogate: str = "fast_sigmoid",
        surrogate_scale: float | None = None,
        detach_reset: bool = True,
        dtype: torch.dtype = torch.float32,
        fused: bool = True,
        sparse_input: bool = True,
        crossbar: bool = False,
        crossbar_seed: int = 0,
    ) -> None:
        super().__init__()
        self.fused = bool(fused)
        self.sparse_input = bool(sparse_input)
        self.graph: DeepGraph = deep_graph(net)
        self.network = net
        self.surrogate = surrogate
        self.surrogate_scale = check_surrogate(surrogate, surrogate_scale)
        self.detach_reset = bool(detach_reset)
        self.dt = float(net.dt)
        self.kernels = nn.ParameterDict()
        for proj in self.graph.projections:
            kernel = torch.tensor(proj.kernel(), dtype=dtype)
            if proj.connector.trainable:  # type: ignore[attr-defined]
                self.kernels[self._key(proj)] = nn.Parameter(kernel)
            else:
                self.register_buffer(f"fixed_{self._key(proj)}", kernel)
        # projections read through their crossbar at every step (inference: no gradient)
        self.crossbars: dict[int, Any] = {}
        if crossbar:
            from snn.hardware.crossbar.substrate import projection_matrix, projection_seed

            with_substrate = [p for p in self.graph.projections if p.substrate is not None]
            if not with_substrate:
                raise ValueError(
                    "crossbar=True, but no projection declares a substrate "
                    "(net.connect(..., substrate=CrossbarSubstrate(...)))"
                )
            for proj in with_substrate:
                seed = projection_seed(crossbar_seed, proj.index)
                self.crossbars[proj.index] = proj.substrate.layer(projection_matrix(proj), seed)
        self.tau_m = nn.ParameterDict()
        self.v_thresh = nn.ParameterDict()
        self.v_bias = nn.ParameterDict()
        for i, layer in enumerate(self.graph.layers):
            model = layer.population.model
            if not isinstance(model, DeltaLIF):
                raise ValueError(f"layer {layer.label!r} is not a DeltaLIF")
            params = layer.population.params
            key = f"l{i}"
            shape = layer.shape
            if "tau_m" in model.learn:
                tau = _uniform(layer, "tau_m", params["tau_m"])
                self.tau_m[key] = nn.Parameter(torch.tensor(tau, dtype=dtype))
            else:
                self.register_buffer(
                    f"beta_{key}", torch.tensor(layer.beta.reshape(shape), dtype=dtype)
                )
            if layer.spiking:
                if "v_thresh" in model.learn:
                    th = _uniform(layer, "v_thresh", params["v_thresh"])
                    self.v_thresh[key] = nn.Parameter(torch.tensor(th, dtype=dtype))
                else:
                    self.register_buffer(
                        f"thresh_{key}", torch.tensor(layer.v_thresh.reshape(shape), dtype=dtype)
                    )
            if "v_bias" in model.learn:
                bias = _per_channel(layer, params["v_bias"])
                self.v_bias[key] = nn.Parameter(torch.tensor(bias, dtype=dtype))
            else:
                self.register_buffer(
                    f"bias_{key}", torch.tensor(layer.v_bias.reshape(shape), dtype=dtype)
                )

    # -- parameters ------------------------------------------------------------------------
    @staticmethod
    def _key(proj: Projection) -> str:
        return f"p{proj.index}"

    def _kernel(self, proj: Projection) -> torch.Tensor:
        key = self._key(proj)
        if key in self.kernels:
            return self.kernels[key]
        return getattr(self, f"fixed_{key}")

    def _beta(self, i: int) -> torch.Tensor:
        key = f"l{i}"
        if key in self.tau_m:
            tau = self.tau_m[key].clamp(min=1e-3 * self.dt)
            return torch.exp(-self.dt / tau)
        return getattr(self, f"beta_{key}")

    def _thresh(self, i: int) -> torch.Tensor:
        key = f"l{i}"
        if key in self.v_thresh:
            return self.v_thresh[key].clamp(min=1e-6)
        return getattr(self, f"thresh_{key}")

    def _bias(self, i: int, layer: Layer) -> torch.Tensor:
        key = f"l{i}"
        if key in self.v_bias:
            b = self.v_bias[key]
            return b.reshape(-1, *([1] * (len(layer.shape) - 1)))
        return getattr(self, f"bias_{key}")

    # -- forward ---------------------------------------------------------------------------
    def _project(self, proj: Projection, y: torch.Tensor) -> torch.Tensor:
        """The projection's input to its post layer for a batch of pre outputs (N, *pre)."""
        w = self._kernel(proj)
        c = proj.connector
        # channels-last convolutions run 3-4x faster (forward + backward) on CPU with oneDNN
        cl = torch.channels_last
        if isinstance(c, Conv2d):
            y, w = y.contiguous(memory_format=cl), w.contiguous(memory_format=cl)
            return F.conv2d(y, w, stride=c.stride, padding=c.padding)
        if isinstance(c, Pool2d):
            channels = y.shape[1]
            kernel = w.reshape(1, 1, 1, 1).expand(channels, 1, c.kernel_size, c.kernel_size)
            y, kernel = y.contiguous(memory_format=cl), kernel.contiguous(memory_format=cl)
            return F.conv2d(y, kernel, stride=c.step, groups=channels)
        if isinstance(c, Dense):
            out = F.linear(y.reshape(y.shape[0], -1), w)
            return out.reshape(y.shape[0], *proj.post.parent.shape)
        raise ValueError(f"projection {proj.label!r}: no torch lowering for {c.name}")

    def forward(
        self, frames: torch.Tensor, n_steps: int | None = None, record: bool = False
    ) -> Any:
        g = self.graph
        shape = g.input.shape
        if frames.ndim != 2 + len(shape) or tuple(frames.shape[2:]) != shape:
            raise ValueError(
                f"frames of shape {tuple(frames.shape)}; expected (batch, T, "
                f"{', '.join(map(str, shape))})"
            )
        batch, n_frames = frames.shape[:2]
        steps = n_frames + g.latency if n_steps is None else int(n_steps)
        if steps < 1:
            raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
        # time-major throughout: a layer's outputs of steps 0..S-2 are one contiguous block,
        # the batch of frames its projections convolve at once
        outputs: dict[int, torch.Tensor] = {g.input.index: frames.transpose(0, 1)}
        for i, layer in enumerate(g.layers):
            drive: torch.Tensor | None = None
            for proj in layer.incoming:
                y = outputs[proj.pre.parent.index]
                # outputs of step m drive step m + 1: steps beyond S - 1 reach nothing, and
                # missing input frames are zero (no synaptic input, no work)
                z = self._project_steps(proj, _first_steps(y, min(y.shape[0], steps - 1)), batch)
                if drive is not None and z.shape[0] != drive.shape[0]:
                    short, long_ = sorted((z, drive), key=lambda t: t.shape[0])
                    pad = short.new_zeros((long_.shape[0] - short.shape[0], *short.shape[1:]))
                    z, drive = torch.cat([short, pad]), long_
                drive = z if drive is None else drive + z
            if drive is None:  # pragma: no cover - deep_graph guarantees incoming projections
                raise ValueError(f"layer {layer.label!r} has no input")
            outputs[layer.population.index] = self._scan(i, layer, drive, steps)
        logits = outputs[g.readout.population.index].mean(dim=0).reshape(batch, -1)
        if not record:
            return logits
        spikes = {
            layer.label: outputs[layer.population.index].transpose(0, 1)
            for layer in g.layers
            if layer.spiking
        }
        return logits, spikes

    def _project_steps(self, proj: Projection, y: torch.Tensor, batch: int) -> torch.Tensor:
        """The projection's input to its post layer for outputs y (D, batch, *pre.shape)."""
        d = y.shape[0]
        pre_shape = proj.pre.parent.shape
        if d == 0:
            return y.new_zeros((0, batch, *proj.post.parent.shape))
        c = proj.connector
        if proj.index in self.crossbars:
            flat = y.reshape(d * batch, *pre_shape)
            z = self._project_crossbar(proj, flat)
            return z.reshape(d, batch, *proj.post.parent.shape)
        if (
            self.sparse_input
            and proj.pre.parent is self.graph.input
            and isinstance(c, Conv2d)
            and y.device.type == "cpu"
            and not y.requires_grad
        ):
            # event frames are mostly zero: convolve only the events (and their weight gradient)
            return _SparseInputConv2d.apply(y, self._kernel(proj), c.stride, c.padding)
        if len(pre_shape) == 3:
            # channels-last (D*batch, C, H, W): a view when y came from a scan, one copy for frames
            flat = y.reshape(d * batch, *pre_shape)
            flat = flat.contiguous(memory_format=torch.channels_last)
        else:
            flat = y.reshape(d * batch, *pre_shape)
        z = self._project(proj, flat)
        return z.reshape(d, batch, *proj.post.parent.shape)

    @torch.no_grad()
    def _project_crossbar(self, proj: Projection, y: torch.Tensor) -> torch.Tensor:
        """The projection's input computed by its programmed crossbar: DAC, devices read now
        (read noise redrawn), wires, ADC; conv2d as one matrix-vector product per output
        position (im2col)."""
        layer = self.crossbars[proj.index]
        c = proj.connector
        t = float(proj.substrate.read_time)
        if isinstance(c, Conv2d):
            n = y.shape[0]
            cols = F.unfold(y.float(), c.kernel_size, stride=c.stride, padding=c.padding)
            vectors = cols.transpose(1, 2).reshape(-1, cols.shape[1]).double().numpy()
            out = torch.from_numpy(layer.forward(vectors, t=t))
            c_out, h_out, w_out = proj.post.parent.shape
            out = out.reshape(n, h_out, w_out, c_out).permute(0, 3, 1, 2)
        else:
            out = torch.from_numpy(layer.forward(y.reshape(y.shape[0], -1).double().numpy(), t=t))
        return out.to(y.dtype)

    def _scan(self, i: int, layer: Layer, drive: torch.Tensor, steps: int) -> torch.Tensor:
        """Outputs (steps, batch, *shape) of a layer whose input to steps 1..D is ``drive``."""
        beta, bias = self._beta(i), self._bias(i, layer)
        if layer.spiking and self.detach_reset and self.fused:
            return _LIFScan.apply(
                drive,
                steps,
                beta,
                self._thresh(i),
                bias,
                layer.reset_subtract,
                self.surrogate,
                self.surrogate_scale,
            )
        v = torch.zeros_like(drive[0])
        out = []
        thresh = self._thresh(i) if layer.spiking else None
        for m in range(steps):
            v = beta * v + drive[m - 1] if 0 < m <= drive.shape[0] else beta * v
            v = v + bias
            if thresh is None:
                out.append(v)
                continue
            s = spike(v - thresh, self.surrogate, self.surrogate_scale)
            r = s.detach() if self.detach_reset else s
            v = v - r * thresh if layer.reset_subtract else v * (1.0 - r)
            out.append(s)
        return torch.stack(out)

    # -- export ----------------------------------------------------------------------------
    @torch.no_grad()
    def export(self) -> Network:
        """Write the trained kernels and layer parameters back into the network; return it."""
        for proj in self.graph.projections:
            if self._key(proj) in self.kernels:
                proj.set_kernel(self.kernels[self._key(proj)].detach().double().cpu().numpy())
        for i, layer in enumerate(self.graph.layers):
            key = f"l{i}"
            pop = layer.population
            values: dict[str, Any] = {}
            if key in self.tau_m:
                values["tau_m"] = float(self.tau_m[key].clamp(min=1e-3 * self.dt))
            if key in self.v_thresh:
                values["v_thresh"] = float(self.v_thresh[key].clamp(min=1e-6))
            if key in self.v_bias:
                b = self.v_bias[key].detach().double().cpu().numpy()
                per_neuron = np.broadcast_to(
                    b.reshape(-1, *([1] * (len(layer.shape) - 1))), layer.shape
                )
                values["v_bias"] = per_neuron.reshape(-1).copy()
            if values:
                pop.set_params(**values)
        self.graph = deep_graph(self.network)
        return self.network

    def extra_repr(self) -> str:
        names = " -> ".join([self.graph.input.label] + [layer.label for layer in self.graph.layers])
        return (
            f"{names}, surrogate={self.surrogate}({self.surrogate_scale:g}), "
            f"latency={self.graph.latency}, dt={self.dt:g}"
        )


class _LIFScan(torch.autograd.Function):
    r"""The DeltaLIF recurrence over all steps with a hand-written backward pass.

    Same arithmetic as the step-by-step autograd loop (``u = (beta v + I) + v_bias``,
    ``s = H(u - v_thresh)``, detached reset), but one graph node per layer instead of a dozen per
    step: the forward loop runs without autograd bookkeeping and the backward loop applies

    .. math::

        g_u^m = \frac{\partial L}{\partial s^m} \sigma'(u^m - \theta)
              + g_v^m \frac{\partial v^m}{\partial u^m}, \qquad
        g_v^{m-1} = \beta g_u^m, \qquad
        \frac{\partial L}{\partial I^m} = g_u^m

    with :math:`\partial v/\partial u = 1` (subtract) or :math:`1 - s` (zero), accumulating
    :math:`\sum_m g_u^m v^{m-1}` for beta, :math:`\sum_m g_u^m` for v_bias and
    :math:`-\sum_m (\partial L/\partial s^m \sigma' + g_v^m s^m [subtract])` for the threshold.
    """

    @staticmethod
    def forward(
        ctx: Any,
        drive: torch.Tensor,
        steps: int,
        beta: torch.Tensor,
        thresh: torch.Tensor,
        bias: torch.Tensor,
        subtract: bool,
        surrogate: str,
        scale: float,
    ) -> torch.Tensor:
        n_drive = drive.shape[0]
        u_all = _empty_steps(drive, steps)
        s_all = _empty_steps(drive, steps)
        ctx.subtract, ctx.surrogate, ctx.scale, ctx.n_drive = subtract, surrogate, scale, n_drive
        if drive.device.type == "cpu":
            from snn.deep import scan_kernels

            full = drive.shape[1:]
            scan_kernels.lif_forward(
                _memory_order(drive),
                steps,
                _memory_order(beta.expand(full)).reshape(-1),
                _memory_order(thresh.expand(full)).reshape(-1),
                _memory_order(bias.expand(full)).reshape(-1),
                subtract,
                _memory_order(u_all),
                _memory_order(s_all),
            )
            ctx.save_for_backward(u_all, s_all, beta, thresh, bias)
            return s_all
        v = torch.zeros_like(drive[0])
        for m in range(steps):
            u = beta * v
            if 0 < m <= n_drive:
                u = u + drive[m - 1]
            u = u + bias
            u_all[m] = u
            s = (u - thresh > 0).to(drive.dtype)
            s_all[m] = s
            v = u - s * thresh if subtract else u * (1.0 - s)
        ctx.save_for_backward(u_all, s_all, beta, thresh, bias)
        return s_all

    @staticmethod
    def backward(ctx: Any, grad_s: torch.Tensor) -> tuple[Any, ...]:
        from snn.deep.surrogate import SURROGATES

        u_all, s_all, beta, thresh, bias = ctx.saved_tensors
        sigma = SURROGATES.get(ctx.surrogate)
        subtract = ctx.subtract
        steps = grad_s.shape[0]
        g_drive = _empty_steps(grad_s, ctx.n_drive)
        need = ctx.needs_input_grad
        full = grad_s.shape[1:]
        channels = full[-1] if len(full) == 2 else full[1]  # (B, N): per neuron; (B, C, H, W)
        # trained beta and v_thresh are one value per layer, a trained v_bias one per channel
        # (SpikingModule's parametrisation), so the kernel sums their gradients itself
        reduced = (
            (not need[2] or beta.numel() == 1)
            and (not need[3] or thresh.numel() == 1)
            and (not need[4] or bias.numel() == channels)
        )
        if grad_s.device.type == "cpu" and reduced:
            from snn.deep import scan_kernels

            sums = np.zeros(2)
            g_bias_c = np.zeros(channels)
            scan_kernels.lif_backward_reduced(
                _memory_order(grad_s),
                _memory_order(u_all),
                _memory_order(s_all),
                _memory_order(beta.expand(full)).reshape(-1),
                _memory_order(thresh.expand(full)).reshape(-1),
                subtract,
                scan_kernels.SURROGATE_CODES[ctx.surrogate],
                float(ctx.scale),
                channels,
                bool(need[2]),
                bool(need[3]),
                bool(need[4]),
                _memory_order(g_drive),
                sums,
                g_bias_c,
            )
            dtype = grad_s.dtype
            return (
                g_drive,
                None,
                torch.tensor(sums[0], dtype=dtype).reshape(beta.shape) if need[2] else None,
                torch.tensor(sums[1], dtype=dtype).reshape(thresh.shape) if need[3] else None,
                torch.from_numpy(g_bias_c).to(dtype).reshape(bias.shape) if need[4] else None,
                None,
                None,
                None,
            )
        g_v = torch.zeros_like(grad_s[0])
        g_beta = torch.zeros_like(grad_s[0])
        g_thresh = torch.zeros_like(grad_s[0])
        g_bias = torch.zeros_like(grad_s[0])
        for m in range(steps - 1, -1, -1):
            u, s = u_all[m], s_all[m]
            g_spike = grad_s[m] * sigma(u - thresh, ctx.scale)
            g_u = g_spike + (g_v if subtract else g_v * (1.0 - s))
            if 0 < m <= ctx.n_drive:
                g_drive[m - 1] = g_u
            g_bias += g_u
            g_thresh -= g_spike
            if subtract:
                g_thresh -= g_v * s
            if m > 0:
                u_prev, s_prev = u_all[m - 1], s_all[m - 1]
                v_prev = u_prev - s_prev * thresh if subtract else u_prev * (1.0 - s_prev)
                g_beta += g_u * v_prev
            g_v = g_u * beta
        return (
            g_drive,
            None,
            g_beta.sum_to_size(beta.shape) if ctx.needs_input_grad[2] else None,
            g_thresh.sum_to_size(thresh.shape) if ctx.needs_input_grad[3] else None,
            g_bias.sum_to_size(bias.shape) if ctx.needs_input_grad[4] else None,
            None,
            None,
            None,
        )


class _SparseInputConv2d(torch.autograd.Function):
    """Conv2d of event frames (D, batch, C, H, W) over their non-zero entries only (CPU).

    Same result as ``F.conv2d`` up to the order of additions; the frames need no gradient, the
    kernel's gradient is accumulated in float64 over the same non-zero entries. Output
    (D, batch, C_out, H_out, W_out), channels last per frame.
    """

    @staticmethod
    def forward(
        ctx: Any, frames: torch.Tensor, weight: torch.Tensor, stride: int, padding: int
    ) -> torch.Tensor:
        from snn.deep import scan_kernels

        d, b, _, h, w = frames.shape
        c_out, _, k, _ = weight.shape
        h_out = (h + 2 * padding - k) // stride + 1
        w_out = (w + 2 * padding - k) // stride + 1
        out = frames.new_zeros((d, b, h_out, w_out, c_out))
        coords, values = scan_kernels.nonzero_entries(frames.detach().numpy())
        taps = scan_kernels.conv_taps(coords, stride, padding, k, h_out, w_out)
        kernel = weight.detach().permute(1, 2, 3, 0).contiguous().numpy()
        scan_kernels.sparse_conv_forward(coords, values, taps, kernel, out.numpy())
        ctx.events = (coords, values, taps)
        ctx.weight_shape = tuple(weight.shape)
        return out.permute(0, 1, 4, 2, 3)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        from snn.deep import scan_kernels

        c_out, c_in, k, _ = ctx.weight_shape
        g = grad.permute(0, 1, 3, 4, 2).contiguous().numpy()
        gw = np.zeros((c_in, k, k, c_out))
        coords, values, taps = ctx.events
        scan_kernels.sparse_conv_weight_grad(coords, values, taps, g, gw)
        grad_w = torch.from_numpy(gw).permute(3, 0, 1, 2).to(grad.dtype)
        return None, grad_w, None, None


class _FirstSteps(torch.autograd.Function):
    """``x[:k]`` whose gradient keeps ``x``'s memory layout (channels last per step): autograd's
    own slice backward builds a contiguous (NCHW) zero tensor, which then costs two transposing
    copies and a full fill per layer."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, k: int) -> torch.Tensor:
        ctx.k = k
        ctx.shape = x.shape
        ctx.like = x.detach()
        return x[:k]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        out = torch.empty_like(ctx.like)
        out[: ctx.k] = grad
        out[ctx.k :] = 0.0
        ctx.like = None
        return out, None


def _first_steps(x: torch.Tensor, k: int) -> torch.Tensor:
    """The first ``k`` steps of a time-major tensor (see :class:`_FirstSteps`)."""
    if k == x.shape[0] or not x.requires_grad:
        return x[:k]
    return _FirstSteps.apply(x, k)


def _memory_order(t: torch.Tensor) -> np.ndarray:
    """A NumPy view (or copy) of a CPU tensor (..., C, H, W) or (..., n) in the memory order of
    :func:`_empty_steps` (channels last), flattened to (leading, rest)."""
    if t.ndim >= 4:
        t = t.permute(*range(t.ndim - 3), t.ndim - 2, t.ndim - 1, t.ndim - 3)
    t = t.detach().contiguous()
    arr = t.numpy()
    return arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr


def _empty_steps(like: torch.Tensor, steps: int) -> torch.Tensor:
    """An uninitialised (steps, batch, *shape) tensor, channels-last per step for (C, H, W)."""
    shape = like.shape[1:]
    if len(shape) == 4:  # batch, C, H, W
        b, c, h, w = shape
        return like.new_empty((steps, b, h, w, c)).permute(0, 1, 4, 2, 3)
    return like.new_empty((steps, *shape))


def n_parameters(module: nn.Module) -> int:
    """Number of trainable scalars."""
    return int(sum(math.prod(p.shape) for p in module.parameters() if p.requires_grad))
