"""Property tests of the connectors and population views (hypothesis).

Every property is checked against an independent description of the connector (set algebra on
population indices, binomial bounds), on populations and on views drawn as slices, index lists
(with negative indices) and boolean masks.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import snn
from snn.network import Population, PopulationView, Projection

SETTINGS = settings(max_examples=40, deadline=None)

MODEL = snn.IF_curr_exp()


@st.composite
def view_keys(draw: st.DrawFn, n: int) -> tuple[Any, list[int]]:
    """A view key for a population of ``n`` and the population indices it must select.

    ``None`` stands for the whole population. The expected indices are computed with plain
    Python (list slicing, modulo for negative indices, a comprehension over the mask).
    """
    kind = draw(st.sampled_from(["whole", "slice", "list", "mask", "int"]))
    everything = list(range(n))
    if kind == "whole":
        return None, everything
    if kind == "slice":
        bound = st.none() | st.integers(-n - 2, n + 2)
        step = draw(st.sampled_from([None, 1, 2, 3, -1, -2]))
        key: Any = slice(draw(bound), draw(bound), step)
        expected = everything[key]
    elif kind == "list":
        chosen = draw(st.lists(st.integers(0, n - 1), unique=True, min_size=1, max_size=n))
        negative = draw(st.lists(st.booleans(), min_size=len(chosen), max_size=len(chosen)))
        key = [i - n if neg else i for i, neg in zip(chosen, negative, strict=True)]
        expected = chosen
    elif kind == "mask":
        mask = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        key = np.array(mask, dtype=bool)
        expected = [i for i in everything if mask[i]]
    else:
        i = draw(st.integers(-n, n - 1))
        key, expected = i, [i % n]
    assume(expected)
    return key, expected


def _target(pop: Population, key: Any) -> Population | PopulationView:
    return pop if key is None else pop[key]


@st.composite
def two_targets(draw: st.DrawFn, same_population: bool | None = None) -> dict[str, Any]:
    """A network with pre and post targets (views of one population, or of two)."""
    same = draw(st.booleans()) if same_population is None else same_population
    n_a = draw(st.integers(1, 9))
    n_b = n_a if same else draw(st.integers(1, 9))
    key_pre, pre_expected = draw(view_keys(n_a))
    key_post, post_expected = draw(view_keys(n_b))
    seed = draw(st.integers(0, 2**32 - 1))
    net = snn.Network(seed=seed)
    a = net.population(n_a, MODEL, label="a")
    b = a if same else net.population(n_b, MODEL, label="b")
    return {
        "net": net,
        "same": same,
        "pre": _target(a, key_pre),
        "post": _target(b, key_post),
        "pre_ids": pre_expected,
        "post_ids": post_expected,
    }


def _pairs(proj: Projection) -> list[tuple[int, int]]:
    return list(zip(proj.pre_idx.tolist(), proj.post_idx.tolist(), strict=True))


def _assert_sorted(proj: Projection) -> None:
    pairs = _pairs(proj)
    assert pairs == sorted(pairs), "synapses must be sorted by (pre, post)"


# -- views ------------------------------------------------------------------------------------


@SETTINGS
@given(n=st.integers(1, 12), data=st.data())
def test_views_select_the_right_population_indices(n: int, data: st.DataObject) -> None:
    """Slices, index lists (negative ones too), masks and ints select the expected neurons,
    also as a view of a view; a projection from a view uses those population indices."""
    key, expected = data.draw(view_keys(n))
    net = snn.Network(seed=0)
    pop = net.population(n, MODEL, label="p")
    view = _target(pop, key)
    assert view.indices.tolist() == expected
    assert len(view) == len(expected)
    key2, positions = data.draw(view_keys(len(expected)))
    nested = _target(view, key2) if key2 is not None else view
    assert nested.indices.tolist() == [expected[i] for i in positions]
    assert nested.parent is pop

    other = net.population(2, MODEL, label="other")
    proj = net.connect(nested, other, snn.AllToAll(), weight=1e-9)
    assert sorted(set(proj.pre_idx.tolist())) == sorted(expected[i] for i in positions)
    _assert_sorted(proj)


def test_view_errors() -> None:
    net = snn.Network(seed=0)
    pop = net.population(5, MODEL, label="p")
    with pytest.raises(ValueError, match="out of range"):
        pop[[0, 5]]
    with pytest.raises(ValueError, match="out of range"):
        pop[-6]
    with pytest.raises(ValueError, match="mask of shape"):
        pop[np.ones(4, dtype=bool)]
    with pytest.raises(ValueError, match="same neuron twice"):
        pop[[1, 1]]
    with pytest.raises(ValueError, match="same neuron twice"):
        pop[[1, -4]]


# -- one-to-one -------------------------------------------------------------------------------


@SETTINGS
@given(setup=two_targets())
def test_one_to_one_pairs_ith_with_ith(setup: dict[str, Any]) -> None:
    """OneToOne joins the i-th neuron of the pre view with the i-th of the post view; a size
    mismatch is an error that names both sizes."""
    pre_ids, post_ids = setup["pre_ids"], setup["post_ids"]
    net: snn.Network = setup["net"]
    if len(pre_ids) != len(post_ids):
        with pytest.raises(
            ValueError, match=rf"equal size, got {len(pre_ids)} and {len(post_ids)}"
        ):
            net.connect(setup["pre"], setup["post"], snn.OneToOne())
        return
    proj = net.connect(setup["pre"], setup["post"], snn.OneToOne(), weight=1e-9)
    assert _pairs(proj) == sorted(zip(pre_ids, post_ids, strict=True))
    _assert_sorted(proj)


# -- all-to-all -------------------------------------------------------------------------------


@SETTINGS
@given(setup=two_targets(), allow_self=st.booleans())
def test_all_to_all_counts_and_self_connections(setup: dict[str, Any], allow_self: bool) -> None:
    """AllToAll makes every (pre, post) pair: n_pre * n_post synapses, minus the neurons that
    are in both views when self connections are excluded and both views share a population."""
    pre_ids, post_ids = setup["pre_ids"], setup["post_ids"]
    proj = setup["net"].connect(
        setup["pre"], setup["post"], snn.AllToAll(allow_self_connections=allow_self), weight=1e-9
    )
    expected = set(itertools.product(pre_ids, post_ids))
    if setup["same"] and not allow_self:
        expected -= {(i, i) for i in set(pre_ids) & set(post_ids)}
    pairs = _pairs(proj)
    assert len(pairs) == len(expected) and set(pairs) == expected
    overlap = len(set(pre_ids) & set(post_ids)) if setup["same"] and not allow_self else 0
    assert proj.size == len(pre_ids) * len(post_ids) - overlap
    _assert_sorted(proj)


# -- fixed probability ------------------------------------------------------------------------


@SETTINGS
@given(
    n_pre=st.integers(1, 40),
    n_post=st.integers(1, 40),
    same=st.booleans(),
    p=st.sampled_from([0.0, 0.05, 0.3, 0.7, 1.0]),
    allow_self=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_fixed_probability_bounds_and_self(
    n_pre: int, n_post: int, same: bool, p: float, allow_self: bool, seed: int
) -> None:
    """FixedProbability: no duplicates, no self connection when excluded, and the number of
    synapses is binomial(N, p) over the N candidate pairs: within 6 standard deviations (+1)."""
    net = snn.Network(seed=seed)
    a = net.population(max(n_pre, n_post) if same else n_pre, MODEL, label="a")
    b = a if same else net.population(n_post, MODEL, label="b")
    pre, post = (a[:n_pre], b[-n_post:]) if same else (a, b)
    proj = net.connect(pre, post, snn.FixedProbability(p, allow_self_connections=allow_self))
    pairs = _pairs(proj)
    assert len(set(pairs)) == len(pairs)
    candidates = set(itertools.product(pre.indices.tolist(), post.indices.tolist()))
    if same and not allow_self:
        candidates = {(i, j) for i, j in candidates if i != j}
        assert all(i != j for i, j in pairs)
    assert set(pairs) <= candidates
    n = len(candidates)
    assert abs(len(pairs) - n * p) <= 6 * math.sqrt(n * p * (1 - p)) + 1
    if p == 1.0:
        assert set(pairs) == candidates
    _assert_sorted(proj)


def test_fixed_probability_rate_is_p() -> None:
    """On 200 x 200 candidates the fraction is p within 5 standard errors (a sharper check)."""
    net = snn.Network(seed=123)
    a = net.population(200, MODEL)
    proj = net.connect(a, a, snn.FixedProbability(0.1, allow_self_connections=False))
    n = 200 * 199
    assert abs(proj.size - 0.1 * n) < 5 * math.sqrt(n * 0.1 * 0.9)


# -- fixed in-degree --------------------------------------------------------------------------


@SETTINGS
@given(setup=two_targets(), n=st.integers(0, 10), allow_self=st.booleans(), replace=st.booleans())
def test_fixed_in_degree(setup: dict[str, Any], n: int, allow_self: bool, replace: bool) -> None:
    """FixedInDegree: each post neuron gets exactly n synapses from pre neurons of the view,
    none from itself when excluded, no duplicate pairs without replacement; asking for more
    distinct pre neurons than available is an error that says so."""
    pre_ids, post_ids = setup["pre_ids"], setup["post_ids"]
    connector = snn.FixedInDegree(n, allow_self_connections=allow_self, with_replacement=replace)
    exclude_self = setup["same"] and not allow_self
    available = {j: [i for i in pre_ids if not (exclude_self and i == j)] for j in post_ids}
    too_many = any(n > len(c) for c in available.values()) and not replace
    no_source = any(not c for c in available.values()) and n > 0
    if too_many or no_source:
        with pytest.raises(ValueError, match=r"exceeds the|no possible pre neuron"):
            setup["net"].connect(setup["pre"], setup["post"], connector)
        return
    proj = setup["net"].connect(setup["pre"], setup["post"], connector, weight=1e-9)
    in_degree = Counter(proj.post_idx.tolist())
    assert all(in_degree[j] == n for j in post_ids)
    assert set(in_degree) <= set(post_ids)
    for i, j in _pairs(proj):
        assert i in available[j]
    if not replace:
        assert len(set(_pairs(proj))) == proj.size
    _assert_sorted(proj)


def test_fixed_in_degree_examples() -> None:
    """Fixed cases beside the random ones: 5 of 9 without replacement are 5 distinct neurons;
    too many is an error naming the numbers."""
    net = snn.Network(seed=0)
    big = net.population(9, MODEL)
    for seed_offset in range(5):
        proj = net.connect(big, big, snn.FixedInDegree(5 + seed_offset % 2))
        assert len(set(_pairs(proj))) == proj.size == 9 * (5 + seed_offset % 2)
    proj = net.connect(big, big, snn.FixedInDegree(8, allow_self_connections=False))
    assert len(set(_pairs(proj))) == proj.size == 72
    assert all(i != j for i, j in _pairs(proj))
    a = net.population(4, MODEL)
    with pytest.raises(ValueError, match="n=4 exceeds the 3 available pre neurons"):
        net.connect(a, a, snn.FixedInDegree(4, allow_self_connections=False))
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        snn.FixedInDegree(-1)


# -- from list ---------------------------------------------------------------------------------


@SETTINGS
@given(setup=two_targets(), data=st.data())
def test_from_list_weights_and_delays_follow_the_list(
    setup: dict[str, Any], data: st.DataObject
) -> None:
    """FromList: indices are view-local; the k-th weight and delay belong to the k-th pair of
    the list whatever its order, and out-of-range indices are errors."""
    pre_ids, post_ids = setup["pre_ids"], setup["post_ids"]
    all_pairs = list(itertools.product(range(len(pre_ids)), range(len(post_ids))))
    chosen = data.draw(st.lists(st.sampled_from(all_pairs), unique=True, max_size=12))
    chosen = data.draw(st.permutations(chosen))
    weights = np.arange(1, len(chosen) + 1) * 1e-10
    delays = np.array(
        data.draw(st.lists(st.integers(1, 9), min_size=len(chosen), max_size=len(chosen)))
    )
    net: snn.Network = setup["net"]
    proj = net.connect(
        setup["pre"], setup["post"], snn.FromList(chosen), weight=weights, delay=delays * net.dt
    )
    expected = {
        (pre_ids[i], post_ids[j]): (w, d)
        for (i, j), w, d in zip(chosen, weights, delays, strict=True)
    }
    got = {
        pair: (w, d)
        for pair, w, d in zip(
            _pairs(proj), proj.weights.tolist(), proj.delays.tolist(), strict=True
        )
    }
    assert got == expected
    _assert_sorted(proj)
    bad = data.draw(st.sampled_from(["pre", "post", "negative"]))
    pair = {"pre": (len(pre_ids), 0), "post": (0, len(post_ids)), "negative": (-1, 0)}[bad]
    with pytest.raises(ValueError, match=r"index -?[0-9]+ is out of range"):
        net.connect(setup["pre"], setup["post"], snn.FromList([pair]))


# -- weight matrices on views ------------------------------------------------------------------


@SETTINGS
@given(setup=two_targets())
def test_weight_matrix_is_indexed_by_view_positions(setup: dict[str, Any]) -> None:
    """An (n_pre, n_post) weight matrix is read at the positions of the neurons in the views."""
    pre_ids, post_ids = setup["pre_ids"], setup["post_ids"]
    matrix = np.arange(len(pre_ids))[:, None] * 100 + np.arange(len(post_ids))[None, :] + 1.0
    proj = setup["net"].connect(setup["pre"], setup["post"], snn.AllToAll(), weight=matrix)
    for (i, j), w in zip(_pairs(proj), proj.weights.tolist(), strict=True):
        assert w == matrix[pre_ids.index(i), post_ids.index(j)]


# -- seeding -----------------------------------------------------------------------------------


def _build(seed: int, extra_after: bool) -> list[Projection]:
    net = snn.Network(seed=seed)
    a = net.population(30, MODEL, label="a")
    b = net.population(20, MODEL, label="b")
    projs = [
        net.connect(
            a,
            b,
            snn.FixedProbability(0.3),
            weight=snn.Uniform(0.0, 1e-9),
            delay=snn.Uniform(0.1e-3, 1e-3),
        ),
        net.connect(
            a,
            a[5:],
            snn.FixedInDegree(4, allow_self_connections=False),
            weight=snn.Normal(1e-9, 0.2e-9, low=0.0),
        ),
    ]
    if extra_after:
        c = net.population(10, snn.SpikeSourcePoisson(rate=5.0), label="c")
        net.connect(c, b, snn.FixedProbability(0.5), weight=snn.Uniform(0.0, 1e-9))
        net.connect(a, b, snn.FixedProbability(0.3), weight=snn.Uniform(0.0, 1e-9))
        net.record(b, "spikes")
    return projs


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_connectivity_whatever_is_declared_later(seed: int) -> None:
    """Connectivity, weights and delays depend on the network seed and the projection's index
    only: identical with later declarations, different for another seed."""
    first = _build(seed, False)
    second = _build(seed, True)
    for p, q in zip(first, second, strict=True):
        for name in ("pre_idx", "post_idx", "weights", "delays"):
            np.testing.assert_array_equal(getattr(p, name), getattr(q, name))
    other = _build(seed + 1, False)
    assert any(
        p.size != q.size or not np.array_equal(p.weights, q.weights)
        for p, q in zip(first, other, strict=True)
    )
    # the two projections of one network draw from different streams
    assert not np.array_equal(first[0].weights[:10], first[1].weights[:10])
