"""The spiking CA3 content-addressable memory of Casanueva-Morato et al. (Neural Networks 2024).

"Bio-inspired computational memory model of the Hippocampus: an approach to a neuromorphic
spike-based Content-Addressable Memory" (arXiv 2310.05868). A memory of ``cue_size`` one-hot cues,
each storing a ``content_size``-bit content, in ten populations of ``IF_curr_exp`` neurons and 18
projections, two of them plastic (pair STDP, additive). It learns in one shot, forgets by
overwriting, recalls a content from its cue and every cue whose content holds at least one of the
given bits. Its authors ran it on a SpiNNaker board; :func:`ca3_memory` builds it with
``semantics="spinnaker"`` and the authors' parameters (``network_config.json`` of
``conformance/ca3_cam_spinnaker``, converted to SI units), which reproduces their recorded spikes.

Populations (``c = cue_size``, ``n = content_size``): ``IL`` (``c + n`` input sources, cue then
content), ``CA3cueCueRecall`` (c), ``CA3cueContRecall`` (c), ``CA3contCueRecall`` (n),
``CA3contContRecall`` (n), ``CA3contCond`` (n), ``CA3contCondInt`` (1), ``CA3mergeCue`` (c),
``CA3mergeCont`` (n), ``OL`` (``c + n`` outputs). :class:`CA3Memory` schedules operations with the
protocol timings and decodes ``OL``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from snn.connectors import AllToAll, Connector, FromList, OneToOne
from snn.network import Network, Population, PopulationView
from snn.neurons import IF_curr_exp, SpikeSourceArray
from snn.plasticity import STDP
from snn.recording import Recording

NA = 1e-9  # A per nA
MS = 1e-3  # s per ms
MV = 1e-3  # V per mV


@dataclass(frozen=True)
class CA3Parameters:
    """The authors' parameters (``network_config.json``), in SI units.

    "slow" populations: ``CA3cueCueRecall``, ``CA3contCueRecall``, ``CA3contContRecall``, the two
    merge populations and ``OL``; "fast": ``CA3cueContRecall``, ``CA3contCond``,
    ``CA3contCondInt``. ``OL`` fires at ``v_thresh_output``.
    """

    cm_slow: float = 0.27 * NA  # F (0.27 nF)
    tau_m_slow: float = 3.0 * MS  # s
    cm_fast: float = 0.14 * NA  # F
    tau_m_fast: float = 0.5 * MS  # s
    tau_refrac: float = 1.0 * MS  # s
    tau_syn_E: float = 0.3 * MS  # s
    tau_syn_I: float = 0.3 * MS  # s
    v_rest: float = -60.0 * MV  # V
    v_reset: float = -60.0 * MV  # V
    v_thresh: float = -57.0 * MV  # V
    v_thresh_output: float = -57.5 * MV  # V
    i_offset: float = 0.0  # A
    v_init: float = -60.0 * MV  # V
    #: the drive weight of most excitatory projections (A)
    w_drive: float = 6.0 * NA
    #: CA3contCueRecall -> CA3contCond (A)
    w_content_to_cond: float = 9.0 * NA
    #: CA3contCondInt -> CA3contCond (A)
    w_cond_int: float = 2.0 * NA
    #: CA3cueCueRecall -> CA3contCond, inhibitory (A)
    w_cue_inhibits_cond: float = 6.0 * NA
    #: lateral inhibition of CA3cueContRecall, per content bit (A; multiplied by content_size)
    w_lateral_inhibition_per_bit: float = 6.0 * NA
    #: STDP (pair rule, additive): time constants (s), amplitudes and bounds (A)
    tau_plus: float = 3.0 * MS
    tau_minus: float = 3.0 * MS
    A_plus: float = 6.0 * NA
    A_minus: float = 6.0 * NA
    w_min: float = 0.0
    w_max: float = 6.0 * NA

    def neuron(self, kind: Literal["slow", "fast", "output"]) -> IF_curr_exp:
        """The ``IF_curr_exp`` model of a slow, fast or output population."""
        cm, tau_m = (
            (self.cm_fast, self.tau_m_fast)
            if kind == "fast"
            else (
                self.cm_slow,
                self.tau_m_slow,
            )
        )
        return IF_curr_exp(
            cm=cm,
            tau_m=tau_m,
            tau_refrac=self.tau_refrac,
            tau_syn_E=self.tau_syn_E,
            tau_syn_I=self.tau_syn_I,
            v_rest=self.v_rest,
            v_reset=self.v_reset,
            v_thresh=self.v_thresh_output if kind == "output" else self.v_thresh,
            i_offset=self.i_offset,
        )

    def stdp(self) -> STDP:
        return STDP(
            "additive",
            tau_plus=self.tau_plus,
            tau_minus=self.tau_minus,
            A_plus=self.A_plus,
            A_minus=self.A_minus,
            w_min=self.w_min,
            w_max=self.w_max,
        )


#: (population label, kind, size as "cue", "content" or "one") in the README's order
POPULATIONS: tuple[tuple[str, Literal["slow", "fast"], str], ...] = (
    ("CA3cueCueRecall", "slow", "cue"),
    ("CA3cueContRecall", "fast", "cue"),
    ("CA3contCueRecall", "slow", "content"),
    ("CA3contContRecall", "slow", "content"),
    ("CA3contCond", "fast", "content"),
    ("CA3contCondInt", "fast", "one"),
    ("CA3mergeCue", "slow", "cue"),
    ("CA3mergeCont", "slow", "content"),
)

#: recorder label -> (population label, "cue"/"content" half of IL/OL or None for all)
RECORDERS: dict[str, tuple[str, str | None]] = {
    "INcue": ("IL", "cue"),
    "INcont": ("IL", "content"),
    "CA3cueCueRecall": ("CA3cueCueRecall", None),
    "CA3contCueRecall": ("CA3contCueRecall", None),
    "CA3contCond": ("CA3contCond", None),
    "CA3contCondInt": ("CA3contCondInt", None),
    "CA3cueContRecall": ("CA3cueContRecall", None),
    "CA3contContRecall": ("CA3contContRecall", None),
    "CA3MergeCue": ("CA3mergeCue", None),
    "CA3MergeCont": ("CA3mergeCont", None),
    "OUTcue": ("OL", "cue"),
    "OUTcont": ("OL", "content"),
}


_ProjectionRow = tuple[
    str,
    Population | PopulationView,
    Population | PopulationView,
    Connector,
    str,
    float,
    int,
    STDP | None,
]


def ca3_memory(
    cue_size: int,
    content_size: int,
    cue_spikes: Sequence[Sequence[float]] | None = None,
    content_spikes: Sequence[Sequence[float]] | None = None,
    params: CA3Parameters | None = None,
    seed: int = 0,
    record: bool = True,
    record_weights: bool = False,
) -> Network:
    """Build the CA3 memory as a frontend network (dt = 1 ms, ``semantics="spinnaker"``).

    ``cue_spikes[i]`` / ``content_spikes[j]``: spike times (s) of cue input ``i`` and content
    input ``j`` (default: none). With ``record``, every population's spikes are recorded under the
    labels of the hardware tables (:data:`RECORDERS`); ``record_weights`` also records the two
    plastic projections (``"cue_to_content"``, ``"content_to_cue"``).
    """
    c = _positive_int("cue_size", cue_size)
    n = _positive_int("content_size", content_size)
    p = params if params is not None else CA3Parameters()
    trains = _input_trains("cue_spikes", cue_spikes, c) + _input_trains(
        "content_spikes", content_spikes, n
    )
    net = Network(dt=1.0 * MS, seed=seed, semantics="spinnaker")
    il = net.population(c + n, SpikeSourceArray(trains), label="IL")
    sizes = {"cue": c, "content": n, "one": 1}
    pops: dict[str, Population] = {"IL": il}
    for label, kind, size in POPULATIONS:
        pops[label] = net.population(
            sizes[size], p.neuron(kind), label=label, initial={"v": p.v_init}
        )
    pops["OL"] = net.population(c + n, p.neuron("output"), label="OL", initial={"v": p.v_init})

    cue_cue, cue_cont = pops["CA3cueCueRecall"], pops["CA3cueContRecall"]
    cont_cue, cont_cont = pops["CA3contCueRecall"], pops["CA3contContRecall"]
    cond, cond_int = pops["CA3contCond"], pops["CA3contCondInt"]
    merge_cue, merge_cont, ol = pops["CA3mergeCue"], pops["CA3mergeCont"], pops["OL"]
    one, all_, no_self = OneToOne(), AllToAll(), AllToAll(allow_self_connections=False)
    # "all-to-all, no self" between two populations of cues: neuron i reaches every j != i. PyNN's
    # allow_self_connections=False only drops i -> i within one population, so list the pairs;
    # with i -> i the inhibition (6 n nA) would silence the learning cue's own second
    # CA3cueContRecall spike for content_size >~ 10 and content-to-cue learning would fail.
    # (as an array: a list of c (c - 1) tuples costs ~120 B each, 3 GB at c = 5000)
    other_cues = FromList(np.argwhere(~np.eye(c, dtype=bool)))
    w, inh = p.w_drive, p.w_lateral_inhibition_per_bit * n
    stdp = p.stdp()
    exc, inhib = "excitatory", "inhibitory"
    # the README's 18 projections, in its order
    rows: list[_ProjectionRow] = [
        # label, pre, post, connector, receptor, weight (A), delay (ms), plasticity
        ("IL_cue", il[0:c], cue_cue, one, exc, w, 1, None),
        ("IL_content", il[c:], cont_cue, one, exc, w, 1, None),
        ("cue_to_cue_content", cue_cue, cue_cont, one, exc, w, 2, None),
        ("cue_inhibits_other_cues", cue_cue, cue_cont, other_cues, inhib, inh, 3, None),
        ("cue_inhibits_cond", cue_cue, cond, all_, inhib, p.w_cue_inhibits_cond, 2, None),
        ("content_to_cond", cont_cue, cond, one, exc, p.w_content_to_cond, 1, None),
        ("cond_to_content_recall", cond, cont_cont, one, exc, w, 1, None),
        ("content_to_cond_int", cont_cue, cond_int, all_, exc, w, 1, None),
        ("cond_int_to_cond", cond_int, cond, all_, exc, p.w_cond_int, 1, None),
        ("cue_to_content", cue_cue, cont_cue, all_, exc, 0.0, 1, stdp),
        ("content_to_cue", cont_cont, cue_cont, all_, exc, 0.0, 1, stdp),
        ("cue_content_lateral_inhibition", cue_cont, cue_cont, no_self, inhib, inh, 2, None),
        ("cue_to_merge_cue", cue_cue, merge_cue, one, exc, w, 3, None),
        ("cue_content_to_merge_cue", cue_cont, merge_cue, one, exc, w, 1, None),
        ("content_cue_to_merge_content", cont_cue, merge_cont, one, exc, w, 3, None),
        ("content_recall_to_merge_content", cont_cont, merge_cont, one, exc, w, 1, None),
        ("merge_cue_to_output", merge_cue, ol[0:c], one, exc, w, 1, None),
        ("merge_content_to_output", merge_cont, ol[c:], one, exc, w, 1, None),
    ]
    for label, pre, post, conn, receptor, weight, delay_ms, rule in rows:
        proj = net.connect(
            pre, post, conn, weight, delay_ms * MS, receptor, plasticity=rule, label=label
        )
        if rule is not None and record_weights:
            net.record(proj, "weights")

    if record:
        for rec_label, (pop_label, half) in RECORDERS.items():
            pop = pops[pop_label]
            target = pop if half is None else (pop[0:c] if half == "cue" else pop[c:])
            net.record(target, "spikes", label=rec_label)
    return net


# -- the memory API ------------------------------------------------------------------------------
OperationKind = Literal["learn", "recall_by_cue", "recall_by_content", "consolidate"]
#: the operations a user asks for ("consolidate" is the memory's own follow-up of a learn)
OPERATIONS = ("learn", "recall_by_cue", "recall_by_content")

#: the protocol's shortest time (ms) from the start of a presentation to the start of the next:
#: a learn presents cue and content on 3 consecutive ms and needs 7 ms in all, a recall 6 ms;
#: a consolidation presents cue and content on one ms and is given a learn's 7 ms
MIN_INTERVAL_MS: dict[str, int] = {
    "learn": 7,
    "recall_by_cue": 6,
    "recall_by_content": 6,
    "consolidate": 7,
}
#: default spacing of presentations (ms): the authors' stress test (exp2) spacing. Closer
#: presentations interact through STDP (the pair window is 24 steps at tau = 3 ms) and corrupt
#: associations in long random sequences (measured: 10 ms fails, 14 ms passes)
DEFAULT_INTERVAL_MS = 14
#: ms from a presentation's first input spike to its first output spike (OL)
OUTPUT_LATENCY_MS = 5
#: ms simulated after the last presentation starts, so that all its outputs are seen
TAIL_MS = 12
#: consecutive ms on which a learn presents its cue and content
LEARN_SPIKES = 3


@dataclass(frozen=True)
class Operation:
    """One memory operation: ``kind``, the cue (learn, recall by cue) and content bits."""

    kind: OperationKind
    cue: int | None = None
    content: tuple[int, ...] = ()


def random_operations(rng: random.Random, cues: int, bits: int, count: int) -> list[Operation]:
    """A random workload: learns (40 %, half of them overwrite a cue already learned), recalls
    by cue (30 %) and recalls by content of 1-3 bits (30 %), for ``cues`` x ``bits`` memories."""
    cues, bits = _positive_int("cues", cues), _positive_int("bits", bits)
    ops: list[Operation] = []
    learned: list[int] = []
    for _ in range(count):
        r = rng.random()
        if r < 0.4:
            cue = rng.choice(learned) if learned and rng.random() < 0.5 else rng.randrange(cues)
            content = tuple(sorted(rng.sample(range(bits), rng.randint(1, bits))))
            ops.append(Operation("learn", cue, content))
            learned.append(cue)
        elif r < 0.7:
            ops.append(Operation("recall_by_cue", rng.randrange(cues)))
        else:
            fragment = rng.sample(range(bits), rng.randint(1, min(3, bits)))
            ops.append(Operation("recall_by_content", None, tuple(sorted(fragment))))
    return ops


@dataclass(frozen=True)
class Presentation:
    """Input spikes of one protocol step: ``operation`` presented from ``start_ms`` on.

    ``owner`` is the index of the user operation it belongs to (in :attr:`CA3Memory.operations`).
    """

    operation: Operation
    start_ms: int
    owner: int


@dataclass(frozen=True)
class OperationResult:
    """A user operation, the ms its first presentation starts, and the decoded output.

    ``cues``/``content``: output neurons (OUTcue / OUTcont) that spiked in the output windows
    ``[start + 5, next start + 5)`` ms of the operation's presentations. For a recall by cue the
    answer is ``content``; for a recall by content it is ``cues``.
    """

    operation: Operation
    start_ms: int
    cues: tuple[int, ...]
    content: tuple[int, ...]


@dataclass
class CA3Memory:
    """A CA3 content-addressable memory driven by operations, with the protocol's timings.

    Operations are queued; a recall (or :meth:`run`) simulates every presentation so far from an
    empty memory (a run is a pure function of the network) and decodes the outputs. Give several
    operations to :meth:`run` to simulate them in one go, which is much cheaper than one call each.

    The network is the authors' (on the SpiNNaker semantics), and two facts of sPyNNaker's STDP
    shape how it is driven so that it behaves as a memory over long random sequences:

    * ``consolidate`` (default on): a weight changes only at its presynaptic neuron's next spike,
      from a history of the last 15 postsynaptic spikes, and a learn ends with its associations
      still pending in those histories (the last pre and post spikes of a learn coincide). An
      association whose presynaptic neuron then stays silent while its target fires 15 or more
      times is lost, and with it the memory. A learn is therefore followed, ``interval_ms`` later,
      by its cue and content presented once more on a single ms: the cue's neurons and its
      content's neurons fire once, which writes both directions of the association (about 5.7 nA
      of 6) while the other cues are held off by the cue's inhibition, so nothing else is
      potentiated.
    * ``split_content_recall`` (default on): a recall by content presents its bits one at a time
      and returns the union. Presenting several bits together potentiates every presented bit onto
      every answering cue (Hebbian crosstalk), and the sub-threshold residue an overwrite leaves
      on a forgotten association (about 3.1 nA of 6) can then add up above threshold.

    With both off, each operation is one presentation, as in the authors' experiments. Measured
    on 10 random sequences of 60 operations (up to 16 x 16, 358 recalls, 14 ms spacing): both on,
    0 wrong answers; consolidation only, 64; splitting only, 21; neither, 84. Spacing below 14 ms
    lets consecutive presentations interact through STDP (10 ms: 13 wrong of 241).

    >>> mem = CA3Memory(cue_size=4, content_size=6)
    >>> mem.learn(1, [0, 3])
    >>> mem.recall_by_cue(1)
    (0, 3)
    >>> mem.recall_by_content([3, 5])
    (1,)
    """

    cue_size: int
    content_size: int
    params: CA3Parameters = field(default_factory=CA3Parameters)
    backend: str = "numpy"
    interval_ms: int = DEFAULT_INTERVAL_MS
    consolidate: bool = True
    split_content_recall: bool = True
    operations: list[Operation] = field(default_factory=list, init=False)
    presentations: list[Presentation] = field(default_factory=list, init=False)
    _results: list[OperationResult] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        _positive_int("cue_size", self.cue_size)
        _positive_int("content_size", self.content_size)
        longest = max(MIN_INTERVAL_MS.values())
        if (
            isinstance(self.interval_ms, bool)
            or not isinstance(self.interval_ms, int | np.integer)
            or self.interval_ms < longest
        ):
            raise ValueError(
                f"interval_ms must be a whole number of ms >= {longest} (the protocol's learn "
                f"period), got {self.interval_ms!r}"
            )

    # -- operations ---------------------------------------------------------------------------
    def learn(self, cue: int, content_bits: Iterable[int], at_ms: int | None = None) -> None:
        """Store ``content_bits`` under ``cue``, replacing (forgetting) what it held."""
        self._schedule(self.make_learn(cue, content_bits), at_ms)

    def recall_by_cue(self, cue: int, at_ms: int | None = None) -> tuple[int, ...]:
        """The content bits stored under ``cue`` (empty if none)."""
        self._schedule(self.make_recall_by_cue(cue), at_ms)
        return self._flush()[-1].content

    def recall_by_content(self, bits: Iterable[int], at_ms: int | None = None) -> tuple[int, ...]:
        """Every cue whose stored content holds at least one of ``bits``."""
        self._schedule(self.make_recall_by_content(bits), at_ms)
        return self._flush()[-1].cues

    def run(self, operations: Sequence[Operation]) -> list[OperationResult]:
        """Schedule ``operations`` at ``interval_ms`` spacing, simulate once, decode each."""
        ops = []
        for op in operations:
            if not isinstance(op, Operation):
                raise ValueError(f"run: expected Operation objects, got {op!r}")
            ops.append(self._check(op))
        for op in ops:
            self._schedule(op, None)
        return self._flush()[len(self.operations) - len(ops) :] if ops else []

    def make_learn(self, cue: int, content_bits: Iterable[int]) -> Operation:
        return self._check(Operation("learn", cue, _bits(content_bits)))

    def make_recall_by_cue(self, cue: int) -> Operation:
        return self._check(Operation("recall_by_cue", cue))

    def make_recall_by_content(self, bits: Iterable[int]) -> Operation:
        return self._check(Operation("recall_by_content", None, _bits(bits)))

    # -- inputs and decoding ------------------------------------------------------------------
    def input_spikes_ms(self) -> tuple[list[list[int]], list[list[int]]]:
        """Spike times (ms) of every cue and content input neuron for all presentations."""
        cue: list[list[int]] = [[] for _ in range(self.cue_size)]
        content: list[list[int]] = [[] for _ in range(self.content_size)]
        for p in self.presentations:
            op = p.operation
            steps = range(p.start_ms, p.start_ms + (LEARN_SPIKES if op.kind == "learn" else 1))
            if op.cue is not None:
                cue[op.cue].extend(steps)
            for bit in op.content:
                content[bit].extend(steps)
        return cue, content

    def network(self) -> Network:
        """The CA3 network with every presentation so far as input."""
        cue, content = self.input_spikes_ms()
        return ca3_memory(
            self.cue_size,
            self.content_size,
            [[t * MS for t in ts] for ts in cue],
            [[t * MS for t in ts] for ts in content],
            params=self.params,
        )

    def _flush(self) -> list[OperationResult]:
        if len(self._results) == len(self.operations):
            return list(self._results)
        duration_ms = self.presentations[-1].start_ms + TAIL_MS
        recording = self.network().run(duration_ms * MS, backend=self.backend)
        out_cue = _spike_steps(recording, "OUTcue", 0)
        out_cont = _spike_steps(recording, "OUTcont", self.cue_size)
        cues: list[set[int]] = [set() for _ in self.operations]
        content: list[set[int]] = [set() for _ in self.operations]
        starts: dict[int, int] = {}
        for k, p in enumerate(self.presentations):
            lo = p.start_ms + OUTPUT_LATENCY_MS
            hi = (
                self.presentations[k + 1].start_ms + OUTPUT_LATENCY_MS
                if k + 1 < len(self.presentations)
                else duration_ms
            )
            starts.setdefault(p.owner, p.start_ms)
            cues[p.owner].update(_ids_between(out_cue, lo, hi))
            content[p.owner].update(_ids_between(out_cont, lo, hi))
        self._results = [
            OperationResult(op, starts[k], tuple(sorted(cues[k])), tuple(sorted(content[k])))
            for k, op in enumerate(self.operations)
        ]
        return list(self._results)

    def _schedule(self, op: Operation, at_ms: int | None) -> None:
        owner = len(self.operations)
        steps = [op]
        if op.kind == "learn" and self.consolidate:
            steps.append(Operation("consolidate", op.cue, op.content))
        elif op.kind == "recall_by_content" and self.split_content_recall:
            steps = [Operation("recall_by_content", None, (b,)) for b in op.content]
        first = self._start(steps[0], at_ms)
        self.operations.append(op)
        self.presentations.append(Presentation(steps[0], first, owner))
        for step in steps[1:]:
            self.presentations.append(Presentation(step, self._start(step, None), owner))

    def _start(self, op: Operation, at_ms: int | None) -> int:
        """Start (ms) of the next presentation: ``at_ms`` if the protocol allows it."""
        if not self.presentations:
            if at_ms is None:
                return 0
            start = _whole_ms(at_ms)
            if start < 0:
                raise ValueError(f"at_ms must be >= 0, got {start}")
            return start
        prev = self.presentations[-1]
        if at_ms is None:
            return prev.start_ms + self.interval_ms
        start = _whole_ms(at_ms)
        limit = MIN_INTERVAL_MS[prev.operation.kind]
        if start - prev.start_ms < limit:
            raise ValueError(
                f"{op.kind} at {start} ms would start {start - prev.start_ms} ms after the "
                f"{prev.operation.kind} presented at {prev.start_ms} ms; the protocol needs at "
                f"least {limit} ms after a {prev.operation.kind} (earliest: "
                f"{prev.start_ms + limit} ms)"
            )
        return start

    def _check(self, op: Operation) -> Operation:
        if op.kind not in MIN_INTERVAL_MS:
            raise ValueError(f"unknown operation {op.kind!r}; valid: {', '.join(MIN_INTERVAL_MS)}")
        if op.kind in ("learn", "recall_by_cue"):
            cue = op.cue
            if isinstance(cue, bool) or not isinstance(cue, int | np.integer):
                raise ValueError(f"{op.kind}: the cue must be an integer, got {cue!r}")
            if not 0 <= cue < self.cue_size:
                raise ValueError(
                    f"{op.kind}: cue {cue} is out of range for cue_size {self.cue_size} "
                    f"(valid: 0..{self.cue_size - 1})"
                )
        elif op.cue is not None:
            raise ValueError("recall_by_content takes content bits, not a cue")
        if op.kind == "recall_by_cue" and op.content:
            raise ValueError("recall_by_cue takes a cue, not content bits")
        if len(op.content) > self.content_size:
            raise ValueError(
                f"{op.kind}: {len(op.content)} content bits given, more than content_size "
                f"{self.content_size}"
            )
        for bit in op.content:
            if not 0 <= bit < self.content_size:
                raise ValueError(
                    f"{op.kind}: content bit {bit} is out of range for content_size "
                    f"{self.content_size} (valid: 0..{self.content_size - 1})"
                )
        if len(set(op.content)) != len(op.content):
            raise ValueError(f"{op.kind}: content bits must be distinct, got {list(op.content)}")
        if op.kind == "learn" and not op.content:
            raise ValueError("learn: give at least one content bit (a cue needs a content)")
        if op.kind == "recall_by_content" and not op.content:
            raise ValueError("recall_by_content: give at least one content bit")
        return replace(op, content=tuple(sorted(int(b) for b in op.content)))


def _whole_ms(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"at_ms must be a whole number of ms, got {value!r}")
    return int(value)


def _bits(values: Iterable[int]) -> tuple[int, ...]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise ValueError(f"content bits must be integers, got {v!r}")
        out.append(int(v))
    return tuple(out)


def _spike_steps(recording: Recording, label: str, offset: int) -> list[tuple[int, int]]:
    sp = recording.spikes[label]
    steps = np.rint(sp.times / recording.dt).astype(np.int64)
    return [(int(t), int(i) - offset) for t, i in zip(steps, sp.ids, strict=True)]


def _ids_between(spikes: list[tuple[int, int]], lo: int, hi: int) -> tuple[int, ...]:
    return tuple(sorted({i for t, i in spikes if lo <= t < hi}))


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _input_trains(
    name: str, spikes: Sequence[Sequence[float]] | None, size: int
) -> list[list[float]]:
    if spikes is None:
        return [[] for _ in range(size)]
    trains = [list(map(float, ts)) for ts in spikes]
    if len(trains) != size:
        raise ValueError(f"{name} has {len(trains)} spike trains, expected one per neuron ({size})")
    return trains
