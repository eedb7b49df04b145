"""The CA3 memory API against a plain-Python model of a content-addressable memory.

The model: learning ``content`` under ``cue`` replaces what the cue held; recall by cue returns the
last content learned for the cue; recall by content returns every cue whose current content holds
at least one of the given bits. Random sequences of learn / overwrite / recall operations, for
memories up to 16 cues x 16 content bits, each simulated as one batch on the NumPy reference with
the SpiNNaker semantics; independent of the hardware tables.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from snn.models.ca3 import CA3Memory, Operation, random_operations

DATA = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "ca3_cam_spinnaker"


class PlainMemory:
    """The semantics, in plain Python."""

    def __init__(self) -> None:
        self.store: dict[int, set[int]] = {}

    def apply(self, op: Operation) -> tuple[int, ...] | None:
        if op.kind == "learn":
            assert op.cue is not None
            self.store[op.cue] = set(op.content)
            return None
        if op.kind == "recall_by_cue":
            assert op.cue is not None
            return tuple(sorted(self.store.get(op.cue, set())))
        return tuple(sorted(c for c, bits in self.store.items() if bits & set(op.content)))


@pytest.mark.parametrize(
    ("seed", "cues", "bits"),
    [
        (0, 16, 16),
        (1, 5, 10),
        (2, 16, 6),
        (3, 3, 16),
        (4, 12, 13),
        (5, 1, 4),
        (6, 16, 16),
        (7, 8, 2),
    ],
)
def test_random_sequences_follow_the_plain_model(seed: int, cues: int, bits: int) -> None:
    rng = random.Random(seed)
    ops = random_operations(rng, cues, bits, 60)
    results = CA3Memory(cues, bits).run(ops)
    plain = PlainMemory()
    for k, (op, result) in enumerate(zip(ops, results, strict=True)):
        expected = plain.apply(op)
        if expected is None:
            continue
        got = result.content if op.kind == "recall_by_cue" else result.cues
        assert got == expected, f"operation {k} {op} at {result.start_ms} ms"


def test_single_calls_learn_overwrite_and_recall() -> None:
    mem = CA3Memory(cue_size=4, content_size=6)
    mem.learn(1, [0, 3])
    mem.learn(2, [3, 5])
    assert mem.recall_by_cue(1) == (0, 3)
    assert mem.recall_by_content([3]) == (1, 2)
    mem.learn(1, [4])  # overwrite: cue 1 forgets 0 and 3
    assert mem.recall_by_cue(1) == (4,)
    assert mem.recall_by_content([0, 3]) == (2,)
    assert mem.recall_by_content([4, 5]) == (1, 2)
    assert mem.recall_by_cue(0) == ()
    # earlier answers are decoded again from the whole history and do not change
    results = mem.run([])
    assert results == [] and len(mem.operations) == 9


def test_presentations_follow_the_protocol_timings() -> None:
    mem = CA3Memory(cue_size=3, content_size=4, interval_ms=14)
    mem.learn(0, [1, 2])
    mem.recall_by_content([2, 1])
    # the learn (cue and content together on 3 consecutive ms), its consolidation (both once
    # more, on one ms), then one presentation per bit of the recall, 14 ms apart
    assert [(p.operation.kind, p.start_ms, p.owner) for p in mem.presentations] == [
        ("learn", 0, 0),
        ("consolidate", 14, 0),
        ("recall_by_content", 28, 1),
        ("recall_by_content", 42, 1),
    ]
    cue, content = mem.input_spikes_ms()
    assert cue == [[0, 1, 2, 14], [], []]
    assert content == [[], [0, 1, 2, 14, 28], [0, 1, 2, 14, 42], []]
    raw = CA3Memory(3, 4, consolidate=False, split_content_recall=False)
    raw.learn(0, [1, 2])
    raw.recall_by_content([2, 1])
    assert raw.input_spikes_ms() == ([[0, 1, 2], [], []], [[], [0, 1, 2, 14], [0, 1, 2, 14], []])


def test_raw_protocol_reproduces_the_state_map_experiment() -> None:
    """One presentation per operation at the authors' times gives exp3's inputs and answers."""
    path = DATA / "exp3_state_map.json"
    if not path.exists():
        pytest.skip(f"conformance data not found at {path}")
    data = json.loads(path.read_text())
    mem = CA3Memory(16, 6, consolidate=False, split_content_recall=False, interval_ms=7)
    states = [0, 5, 1, 3, 0, 3, 4, 5, 0, 5, 4, 3, 2, 4, 4, 3]
    for cell, state in enumerate(states):
        mem.learn(cell, [state], at_ms=7 * cell)
    answers = {
        start: mem.recall_by_content(bits, at_ms=start)
        for start, bits in ((112, [1, 2, 4]), (118, [3]), (124, [5]), (130, [0]))
    }
    cue, content = mem.input_spikes_ms()
    assert cue == data["input_spikes_ms"]["cue"]
    assert content == data["input_spikes_ms"]["content"]
    hardware = data["recorded_on_spinnaker"]["OUTcue"]
    for start, cells in answers.items():
        assert list(cells) == hardware[str(start + 6)]
        wanted = {1, 2, 4} if start == 112 else {{118: 3, 124: 5, 130: 0}[start]}
        assert cells == tuple(c for c, s in enumerate(states) if s in wanted)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.learn(5, [0]), r"learn: cue 5 is out of range for cue_size 5 \(valid: 0..4\)"),
        (lambda m: m.recall_by_cue(-1), r"cue -1 is out of range for cue_size 5"),
        (
            lambda m: m.learn(0, range(11)),
            r"learn: 11 content bits given, more than content_size 10",
        ),
        (
            lambda m: m.recall_by_content([10]),
            r"content bit 10 is out of range for content_size 10 \(valid: 0..9\)",
        ),
        (lambda m: m.learn(0, [1, 1]), r"content bits must be distinct"),
        (lambda m: m.learn(0, []), r"learn: give at least one content bit"),
        (lambda m: m.recall_by_content([]), r"recall_by_content: give at least one content bit"),
        (lambda m: m.learn(0, [1.5]), r"content bits must be integers"),
        (lambda m: m.run([("learn", 0, (1,))]), r"run: expected Operation objects"),
    ],
)
def test_bad_operations_name_the_limit(call: object, message: str) -> None:
    mem = CA3Memory(5, 10)
    with pytest.raises(ValueError, match=message):
        call(mem)  # type: ignore[operator]


def test_operations_closer_than_the_protocol_are_refused() -> None:
    mem = CA3Memory(5, 10, consolidate=False)
    mem.learn(0, [1], at_ms=0)
    with pytest.raises(ValueError, match=r"at least 7 ms after a learn \(earliest: 7 ms\)"):
        mem.recall_by_cue(0, at_ms=6)
    assert mem.recall_by_cue(0, at_ms=7) == (1,)
    with pytest.raises(ValueError, match=r"at least 6 ms after a recall_by_cue"):
        mem.recall_by_content([1], at_ms=12)
    with pytest.raises(ValueError, match=r"interval_ms must be a whole number of ms >= 7"):
        CA3Memory(5, 10, interval_ms=6)
    with pytest.raises(ValueError, match=r"cue_size must be a positive integer"):
        CA3Memory(0, 10)
