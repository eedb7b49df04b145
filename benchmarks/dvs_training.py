"""Training step and inference of the DVS spiking CNNs: snn.deep vs snnTorch 1.0 vs Norse 1.1.

Models (:mod:`snn.models.dvs`): ``cordone`` (Cordone et al. 2021, 2x128x128 input, 4 strided
convolutions of LIF neurons with learnable leak and threshold, dense leaky-integrator readout)
and ``csnn`` (NeuroBench's DVS Gesture CSNN, 2x32x32 input, conv -> LIF -> spike max-pool, twice,
then a conv readout). The peers are hand-written ``nn.Module`` s with the same convolution and
linear shapes, the same number of trainable scalars and a copy of our initial weights:

* snnTorch 1.0: ``snn.Leaky`` (``learn_beta``/``learn_threshold`` where we learn ``tau_m`` and
  ``v_thresh``, ``reset_mechanism="subtract"``, ``fast_sigmoid`` surrogate of our slope), the
  readout an ``snn.Leaky(reset_mechanism="none")`` whose membrane is averaged over time; spike
  max-pooling is ``nn.MaxPool2d`` on the spikes (what our pool neurons compute);
* Norse 1.1: ``LIFBoxCell`` (the current-free discrete LIF, ``reset_subtract``, SuperSpike
  surrogate) and ``LIBoxCell`` readout, weights scaled by ``1 / (dt tau_mem_inv)`` so that
  ``v + dt/tau (i - v)`` integrates the same drive as our ``beta v + I``.

Both peers are written the way their tutorials write them: one loop over time steps, each step
running the whole network. Ours (``snn.deep.lower_torch``) runs layer by layer, one batched
convolution over all ``batch x steps`` frames per projection; it pipelines the layers with one
step of delay per projection and so runs ``T + latency`` steps by default, or exactly ``T`` steps
with ``n_steps=T`` (the like-for-like amount of work; both are timed).

Inputs: binary event frames, each pixel active with probability ``--density`` (2 %) independently
per step, batch 8, T = 16 (labels uniform over the 11 classes). The CSNN gets 2x32x32 frames: by
default binary frames of the same 2 % density (``--csnn-input sparse``); ``--csnn-input
downsample`` instead sums 4x4 blocks of the 2x128x128 frames (tonic's ``Downsample(0.25)`` as in
NeuroBench's example: event counts, ~28 % of the pixels non-zero). Initial weights are the
models' fan-in uniform draw scaled by ``--weight-gain`` 4 (not the models' default 2, with which
no spike gets past the first layer of the untrained Cordone network): ~1-3 % of the Cordone
neurons and 1-30 % of the CSNN's spike per step, printed with the inference results.

1. Training: one step = ``zero_grad``, forward, cross-entropy, backward, ``Adam.step``; median wall
   (and thread CPU) seconds over ``--repeats`` round-robin repeats after warm-up, one thread.
   ``ours/snnTorch`` and ``ours/Norse`` are ratios of medians measured in the same run; the target
   is ours <= 0.5 x snnTorch (checked on both the wall and the CPU ratio). Our lowering runs its
   convolutions channels-last; ``--peer-channels-last`` also times the peers in that layout
   (``model.to(memory_format=torch.channels_last)``, frames stored channels-last), rows ``... CL``.
2. Inference: samples/s of the event-driven Numba kernel (``snn.deep`` ``numba`` backend, one
   sample at a time, graph lowered once, JIT excluded) vs dense torch (``torch.no_grad``, our
   lowered module, batch 1 and batch 8), both over ``T + latency`` steps; and the synaptic events
   per sample the kernel processed vs the dense MAC count (synapses x steps).

Run by hand, on a machine as quiet as possible (the load average is printed), e.g.::

    python benchmarks/dvs_training.py
    python benchmarks/dvs_training.py --model cordone --repeats 20
    python benchmarks/dvs_training.py --quick            # smoke run
    python benchmarks/dvs_training.py --model cordone --profile   # torch.profiler of ours
"""

from __future__ import annotations

import os

# one thread, before numpy / numba / torch are imported
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from snn.connectors import Conv2d, Dense, Pool2d  # noqa: E402
from snn.deep import deep_graph, lower_torch  # noqa: E402
from snn.deep.numba_kernel import lower, run_numba  # noqa: E402
from snn.deep.torch_lowering import SpikingModule, n_parameters  # noqa: E402
from snn.models.dvs import DVS_GESTURE_CLASSES, cordone_network, csnn_network  # noqa: E402
from snn.network import Network  # noqa: E402

try:
    import snntorch as snntorch_
    from snntorch import surrogate as snntorch_surrogate
except ImportError:  # pragma: no cover - optional peer
    snntorch_ = None
try:
    import norse.torch as norse_
    from norse.torch.functional.reset import reset_subtract as norse_reset_subtract
except ImportError:  # pragma: no cover - optional peer
    norse_ = None

torch.set_num_threads(1)

#: the issue's target: our training step at most this fraction of snnTorch's
TARGET_RATIO = 0.5
BATCH = 8
N_FRAMES = 16
DENSITY = 0.02
LR = 1e-3
#: initial weights uniform in +-gain/sqrt(fan_in): 4 gives ~1-3 % (Cordone) and 1-30 % (CSNN)
#: spiking per layer on the 2 % inputs; the models' default 2 leaves the deep layers silent
WEIGHT_GAIN = 4.0


# -- the peers: per-time-step networks with the same layers ------------------------------------
@dataclass(frozen=True)
class _Stage:
    """One step of the peer network: a torch layer, optionally followed by spiking neurons."""

    layer: nn.Module
    neurons: bool  # LIF after the layer (else: pooling/flatten or the readout's linear map)
    beta: float = 0.0
    thresh: float = 1.0
    learn: bool = False  # learnable leak and threshold (one scalar each per layer)


def _peer_stages(module: SpikingModule, norse_scale: bool) -> tuple[list[_Stage], float]:
    """The stages of a peer of our lowered ``module``, with our initial weights copied.

    Returns the stages and the readout's beta. ``norse_scale`` divides each layer's weights and
    bias by ``1 - beta`` of the neurons they feed (Norse integrates ``dt/tau (i - v)``).
    """
    graph = module.graph
    stages: list[_Stage] = []
    readout_beta = float(graph.readout.beta.flat[0])
    for layer in graph.layers:
        (proj,) = layer.incoming
        c = proj.connector
        model = layer.population.model
        beta = float(layer.beta.flat[0])
        gain = 1.0 / (1.0 - beta) if norse_scale else 1.0
        learned = getattr(model, "learn", ())
        bias = "v_bias" in learned
        if isinstance(c, Pool2d):
            stages.append(_Stage(nn.MaxPool2d(c.kernel_size, c.step), neurons=False))
            continue
        w = torch.tensor(proj.kernel(), dtype=torch.float32)
        if isinstance(c, Conv2d):
            torch_layer: nn.Module = nn.Conv2d(
                w.shape[1], w.shape[0], c.kernel_size, c.stride, c.padding, bias=bias
            )
        elif isinstance(c, Dense):
            if not stages or not isinstance(stages[-1].layer, nn.Flatten):
                stages.append(_Stage(nn.Flatten(), neurons=False))
            torch_layer = nn.Linear(w.shape[1], w.shape[0], bias=bias)
        else:  # pragma: no cover - the two models use only these
            raise ValueError(f"no peer layer for {c.name}")
        with torch.no_grad():
            torch_layer.weight.copy_(w * gain)
            if bias:
                v_bias = layer.v_bias.reshape(layer.shape)  # per neuron, uniform per channel
                b = v_bias if v_bias.ndim == 1 else v_bias.reshape(v_bias.shape[0], -1)[:, 0]
                torch_layer.bias.copy_(torch.tensor(b * gain, dtype=torch.float32))
        if not layer.spiking:  # the readout: flatten a (C, 1, 1) conv output to logits
            stages.append(_Stage(torch_layer, neurons=False))
            if isinstance(c, Conv2d):
                stages.append(_Stage(nn.Flatten(), neurons=False))
            continue
        stages.append(
            _Stage(
                torch_layer,
                neurons=True,
                beta=beta,
                thresh=float(layer.v_thresh.flat[0]),
                learn="tau_m" in learned and "v_thresh" in learned,
            )
        )
    return stages, readout_beta


class SnnTorchNet(nn.Module):
    """snnTorch: ``snn.Leaky`` layers, a leaky readout averaged over time (tutorial style)."""

    def __init__(self, module: SpikingModule, slope: float) -> None:
        super().__init__()
        assert snntorch_ is not None
        stages, readout_beta = _peer_stages(module, norse_scale=False)
        self.layers = nn.ModuleList(s.layer for s in stages)
        grad = snntorch_surrogate.fast_sigmoid(slope=slope)
        self.lifs = nn.ModuleDict()
        for i, s in enumerate(stages):
            if s.neurons:
                self.lifs[str(i)] = snntorch_.Leaky(
                    beta=s.beta,
                    threshold=s.thresh,
                    learn_beta=s.learn,
                    learn_threshold=s.learn,
                    spike_grad=grad,
                    reset_mechanism="subtract",
                )
        self.readout = snntorch_.Leaky(beta=readout_beta, reset_mechanism="none")

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        mems = {key: lif.reset_mem() for key, lif in self.lifs.items()}
        mem_out = self.readout.reset_mem()
        total = 0.0
        for t in range(frames.shape[1]):
            h = frames[:, t]
            for i, layer in enumerate(self.layers):
                h = layer(h)
                key = str(i)
                if key in self.lifs:
                    h, mems[key] = self.lifs[key](h, mems[key])
            _, mem_out = self.readout(h, mem_out)
            total = total + mem_out
        return total / frames.shape[1]  # type: ignore[return-value]


class NorseNet(nn.Module):
    """Norse: ``LIFBoxCell`` layers (reset by subtraction), ``LIBoxCell`` readout."""

    def __init__(self, module: SpikingModule, dt: float) -> None:
        super().__init__()
        assert norse_ is not None
        stages, readout_beta = _peer_stages(module, norse_scale=True)
        self.layers = nn.ModuleList(s.layer for s in stages)
        self.neuron_params = nn.ParameterList()
        self.cells = nn.ModuleDict()
        for i, s in enumerate(stages):
            if not s.neurons:
                continue
            tau_inv = torch.tensor((1.0 - s.beta) / dt)
            v_th = torch.tensor(s.thresh)
            if s.learn:
                tau_inv, v_th = nn.Parameter(tau_inv), nn.Parameter(v_th)
                self.neuron_params.extend([tau_inv, v_th])
            p = norse_.LIFBoxParameters(
                tau_mem_inv=tau_inv,
                v_th=v_th,
                v_leak=torch.tensor(0.0),
                v_reset=torch.tensor(0.0),
                method="super",
                alpha=torch.tensor(10.0),
                reset_method=norse_reset_subtract,
            )
            self.cells[str(i)] = norse_.LIFBoxCell(p, dt=dt)
        self.readout = norse_.LIBoxCell(
            norse_.LIBoxParameters(tau_mem_inv=torch.tensor((1.0 - readout_beta) / dt)), dt=dt
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        states: dict[str, Any] = dict.fromkeys(self.cells)
        state_out = None
        total = 0.0
        for t in range(frames.shape[1]):
            h = frames[:, t]
            for i, layer in enumerate(self.layers):
                h = layer(h)
                key = str(i)
                if key in self.cells:
                    h, states[key] = self.cells[key](h, states[key])
            v, state_out = self.readout(h, state_out)
            total = total + v
        return total / frames.shape[1]  # type: ignore[return-value]


# -- inputs and timing -------------------------------------------------------------------------
def build(model: str, gain: float) -> Network:
    if model == "cordone":
        return cordone_network(weight_gain=gain)
    return csnn_network(weight_gain=gain)


def make_inputs(
    model: str, density: float, csnn_input: str, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames (BATCH, N_FRAMES, C, H, W) float32 and labels for ``model``."""
    gen = torch.Generator().manual_seed(seed)
    big = (torch.rand((BATCH, N_FRAMES, 2, 128, 128), generator=gen) < density).float()
    if model == "cordone":
        frames = big
    elif csnn_input == "downsample":
        frames = big.reshape(BATCH, N_FRAMES, 2, 32, 4, 32, 4).sum(dim=(4, 6))
    else:
        frames = (torch.rand((BATCH, N_FRAMES, 2, 32, 32), generator=gen) < density).float()
    labels = torch.randint(0, DVS_GESTURE_CLASSES, (BATCH,), generator=gen)
    return frames, labels


def _step_fn(
    model: nn.Module, frames: torch.Tensor, labels: torch.Tensor, **forward: Any
) -> Callable[[], float]:
    opt = torch.optim.Adam(model.parameters(), lr=LR)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        logits = model(frames, **forward)
        loss = F.cross_entropy(logits.reshape(frames.shape[0], -1), labels)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def _n_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def time_round_robin(
    fns: dict[str, Callable[[], Any]], repeats: int, warmup: int
) -> dict[str, tuple[float, float]]:
    """Median (wall, thread CPU) seconds per call, calling the functions in turn each repeat."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    walls: dict[str, list[float]] = {k: [] for k in fns}
    cpus: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            c0, t0 = time.thread_time(), time.perf_counter()
            fn()
            walls[key].append(time.perf_counter() - t0)
            cpus[key].append(time.thread_time() - c0)
    return {k: (statistics.median(walls[k]), statistics.median(cpus[k])) for k in fns}


# -- 1. training --------------------------------------------------------------------------------
def bench_training(model: str, args: argparse.Namespace) -> None:
    net = build(model, args.weight_gain)
    ours = lower_torch(net)
    frames, labels = make_inputs(model, args.density, args.csnn_input, args.seed)
    T, latency = frames.shape[1], ours.graph.latency
    stacks: dict[str, nn.Module] = {}
    stacks[f"ours T+{latency}"] = ours
    stacks["ours T"] = lower_torch(build(model, args.weight_gain))  # own copy: its own Adam state
    if snntorch_ is not None:
        stacks["snnTorch"] = SnnTorchNet(ours, slope=ours.surrogate_scale)
    if norse_ is not None:
        stacks["Norse"] = NorseNet(ours, dt=ours.dt)
    if args.peer_channels_last:  # the peers' convolutions in oneDNN's fast layout too
        for key in [k for k in stacks if not k.startswith("ours")]:
            peer = (
                SnnTorchNet(ours, ours.surrogate_scale)
                if key == "snnTorch"
                else NorseNet(ours, ours.dt)
            )
            stacks[f"{key} CL"] = peer.to(memory_format=torch.channels_last)
    # (B, T, C, H, W) with C fastest: every frames[:, t] is a channels-last NCHW view
    frames_cl = frames.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
    fns = {}
    for key, m in stacks.items():
        forward = {"n_steps": T} if key == "ours T" else {}
        x = frames_cl if key.endswith(" CL") else frames
        fns[key] = _step_fn(m, x, labels, **forward)
    shape = "x".join(map(str, frames.shape[2:]))
    active = float((frames != 0).float().mean())
    print(
        f"\n[{model}] training step: batch {BATCH}, T = {T}, input {shape} "
        f"({100 * active:.1f} % non-zero), Adam, 1 thread, median of {args.repeats}"
    )
    times = time_round_robin(fns, args.repeats, args.warmup)
    ref_params = n_parameters(ours)
    peers = [k for k in ("snnTorch", "Norse") if k in times]
    head = f"{'stack':12} {'steps':>5} {'params':>7} {'wall ms':>9} {'cpu ms':>9}"
    head += "".join(f" {'/' + p:>10}" for p in peers)
    print(head)
    for key, (wall, cpu) in times.items():
        n = _n_params(stacks[key])
        steps = T + latency if key.startswith(f"ours T+{latency}") else T
        row = f"{key:12} {steps:5d} {n:7d} {1e3 * wall:9.1f} {1e3 * cpu:9.1f}"
        row += "".join(f" {wall / times[p][0]:10.2f}" for p in peers)
        flag = "" if n == ref_params else f"  (!= ours: {ref_params})"
        print(row + flag, flush=True)
    for peer in (p for p in ("snnTorch", "snnTorch CL") if p in times):
        for key in (f"ours T+{latency}", "ours T"):
            ratio = times[key][0] / times[peer][0]
            cpu_ratio = times[key][1] / times[peer][1]
            verdict = "met" if max(ratio, cpu_ratio) <= TARGET_RATIO else "NOT met"
            print(
                f"target {key}/{peer} <= {TARGET_RATIO}: wall {ratio:.2f}, cpu {cpu_ratio:.2f} "
                f"-> {verdict}"
            )
    if snntorch_ is None or norse_ is None:
        print("(snnTorch or Norse not installed: that peer is skipped)")


# -- 2. inference -------------------------------------------------------------------------------
def bench_inference(model: str, args: argparse.Namespace) -> None:
    net = build(model, args.weight_gain)
    graph = deep_graph(net)
    module = lower_torch(net).eval()
    frames, _ = make_inputs(model, args.density, args.csnn_input, args.seed + 1)
    samples = [frames[i].double().numpy() for i in range(frames.shape[0])]
    low = lower(graph)
    warm = run_numba(graph, samples[0], lowered=low)  # JIT (or cache load), not timed
    steps = warm.n_steps
    events = statistics.mean(
        sum(run_numba(graph, x, lowered=low).synaptic_events.values()) for x in samples
    )
    dense_macs = sum(p.size for p in graph.projections) * steps

    def numba_all() -> None:
        for x in samples:
            run_numba(graph, x, lowered=low)

    def torch_b1() -> None:
        with torch.no_grad():
            for i in range(frames.shape[0]):
                module(frames[i : i + 1])

    def torch_b8() -> None:
        with torch.no_grad():
            module(frames)

    # sanity: both executors compute the same network (float64 torch: the same spikes)
    with torch.no_grad():
        ref = lower_torch(net, dtype=torch.float64)(frames[:1].double()).reshape(-1).numpy()
    err = float(np.abs(warm.logits - ref).max())
    times = time_round_robin(
        {"numba": numba_all, "torch b1": torch_b1, "torch b8": torch_b8},
        max(3, args.repeats // 2),
        1,
    )
    n = len(samples)
    print(
        f"\n[{model}] inference: {n} samples of T = {frames.shape[1]} (+{graph.latency} latency "
        f"= {steps} steps), one thread"
    )
    print(f"{'executor':10} {'samples/s':>10} {'ms/sample':>10} {'numba/x':>8}")
    numba_rate = n / times["numba"][0]
    for key, (wall, _) in times.items():
        rate = n / wall
        print(f"{key:10} {rate:10.1f} {1e3 / rate:10.2f} {numba_rate / rate:8.2f}")
    rates = ", ".join(f"{k} {100 * v.mean():.1f}" for k, v in warm.spikes.items())
    print(f"spike rates (% of neurons per step, sample 0): {rates}")
    print(
        f"synaptic events/sample (numba): {events:.3g}; dense MACs/sample (synapses x steps): "
        f"{dense_macs:.3g}; events/MACs = {events / dense_macs:.2%}; "
        f"max |numba - torch float64| logit: {err:.1e}"
    )


# -- profile ------------------------------------------------------------------------------------
def profile_training(model: str, args: argparse.Namespace) -> None:
    from torch.profiler import ProfilerActivity, profile

    ours = lower_torch(build(model, args.weight_gain))
    frames, labels = make_inputs(model, args.density, args.csnn_input, args.seed)
    step = _step_fn(ours, frames, labels)
    for _ in range(2):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            step()
    print(f"\n[{model}] torch.profiler of our training step (3 steps, self CPU time)")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="both", choices=["cordone", "csnn", "both"])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="3 repeats, 1 warm-up: a smoke run")
    ap.add_argument("--density", type=float, default=DENSITY, help="active fraction of pixels")
    ap.add_argument("--csnn-input", default="sparse", choices=["sparse", "downsample"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weight-gain", type=float, default=WEIGHT_GAIN, help="initial weight scale")
    ap.add_argument("--no-inference", action="store_true")
    ap.add_argument("--peer-channels-last", action="store_true",
                    help="also time the peers with channels-last weights and frames")  # fmt: skip
    ap.add_argument("--profile", action="store_true", help="also torch.profiler our step")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.warmup = 3, 1
    if args.repeats < 1 or args.warmup < 0 or not 0 < args.density <= 1:
        ap.error("--repeats must be >= 1, --warmup >= 0 and 0 < --density <= 1")
    models = ["cordone", "csnn"] if args.model == "both" else [args.model]
    print(
        f"load average at start: {os.getloadavg()}; torch {torch.__version__} "
        f"({torch.get_num_threads()} thread), snnTorch "
        f"{getattr(snntorch_, '__version__', 'absent')}, Norse "
        f"{getattr(__import__('norse') if norse_ else None, '__version__', 'absent')}"
    )
    t0 = time.perf_counter()
    for model in models:
        bench_training(model, args)
        if not args.no_inference:
            bench_inference(model, args)
        if args.profile:
            profile_training(model, args)
    print(f"\nload average at end: {os.getloadavg()}; total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
