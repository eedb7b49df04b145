"""Versioned HDF5 storage of networks and recordings: :func:`save`, :func:`load`.

A saved network holds everything that was *drawn* when it was built (connectivity, weights,
delays, random parameters and initial values), so loading never redraws: the loaded network is
the same network, and a run of it gives the same spikes as a run of the original.

Layout of ``format_version`` 1 (lists are groups named ``"0"``, ``"1"``, ... in order; labels are
attributes, so any label is valid; arrays of 4096 or more elements are gzip-compressed)::

    /                    attrs format="snn-stack", format_version=1, kind, snn_version
    kind "network":
    /                    attrs dt (s), seed, semantics ("exact" | "spinnaker")
    /populations/i       attrs label, shape, model (registry name), rng_state (JSON),
                         model_options (JSON: non-numeric settings such as DeltaLIF's reset)
        params/NAME      realised per-neuron parameter, shape (size,), SI units
        initial/NAME     initial value of a state variable, shape (size,)
        spike_times      SpikeSourceArray only: train j is
        spike_offsets      spike_times[spike_offsets[j]:spike_offsets[j + 1]] (s)
    /projections/i       attrs label, pre, post (population indices), receptor,
                         connector (registry name), connector_params (JSON of to_dict(),
                         less its array-valued fields), substrate (JSON of
                         CrossbarSubstrate.to_dict(); absent: exact digital weights)
        pre_view         view indices (absent: the whole population), attr label
        post_view        same for post
        connector/NAME   array-valued connector fields (FromList's connections)
        plasticity       attrs rule (registry name), weight_dependence, parameters (JSON);
                         absent for a static projection
        pre_idx, post_idx, weights, delays   the realised synapses (delays in steps);
                         conv2d/pool2d/dense projections store their shared weights this way
                         too (weights signed, in V), and rebuild the kernel index on load
    /recorders/i         attrs label, target_kind ("population" | "projection"), target (index),
                         variables (JSON list), interval_steps
        view             recorded view indices (absent: the whole population), attr label
    kind "recording":
    /                    attrs dt (s), duration (s), backend, seed, metadata (JSON)
    /spikes/i            attrs label, population; neurons, times (s), ids
    /traces/i            attrs label
        j                attrs variable, unit; times (s), values (n_samples, n), index

Compatibility: a reader of version N reads every version <= N. A field added in a later version
is listed in :data:`FIELD_DEFAULTS` with the value that reproduces the old behaviour, and a neuron
or plasticity parameter missing from a file takes its declared default, so old files keep loading
(NIR's lesson: a new ``v_reset`` without a default broke every older file). Files of a newer
version are refused with a message that says to upgrade.

Writes are atomic (a temporary file beside the target, then :func:`os.replace`), and nothing is
ever pickled.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from snn.connectors import CONNECTORS, Connector, connector_from_dict
from snn.network import (
    Network,
    Population,
    PopulationView,
    Projection,
    Receptor,
    Recorder,
    check_projection,
)
from snn.neurons import NEURON_MODELS, NeuronModel, SpikeSourceArray
from snn.parameters import check_values
from snn.plasticity import PLASTICITY_RULES, STDP, WEIGHT_DEPENDENCES, InhibitorySTDP
from snn.recording import Recording, SpikeTrains, Trace
from snn.registry import Registry

FORMAT = "snn-stack"
#: the newest layout this module writes and reads
FORMAT_VERSION = 1
KINDS = ("network", "recording")
RECEPTORS = ("excitatory", "inhibitory")
#: datasets with at least this many elements are gzip-compressed (smaller ones gain nothing)
COMPRESS_MIN_SIZE = 4096
GZIP_LEVEL = 4

#: Defaults of fields that a file may lack, per section. Every field added after version 1 must
#: be listed here with the value that reproduces the behaviour of files written without it.
FIELD_DEFAULTS: dict[str, dict[str, Any]] = {
    "file": {"snn_version": "unknown"},
    # files written before per-network semantics existed used the exact semantics
    "network": {"semantics": "exact"},
    # no stored generator state: a fresh generator of the network seed (only matters for draws
    # made after loading, e.g. Population.initialize with a distribution)
    "population": {"rng_state": None, "model_options": "{}"},
    "plasticity": {"weight_dependence": "additive", "parameters": "{}"},
    "projection": {"connector_params": "{}", "substrate": "null"},
    "recorder": {"interval_steps": 1},
    "recording": {"metadata": "{}"},
    "trace": {"unit": ""},
}

_MISSING = object()


def _h5py() -> Any:
    # imported on first use: h5py takes ~0.3 s to import and `import snn` should stay quick
    import h5py

    return h5py


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def save(obj: Network | Recording, path: str | os.PathLike[str]) -> None:
    """Write a :class:`~snn.network.Network` or :class:`~snn.recording.Recording` to ``path``.

    The file is written to a temporary file in the same directory and moved over ``path`` only
    when complete, so an existing file is either replaced whole or left untouched.
    """
    if not isinstance(obj, Network | Recording):
        raise ValueError(
            f"save: can store a snn.Network or a snn.recording.Recording, got {type(obj).__name__}"
        )
    h5py = _h5py()
    with atomic_write(path) as tmp, h5py.File(tmp, "w") as f:
        if isinstance(obj, Network):
            _write_header(f, "network")
            _write_network(f, obj)
        else:
            _write_header(f, "recording")
            _write_recording(f, obj)


def load(path: str | os.PathLike[str]) -> Network | Recording:
    """Read a network or recording written by :func:`save` (whichever the file holds).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the problem for
    anything else: not HDF5, truncated or corrupt, not an snn-stack file, a newer
    ``format_version``, a missing field, an unknown model or connector, inconsistent arrays.
    """
    with _open_checked(path) as (f, kind):
        return _READERS[kind](f)


def load_network(path: str | os.PathLike[str]) -> Network:
    """:func:`load` a file that must hold a network."""
    obj = load(path)
    if not isinstance(obj, Network):
        raise ValueError(f"{path} holds a recording, not a network (read it with load_recording)")
    return obj


def load_recording(path: str | os.PathLike[str]) -> Recording:
    """:func:`load` a file that must hold a recording."""
    obj = load(path)
    if not isinstance(obj, Recording):
        raise ValueError(f"{path} holds a network, not a recording (read it with load_network)")
    return obj


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The root attributes of an snn-stack file (``format``, ``format_version``, ``kind``,
    ``snn_version``), checked as :func:`load` checks them, without reading the contents."""
    with _open_checked(path) as (f, kind):
        return {
            "format": FORMAT,
            "format_version": _int_attr(f, "format_version", "file", "file header"),
            "kind": kind,
            "snn_version": _str_attr(f, "snn_version", "file", "file header"),
        }


@contextlib.contextmanager
def _open_checked(path: str | os.PathLike[str]) -> Iterator[tuple[Any, str]]:
    """Open an snn-stack file for reading, yielding it and its kind; every problem with the
    file inside the block becomes a ValueError that names the file."""
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"no such file: {file}")
    if file.is_dir():
        raise ValueError(f"{file} is a directory, not an snn-stack HDF5 file")
    h5py = _h5py()
    if not h5py.is_hdf5(file):
        raise ValueError(
            f"{file} is not an HDF5 file (no HDF5 signature); expected a file written by snn.save"
        )
    try:
        with h5py.File(file, "r") as f:
            yield f, _check_header(f)
    except ValueError as exc:
        raise ValueError(f"cannot load {file}: {exc}") from exc
    except (OSError, KeyError, RuntimeError) as exc:
        # h5py reports damaged files (truncation, bad checksums, broken object headers) this way
        raise ValueError(f"cannot load {file}: the file is truncated or corrupt ({exc})") from exc


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds it replaces ``path``.

    On any error (or interrupt) the temporary file is removed and ``path`` is left untouched.
    The new file gets the permissions of the file it replaces, or the umask's default.
    """
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"cannot write {target}: it is a directory; give a file name")
    directory = target.parent
    if not directory.is_dir():
        raise ValueError(f"cannot write {target}: directory {directory} does not exist")
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, _new_file_mode(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _new_file_mode(target: Path) -> int:
    if target.exists():
        return target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------
def _text(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {value!r}")
    if "\x00" in value:
        raise ValueError(f"{what} {value!r} contains a NUL character, which HDF5 cannot store")
    return value


def _dumps(value: Any, what: str) -> str:
    def default(obj: Any) -> Any:
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        raise TypeError(f"object of type {type(obj).__name__} is not JSON-serialisable")

    try:
        return _text(json.dumps(value, default=default), what)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} cannot be stored as JSON: {exc}") from None


def _seed_attr(seed: int) -> Any:
    # HDF5 integers are 64-bit; larger seeds (valid for numpy) are kept exactly as text
    return np.int64(seed) if 0 <= seed < 2**63 else str(int(seed))


def _write_array(group: Any, name: str, data: Any, dtype: Any) -> Any:
    arr = np.ascontiguousarray(data, dtype=dtype)
    if arr.size >= COMPRESS_MIN_SIZE:
        return group.create_dataset(
            name, data=arr, compression="gzip", compression_opts=GZIP_LEVEL, shuffle=True
        )
    return group.create_dataset(name, data=arr)


def _write_header(f: Any, kind: str) -> None:
    from snn import __version__

    f.attrs["format"] = FORMAT
    f.attrs["format_version"] = np.int64(FORMAT_VERSION)
    f.attrs["kind"] = kind
    f.attrs["snn_version"] = __version__


def _registry_name(registry: Registry[Any], obj: object, what: str) -> str:
    for name, cls in registry.items():
        if type(obj) is cls:
            return name
    raise ValueError(
        f"{what} {type(obj).__name__} is not registered (registered: "
        f"{', '.join(registry.names())}); register it to save networks that use it"
    )


def _write_view(group: Any, name: str, target: Population | PopulationView, what: str) -> None:
    if isinstance(target, PopulationView):
        ds = _write_array(group, name, target.indices, np.int64)
        ds.attrs["label"] = _text(target.label, f"{what} view label")


def _write_network(f: Any, net: Network) -> None:
    f.attrs["dt"] = float(net.dt)
    f.attrs["seed"] = _seed_attr(net.seed)
    f.attrs["semantics"] = net.semantics
    pop_index = {id(p): i for i, p in enumerate(net.populations)}
    proj_index = {id(p): i for i, p in enumerate(net.projections)}

    def population_of(target: Population | PopulationView, what: str) -> int:
        index = pop_index.get(id(target.parent))
        if index is None:
            raise ValueError(f"{what} {target.label!r} is not a population of this network")
        return index

    pops = f.create_group("populations")
    for i, pop in enumerate(net.populations):
        what = f"population {i} ({pop.label!r})"
        g = pops.create_group(str(i))
        g.attrs["label"] = _text(pop.label, f"{what} label")
        g.attrs["shape"] = np.asarray(pop.shape, dtype=np.int64)
        g.attrs["model"] = _registry_name(NEURON_MODELS, pop.model, f"{what}: neuron model")
        g.attrs["rng_state"] = _dumps(pop._rng.bit_generator.state, f"{what} generator state")
        g.attrs["model_options"] = _dumps(pop.model.options, f"{what} model options")
        params = g.create_group("params")
        for name, values in pop.params.items():
            _write_array(params, name, values, np.float64)
        initial = g.create_group("initial")
        for name, values in pop.initial.items():
            _write_array(initial, name, values, np.float64)
        if isinstance(pop.model, SpikeSourceArray):
            trains = pop.model.spike_times
            offsets = np.zeros(len(trains) + 1, dtype=np.int64)
            np.cumsum([t.size for t in trains], out=offsets[1:])
            times = np.concatenate(trains) if trains else np.zeros(0)
            _write_array(g, "spike_times", times, np.float64)
            _write_array(g, "spike_offsets", offsets, np.int64)

    projs = f.create_group("projections")
    for i, proj in enumerate(net.projections):
        what = f"projection {i} ({proj.label!r})"
        g = projs.create_group(str(i))
        g.attrs["label"] = _text(proj.label, f"{what} label")
        g.attrs["pre"] = np.int64(population_of(proj.pre, f"{what}: pre"))
        g.attrs["post"] = np.int64(population_of(proj.post, f"{what}: post"))
        _write_view(g, "pre_view", proj.pre, what)
        _write_view(g, "post_view", proj.post, what)
        g.attrs["receptor"] = proj.receptor
        _write_connector(g, proj.connector, what)
        if proj.plasticity is not None:
            rule = proj.plasticity
            pg = g.create_group("plasticity")
            pg.attrs["rule"] = _registry_name(PLASTICITY_RULES, rule, f"{what}: plasticity rule")
            pg.attrs["weight_dependence"] = rule.weight_dependence
            pg.attrs["parameters"] = _dumps(rule.values, f"{what}: plasticity parameters")
        if proj.substrate is not None:
            g.attrs["substrate"] = _dumps(proj.substrate.to_dict(), f"{what}: substrate")
        _write_array(g, "pre_idx", proj.pre_idx, np.int64)
        _write_array(g, "post_idx", proj.post_idx, np.int64)
        _write_array(g, "weights", proj.weights, np.float64)
        _write_array(g, "delays", proj.delays, np.int64)

    recs = f.create_group("recorders")
    for i, rec in enumerate(net.recorders):
        what = f"recorder {i} ({rec.label!r})"
        g = recs.create_group(str(i))
        g.attrs["label"] = _text(rec.label, f"{what} label")
        if isinstance(rec.target, Projection):
            index = proj_index.get(id(rec.target))
            if index is None:
                raise ValueError(f"{what}: its projection is not part of this network")
            g.attrs["target_kind"] = "projection"
            g.attrs["target"] = np.int64(index)
        else:
            g.attrs["target_kind"] = "population"
            g.attrs["target"] = np.int64(population_of(rec.target, f"{what}: target"))
            _write_view(g, "view", rec.target, what)
        g.attrs["variables"] = _dumps(list(rec.variables), f"{what} variables")
        g.attrs["interval_steps"] = np.int64(rec.interval_steps)


def _write_connector(group: Any, connector: Connector, what: str) -> None:
    group.attrs["connector"] = _registry_name(CONNECTORS, connector, f"{what}: connector")
    params = connector.to_dict()
    arrays = {k: v for k in params if isinstance(v := getattr(connector, k, None), np.ndarray)}
    if arrays:
        cg = group.create_group("connector")
        for key, value in arrays.items():
            _write_array(cg, key, value, value.dtype)
            del params[key]
    group.attrs["connector_params"] = _dumps(params, f"{what}: connector parameters")


def _write_recording(f: Any, rec: Recording) -> None:
    f.attrs["dt"] = float(rec.dt)
    f.attrs["duration"] = float(rec.duration)
    f.attrs["backend"] = _text(rec.backend, "recording backend")
    f.attrs["seed"] = _seed_attr(int(rec.seed))
    f.attrs["metadata"] = _dumps(rec.metadata, "recording metadata")
    spikes = f.create_group("spikes")
    for i, (label, sp) in enumerate(rec.spikes.items()):
        g = spikes.create_group(str(i))
        g.attrs["label"] = _text(label, "spike recorder label")
        g.attrs["population"] = _text(sp.population, f"spikes {label!r}: population")
        _write_array(g, "neurons", sp.neurons, np.int64)
        _write_array(g, "times", sp.times, np.float64)
        _write_array(g, "ids", sp.ids, np.int64)
    traces = f.create_group("traces")
    for i, (label, per_variable) in enumerate(rec.traces.items()):
        g = traces.create_group(str(i))
        g.attrs["label"] = _text(label, "trace recorder label")
        for j, (variable, trace) in enumerate(per_variable.items()):
            vg = g.create_group(str(j))
            vg.attrs["variable"] = _text(variable, f"traces {label!r}: variable")
            vg.attrs["unit"] = _text(trace.unit, f"trace {label}.{variable}: unit")
            _write_array(vg, "times", trace.times, np.float64)
            _write_array(vg, "values", trace.values, np.float64)
            _write_array(vg, "index", trace.index, np.int64)


# ---------------------------------------------------------------------------------------------
# reading: small checked accessors
# ---------------------------------------------------------------------------------------------
def _attr(group: Any, name: str, section: str, where: str) -> Any:
    if name in group.attrs:
        value = group.attrs[name]
        return value.decode("utf-8") if isinstance(value, bytes) else value
    default = FIELD_DEFAULTS.get(section, {}).get(name, _MISSING)
    if default is _MISSING:
        raise ValueError(f"{where}: missing attribute {name!r}")
    return default


def _str_attr(group: Any, name: str, section: str, where: str) -> str:
    value = _attr(group, name, section, where)
    if not isinstance(value, str):
        raise ValueError(f"{where}: attribute {name!r} should be text, got {value!r}")
    return value


def _int_attr(group: Any, name: str, section: str, where: str) -> int:
    value = _attr(group, name, section, where)
    if isinstance(value, str):  # seeds beyond 64 bits are stored as text
        with contextlib.suppress(ValueError):
            return int(value)
    elif isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return int(value)
    raise ValueError(f"{where}: attribute {name!r} should be an integer, got {value!r}")


def _float_attr(group: Any, name: str, section: str, where: str) -> float:
    value = _attr(group, name, section, where)
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"{where}: attribute {name!r} should be a number, got {value!r}")


def _json_attr(group: Any, name: str, section: str, where: str) -> Any:
    text = _str_attr(group, name, section, where)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: attribute {name!r} is not valid JSON ({exc})") from None


def _group(parent: Any, name: str, where: str) -> Any:
    if name not in parent:
        raise ValueError(f"{where}: missing group {name!r}")
    obj = parent[name]
    if not isinstance(obj, _h5py().Group):
        raise ValueError(f"{where}: {name!r} should be a group")
    return obj


def _children(group: Any, where: str) -> list[Any]:
    """Sub-groups named "0", "1", ... in numeric order (h5py lists names alphabetically)."""
    names = list(group.keys())
    expected = [str(i) for i in range(len(names))]
    if sorted(names, key=lambda n: (len(n), n)) != expected:
        raise ValueError(f"{where}: entries should be named 0..{len(names) - 1}, got {names}")
    return [_group(group, name, where) for name in expected]


def _array(group: Any, name: str, where: str, kind: str, ndim: int | None = 1) -> NDArray[Any]:
    """A dataset as float64 (``kind="float"``), int64 (``"int"``) or any numeric dtype
    (``"number"``), with ``ndim`` axes (``None``: any)."""
    if name not in group:
        raise ValueError(f"{where}: missing dataset {name!r}")
    obj = group[name]
    if not isinstance(obj, _h5py().Dataset):
        raise ValueError(f"{where}: {name!r} should be a dataset")
    arr = np.asarray(obj[()])
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{where}: {name} has shape {arr.shape}, expected {ndim} dimension(s)")
    allowed = {"int": "iu", "float": "iuf", "number": "iufb"}[kind]
    if arr.dtype.kind not in allowed:
        raise ValueError(f"{where}: {name} has dtype {arr.dtype}, expected {kind} values")
    if kind == "number":
        out = arr.copy()
    else:
        out = arr.astype(np.int64 if kind == "int" else np.float64)
    out.setflags(write=False)
    return out


def _check_header(f: Any) -> str:
    fmt = f.attrs.get("format")
    if fmt is None:
        raise ValueError(
            "not an snn-stack file: the root has no 'format' attribute (expected 'snn-stack')"
        )
    if isinstance(fmt, bytes):
        fmt = fmt.decode("utf-8", "replace")
    if fmt != FORMAT:
        raise ValueError(f"not an snn-stack file: format is {fmt!r}, expected {FORMAT!r}")
    version = _int_attr(f, "format_version", "file", "file header")
    if version > FORMAT_VERSION:
        from snn import __version__

        raise ValueError(
            f"format_version {version} is newer than this snn-stack ({__version__}) can read "
            f"(up to {FORMAT_VERSION}); upgrade snn-stack to read this file"
        )
    if version < 1:
        raise ValueError(f"invalid format_version {version}; versions start at 1")
    kind = _str_attr(f, "kind", "file", "file header")
    if kind not in _READERS:
        raise ValueError(f"unknown kind {kind!r}; valid choices: {', '.join(_READERS)}")
    return kind


def _lookup(registry: Registry[Any], name: str, where: str) -> Any:
    try:
        return registry.get(name)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# reading networks
# ---------------------------------------------------------------------------------------------
def _read_network(f: Any) -> Network:
    net = Network(
        dt=_float_attr(f, "dt", "network", "network"),
        seed=_int_attr(f, "seed", "network", "network"),
        semantics=_str_attr(f, "semantics", "network", "network"),
    )
    for i, g in enumerate(_children(_group(f, "populations", "network"), "populations")):
        pop = _read_population(g, net, i)
        if any(p.label == pop.label for p in net.populations):
            raise ValueError(f"population {i}: label {pop.label!r} is used twice")
        net.populations.append(pop)
    for i, g in enumerate(_children(_group(f, "projections", "network"), "projections")):
        proj = _read_projection(g, net, i)
        if any(p.label == proj.label for p in net.projections):
            raise ValueError(f"projection {i}: label {proj.label!r} is used twice")
        net.projections.append(proj)
    for i, g in enumerate(_children(_group(f, "recorders", "network"), "recorders")):
        rec = _read_recorder(g, net, i)
        if any(r.label == rec.label for r in net.recorders):
            raise ValueError(f"recorder {i}: label {rec.label!r} is used twice")
        net.recorders.append(rec)
    return net


def _as_model_value(values: NDArray[np.float64]) -> float | NDArray[np.float64]:
    """A scalar when every neuron has bit-identical values (as a model declared with a scalar)."""
    bits = values.view(np.int64)
    if values.size and bool((bits == bits[0]).all()):
        return float(values[0])
    return values


def _read_population(g: Any, net: Network, i: int) -> Population:
    where = f"population {i}"
    label = _str_attr(g, "label", "population", where)
    where = f"population {i} ({label!r})"
    shape_attr = np.asarray(_attr(g, "shape", "population", where))
    if shape_attr.ndim != 1 or shape_attr.dtype.kind not in "iu" or not shape_attr.size:
        raise ValueError(f"{where}: shape should be a list of integers, got {shape_attr!r}")
    shape = tuple(int(s) for s in shape_attr)
    if any(s < 1 for s in shape):
        raise ValueError(f"{where}: shape must be positive integers, got {shape}")
    size = math.prod(shape)
    model_name = _str_attr(g, "model", "population", where)
    cls: type[NeuronModel] = _lookup(NEURON_MODELS, model_name, where)

    params: dict[str, NDArray[np.float64]] = {}
    model: NeuronModel
    try:
        if issubclass(cls, SpikeSourceArray):
            times = _array(g, "spike_times", where, "float")
            offsets = _array(g, "spike_offsets", where, "int")
            if (
                offsets.size < 2
                or offsets[0] != 0
                or offsets[-1] != times.size
                or (np.diff(offsets) < 0).any()
            ):
                raise ValueError(
                    f"spike_offsets must rise from 0 to len(spike_times) = {times.size}, "
                    f"got {offsets.size} offsets"
                )
            trains = [times[a:b] for a, b in itertools.pairwise(offsets)]
            model = cls(trains)
            model.trains_for(size)
        else:
            stored = _group(g, "params", where)
            unknown = sorted(set(stored) - set(cls.parameters))
            if unknown:
                raise ValueError(
                    f"unknown parameter(s) {', '.join(unknown)} for {model_name}; "
                    f"valid names: {', '.join(cls.parameters)}"
                )
            for name, spec in cls.parameters.items():
                if name in stored:
                    values = _array(stored, name, where, "float")
                    if values.shape != (size,):
                        raise ValueError(
                            f"parameter {name} has shape {values.shape}, expected ({size},)"
                        )
                else:  # a parameter added after this file was written: its declared default
                    values = np.full(size, float(spec.default))
                    values.setflags(write=False)
                params[name] = values
            options = _json_attr(g, "model_options", "population", where)
            if not isinstance(options, dict):
                raise ValueError("model_options should be a JSON object")
            try:
                model = cls(**options, **{name: _as_model_value(v) for name, v in params.items()})
            except TypeError as exc:
                raise ValueError(f"invalid model_options {sorted(options)}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None

    initial = model.initial_state(params, size)
    if "initial" in g:
        stored = _group(g, "initial", where)
        for name in stored:
            if name not in model.state_variables:
                valid = ", ".join(model.state_variables) or "(none: spike sources have no state)"
                raise ValueError(
                    f"{where}: unknown state variable {name!r} for {model_name}; "
                    f"valid names: {valid}"
                )
            values = _array(stored, name, where, "float")
            if values.shape != (size,):
                raise ValueError(
                    f"{where}: initial {name} has shape {values.shape}, expected ({size},)"
                )
            check_values(where, f"initial {name}", values, "any")
            initial[name] = values

    pop = Population(net, i, shape, model, label, params, initial)
    # the table default (None) means "no stored state": keep the fresh generator
    if _attr(g, "rng_state", "population", where) is not None:
        state = _json_attr(g, "rng_state", "population", where)
        try:
            pop._rng.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"{where}: invalid rng_state ({exc})") from None
    return pop


def _read_view(g: Any, name: str, parent: Population, where: str) -> Population | PopulationView:
    if name not in g:
        return parent
    indices = _array(g, name, where, "int")
    try:
        view = PopulationView(parent, parent.indices, indices)
    except ValueError as exc:
        raise ValueError(f"{where}: {name}: {exc}") from None
    label = g[name].attrs.get("label")
    if isinstance(label, bytes):
        label = label.decode("utf-8")
    if isinstance(label, str):
        view.label = label
    return view


def _population_at(net: Network, index: int, where: str, what: str) -> Population:
    if not 0 <= index < len(net.populations):
        raise ValueError(
            f"{where}: {what} population index {index} is out of range "
            f"(the file has {len(net.populations)} populations)"
        )
    return net.populations[index]


def _read_projection(g: Any, net: Network, i: int) -> Projection:
    where = f"projection {i}"
    label = _str_attr(g, "label", "projection", where)
    where = f"projection {i} ({label!r})"
    pre_pop = _population_at(net, _int_attr(g, "pre", "projection", where), where, "pre")
    post_pop = _population_at(net, _int_attr(g, "post", "projection", where), where, "post")
    pre = _read_view(g, "pre_view", pre_pop, where)
    post = _read_view(g, "post_view", post_pop, where)
    if post.model.is_source:
        raise ValueError(
            f"{where}: post {post.label!r} is a spike source and cannot receive synapses"
        )
    receptor = _str_attr(g, "receptor", "projection", where)
    if receptor not in RECEPTORS:
        raise ValueError(
            f"{where}: unknown receptor {receptor!r}; valid choices: {', '.join(RECEPTORS)}"
        )

    connector_name = _str_attr(g, "connector", "projection", where)
    _lookup(CONNECTORS, connector_name, where)
    connector_params = _json_attr(g, "connector_params", "projection", where)
    if not isinstance(connector_params, dict):
        raise ValueError(f"{where}: connector_params should be a JSON object")
    if "connector" in g:
        arrays = _group(g, "connector", where)
        for key in arrays:
            connector_params[key] = _array(arrays, key, f"{where} connector", "number", ndim=None)
    try:
        connector = connector_from_dict(connector_name, connector_params)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{where}: cannot rebuild connector {connector_name!r} from parameters "
            f"{sorted(connector_params)}: {exc}"
        ) from None

    plasticity = _read_plasticity(g, where) if "plasticity" in g else None
    substrate_data = _json_attr(g, "substrate", "projection", where)
    substrate = None
    if substrate_data is not None:
        from snn.hardware.crossbar.substrate import CrossbarSubstrate

        if not isinstance(substrate_data, dict):
            raise ValueError(f"{where}: substrate should be a JSON object")
        try:
            substrate = CrossbarSubstrate.from_dict(substrate_data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: invalid crossbar substrate: {exc}") from None

    pre_idx = _array(g, "pre_idx", where, "int")
    post_idx = _array(g, "post_idx", where, "int")
    weights = _array(g, "weights", where, "float")
    delays = _array(g, "delays", where, "int")
    sizes = {a.size for a in (pre_idx, post_idx, weights, delays)}
    if len(sizes) != 1:
        raise ValueError(
            f"{where}: synapse arrays have inconsistent lengths: pre_idx {pre_idx.size}, "
            f"post_idx {post_idx.size}, weights {weights.size}, delays {delays.size}"
        )
    if np.isnan(weights).any():
        first = int(np.flatnonzero(np.isnan(weights))[0])
        raise ValueError(f"{where}: weights contain NaN (first at synapse {first})")
    for side, idx, target in (("pre", pre_idx, pre), ("post", post_idx, post)):
        if isinstance(target, PopulationView) and not np.isin(idx, target.indices).all():
            raise ValueError(f"{where}: {side}_idx has neurons outside the {side} view")

    proj = Projection(
        network=net,
        index=i,
        label=label,
        pre=pre,
        post=post,
        connector=connector,
        receptor=cast(Receptor, receptor),
        plasticity=plasticity,
        pre_idx=pre_idx,
        post_idx=post_idx,
        weights=weights,
        delays=delays,
        substrate=substrate,
    )
    check_projection(proj)
    return proj


def _read_plasticity(g: Any, where: str) -> STDP:
    pg = _group(g, "plasticity", where)
    where = f"{where} plasticity"
    rule_name = _str_attr(pg, "rule", "plasticity", where)
    cls = _lookup(PLASTICITY_RULES, rule_name, where)
    if not (isinstance(cls, type) and issubclass(cls, STDP)):
        raise ValueError(f"{where}: rule {rule_name!r} cannot be loaded into a projection")
    dependence = _str_attr(pg, "weight_dependence", "plasticity", where)
    valid = ("vogels",) if issubclass(cls, InhibitorySTDP) else WEIGHT_DEPENDENCES
    if dependence not in valid:
        raise ValueError(
            f"{where}: unknown weight_dependence {dependence!r} for rule {rule_name!r}; "
            f"valid choices: {', '.join(valid)}"
        )
    parameters = _json_attr(pg, "parameters", "plasticity", where)
    if not isinstance(parameters, dict):
        raise ValueError(f"{where}: parameters should be a JSON object")
    try:
        return cls(dependence, **parameters)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def _read_recorder(g: Any, net: Network, i: int) -> Recorder:
    where = f"recorder {i}"
    label = _str_attr(g, "label", "recorder", where)
    where = f"recorder {i} ({label!r})"
    kind = _str_attr(g, "target_kind", "recorder", where)
    index = _int_attr(g, "target", "recorder", where)
    target: Population | PopulationView | Projection
    if kind == "population":
        target = _read_view(g, "view", _population_at(net, index, where, "target"), where)
        valid: tuple[str, ...] = ("spikes", *target.model.state_variables)
    elif kind == "projection":
        if not 0 <= index < len(net.projections):
            raise ValueError(
                f"{where}: projection index {index} is out of range "
                f"(the file has {len(net.projections)} projections)"
            )
        target = net.projections[index]
        if target.plasticity is None:
            raise ValueError(
                f"{where}: projection {target.label!r} is static; only plastic "
                "projections have recordable weights"
            )
        valid = ("weights",)
    else:
        raise ValueError(
            f"{where}: unknown target_kind {kind!r}; valid choices: population, projection"
        )
    variables = _json_attr(g, "variables", "recorder", where)
    if not isinstance(variables, list) or not variables:
        raise ValueError(f"{where}: variables should be a non-empty JSON list")
    for v in variables:
        if v not in valid:
            raise ValueError(
                f"{where}: {target.label!r} has no recordable variable {v!r}; "
                f"valid names: {', '.join(valid)}"
            )
    interval = _int_attr(g, "interval_steps", "recorder", where)
    if interval < 1:
        raise ValueError(f"{where}: interval_steps must be >= 1, got {interval}")
    return Recorder(label, target, tuple(dict.fromkeys(variables)), interval)


# ---------------------------------------------------------------------------------------------
# reading recordings
# ---------------------------------------------------------------------------------------------
def _read_recording(f: Any) -> Recording:
    where = "recording"
    metadata = _json_attr(f, "metadata", "recording", where)
    if not isinstance(metadata, dict):
        raise ValueError(f"{where}: metadata should be a JSON object")
    rec = Recording(
        dt=_float_attr(f, "dt", "recording", where),
        duration=_float_attr(f, "duration", "recording", where),
        backend=_str_attr(f, "backend", "recording", where),
        seed=_int_attr(f, "seed", "recording", where),
        metadata=metadata,
    )
    for i, g in enumerate(_children(_group(f, "spikes", where), "spikes")):
        where = f"spikes {i}"
        label = _str_attr(g, "label", "spikes", where)
        where = f"spikes {i} ({label!r})"
        if label in rec.spikes:
            raise ValueError(f"{where}: label {label!r} is used twice")
        times = _array(g, "times", where, "float")
        ids = _array(g, "ids", where, "int")
        neurons = _array(g, "neurons", where, "int")
        if times.size != ids.size:
            raise ValueError(
                f"{where}: times ({times.size}) and ids ({ids.size}) must have the same length"
            )
        if not np.isin(ids, neurons).all():
            raise ValueError(f"{where}: ids contain neurons that are not in 'neurons'")
        rec.spikes[label] = SpikeTrains(
            population=_str_attr(g, "population", "spikes", where),
            neurons=neurons,
            times=times,
            ids=ids,
        )
    for i, g in enumerate(_children(_group(f, "traces", "recording"), "traces")):
        where = f"traces {i}"
        label = _str_attr(g, "label", "traces", where)
        if label in rec.traces:
            raise ValueError(f"{where}: label {label!r} is used twice")
        traces: dict[str, Trace] = {}
        for j, vg in enumerate(_children(g, f"traces {label!r}")):
            where = f"trace {label!r} variable {j}"
            variable = _str_attr(vg, "variable", "trace", where)
            where = f"trace {label}.{variable}"
            if variable in traces:
                raise ValueError(f"{where}: variable {variable!r} is stored twice")
            times = _array(vg, "times", where, "float")
            values = _array(vg, "values", where, "float", ndim=2)
            index = _array(vg, "index", where, "int")
            if values.shape != (times.size, index.size):
                raise ValueError(
                    f"{where}: values have shape {values.shape}, expected "
                    f"(len(times), len(index)) = ({times.size}, {index.size})"
                )
            traces[variable] = Trace(
                variable, _str_attr(vg, "unit", "trace", where), times, values, index
            )
        rec.traces[label] = traces
    return rec


_READERS: dict[str, Callable[[Any], Network | Recording]] = {
    "network": _read_network,
    "recording": _read_recording,
}
