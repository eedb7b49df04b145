"""Shared assertions of the cross-backend parity tests."""

from __future__ import annotations

import numpy as np

from snn.recording import Recording


def assert_identical(a: Recording, b: Recording) -> int:
    """Spikes and traces equal bit for bit; returns the number of spikes compared."""
    assert a.spikes.keys() == b.spikes.keys()
    assert a.traces.keys() == b.traces.keys()
    n_spikes = 0
    for label, sa in a.spikes.items():
        sb = b.spikes[label]
        assert np.array_equal(sa.neurons, sb.neurons), label
        assert np.array_equal(sa.times, sb.times), f"{label}: spike times differ"
        assert np.array_equal(sa.ids, sb.ids), f"{label}: spike ids differ"
        n_spikes += sa.count
    for label, traces in a.traces.items():
        assert traces.keys() == b.traces[label].keys()
        for var, ta in traces.items():
            tb = b.traces[label][var]
            assert ta.unit == tb.unit
            assert np.array_equal(ta.index, tb.index)
            assert np.array_equal(ta.times, tb.times), f"{label}.{var}: sample times differ"
            assert ta.values.shape == tb.values.shape, f"{label}.{var}"
            assert np.array_equal(ta.values, tb.values), f"{label}.{var}: values differ"
    return n_spikes
