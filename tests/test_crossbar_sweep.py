"""Monte-Carlo crossbar sweeps (snn.hardware.crossbar.sweep) and ``snn crossbar sweep``."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.image import AxesImage

from snn.cli import build_parser, main
from snn.hardware.crossbar.devices import DeviceModel, Drift
from snn.hardware.crossbar.mapping import CrossbarLayer
from snn.hardware.crossbar.sweep import (
    CSV_COLUMNS,
    PARAMETERS,
    SweepConfig,
    parse_values,
    run_sweep,
    trial_error,
    trial_problem,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


# ---------------------------------------------------------------------------- the study
def test_reproducible_by_seed() -> None:
    config = SweepConfig(size=24, batch=8)
    args = ("programming_noise", [0.0, 1.0])
    first = run_sweep(*args, trials=3, seed=7, config=config)
    again = run_sweep(*args, trials=3, seed=7, config=config)
    other = run_sweep(*args, trials=3, seed=8, config=config)
    np.testing.assert_array_equal(first.errors, again.errors)
    assert not np.array_equal(first.errors, other.errors)
    # every trial is its own problem
    assert len(set(first.errors[1].tolist())) == 3


def test_zero_wire_resistance_is_the_no_wire_error() -> None:
    """The r = 0 point equals a layer built independently without wires (library defaults)."""
    result = run_sweep("wire_resistance", [0.0, 1e-6, 1.0], trials=2, seed=3)
    for trial in range(2):
        problem = trial_problem(64, 32, seed=3, trial=trial)
        layer = CrossbarLayer(
            problem.weights,
            device=DeviceModel(drift=Drift(state_dependent=True)),
            tile_rows=64,
            tile_cols=64,
            seed=problem.layer_seed,
        )
        expected = layer.relative_error(problem.inputs, 0.0, problem.read_seed)
        assert result.errors[0, trial] == expected
        # the exact circuit solver with micro-ohm wires joins the ideal product continuously
        assert abs(result.errors[1, trial] - expected) < 1e-6
        assert result.errors[2, trial] > expected


def test_error_grows_with_wire_resistance() -> None:
    config = SweepConfig(size=48, adc_bits=12)  # a fine ADC, so that IR drop dominates
    result = run_sweep("wire_resistance", [0.0, 2.0, 5.0, 10.0], trials=2, config=config)
    assert np.all(np.diff(result.mean) > 0), result.summary()
    assert result.mean[-1] > 2 * result.mean[0]


def test_error_grows_with_array_size() -> None:
    config = SweepConfig(wire_resistance=2.0, adc_bits=10)
    result = run_sweep("size", [16, 32, 64, 128], trials=2, config=config)
    assert np.all(np.diff(result.mean) > 0), result.summary()


def test_drift_points_share_one_programmed_layer() -> None:
    """Reading one programmed layer at several times equals programming it afresh for each."""
    config = SweepConfig(size=16, batch=4, programming_noise=1.0, drift_compensation=True)
    times = [0.0, 1e3, 3.15e7]
    result = run_sweep("drift_time", times, trials=2, seed=5, config=config)
    for k, t in enumerate(times):
        for trial in range(2):
            fresh = trial_error(config.with_value("drift_time", t), seed=5, trial=trial)
            assert result.errors[k, trial] == fresh
    assert result.mean[2] > result.mean[0]


def test_csv_has_the_documented_columns(tmp_path: Path) -> None:
    config = SweepConfig(size=16, batch=4)
    result = run_sweep("adc_bits", [4, 8], "fault_rate", [0.0, 0.1, 0.2], trials=3, config=config)
    header, rows = _read_csv(result.write_csv(tmp_path / "sweep.csv"))
    assert header == ["adc_bits", "fault_rate", *CSV_COLUMNS]
    assert header == list(result.columns)
    assert len(rows) == 2 * 3 * 3
    points: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in rows:
        points.setdefault((row["adc_bits"], row["fault_rate"]), []).append(row)
    assert sorted(points) == sorted((b, f) for b in ("4", "8") for f in ("0.0", "0.1", "0.2"))
    for group in points.values():
        errors = [float(r["relative_error"]) for r in group]
        assert [int(r["trial"]) for r in group] == [0, 1, 2]
        assert float(group[0]["mean"]) == pytest.approx(np.mean(errors), rel=1e-12)
        assert float(group[0]["std"]) == pytest.approx(np.std(errors, ddof=1), rel=1e-12)
    # the table round-trips the stored errors exactly
    assert [float(r["relative_error"]) for r in rows] == result.errors.ravel().tolist()


def test_one_dimensional_plot_has_error_bars(tmp_path: Path) -> None:
    result = run_sweep("drift_time", [0.0, 1e2, 1e5], trials=2, config=SweepConfig(size=8))
    fig = result.plot(tmp_path / "curve.png")
    (ax,) = fig.axes
    assert ax.get_xscale() == "symlog"  # drift time is logarithmic; 0 needs the linear part
    assert ax.containers, "no error bars"
    assert (tmp_path / "curve.png").read_bytes().startswith(PNG_MAGIC)


def test_two_dimensional_sweep_draws_a_heat_map(tmp_path: Path) -> None:
    config = SweepConfig(size=8, batch=4)
    result = run_sweep(
        "fault_rate", [0.0, 0.05], "programming_noise", [0.0, 0.5, 1.0], trials=2, config=config
    )
    assert result.errors.shape == (2, 3, 2)
    fig = result.plot(tmp_path / "heat.png")
    images = [im for ax in fig.axes for im in ax.get_images() if isinstance(im, AxesImage)]
    assert len(images) == 1
    np.testing.assert_allclose(images[0].get_array(), 100 * result.mean)  # type: ignore[arg-type]
    assert (tmp_path / "heat.png").read_bytes().startswith(PNG_MAGIC)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"parameter": "voltage", "values": [1.0]}, "valid parameters: size, wire_resistance"),
        ({"parameter": "size", "values": []}, "non-empty list"),
        ({"parameter": "wire_resistance", "values": [1.0, -0.5]}, ">= 0 ohm"),
        ({"parameter": "wire_resistance", "values": [math.nan]}, "got nan"),
        ({"parameter": "drift_time", "values": [math.inf]}, "finite read time"),
        ({"parameter": "adc_bits", "values": [0]}, "ADC bits"),
        ({"parameter": "adc_bits", "values": [6.5]}, "integer"),
        ({"parameter": "size", "values": [8, 8]}, "repeats"),
        ({"parameter": "size", "values": [True]}, "integer array size"),
        ({"parameter": "fault_rate", "values": [1.5]}, "probability"),
        ({"parameter": "size", "values": [8], "parameter2": "size", "values2": [4]}, "differ"),
        ({"parameter": "size", "values": [8], "parameter2": "adc_bits"}, "together"),
        ({"parameter": "size", "values": [8], "trials": 0}, "trials"),
        ({"parameter": "size", "values": [8], "seed": -1}, "seed"),
    ],
)
def test_bad_sweeps_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_sweep(**kwargs)  # type: ignore[arg-type]


def test_bad_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="ADC bits"):
        SweepConfig(adc_bits=1)
    with pytest.raises(ValueError, match="batch"):
        SweepConfig(batch=0)
    with pytest.raises(ValueError, match="valid parameters"):
        SweepConfig().with_value("r_word", 1.0)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.floats(min_value=0, max_value=1e12, allow_nan=False), min_size=1, max_size=6, unique=True
    )
)
def test_parse_values_round_trips(values: list[float]) -> None:
    assert parse_values("wire_resistance", ",".join(repr(v) for v in values)) == tuple(values)


@pytest.mark.parametrize("text", ["", "1,,2", "1, x", "nan", "-1", " , "])
def test_parse_values_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="wire_resistance"):
        parse_values("wire_resistance", text)


# ---------------------------------------------------------------------------- the CLI
def test_cli_writes_csv_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study"
    argv = ["crossbar", "sweep", "--param", "wire_resistance", "--values", "0,1,5"]
    argv += ["--param2", "size", "--values2", "8,16", "--trials", "2", "--batch", "4"]
    code = main([*argv, "--set", "adc_bits=10", "--out", str(out), "--no-progress"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    header, rows = _read_csv(out / "sweep.csv")
    assert header == ["wire_resistance", "size", *CSV_COLUMNS]
    assert len(rows) == 3 * 2 * 2
    assert (out / "sweep.png").read_bytes().startswith(PNG_MAGIC)
    assert "mean (%)" in stdout and "adc_bits 10 bit" in stdout
    # the printed means are the CSV's
    first = next(line for line in stdout.splitlines() if line.split()[:2] == ["0", "8"])
    assert float(first.split()[2]) == pytest.approx(100 * float(rows[0]["mean"]), abs=1e-3)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--param", "voltage", "--values", "1"], "unknown sweep parameter 'voltage'"),
        (["--param", "wire_resistance", "--values", "0,-1"], ">= 0 ohm"),
        (["--param", "wire_resistance", "--values", "0,nan"], "got 'nan'"),
        (["--param", "adc_bits", "--values", "0,8"], "ADC bits"),
        (["--param", "size", "--values", ""], "comma-separated"),
        (["--param", "size", "--values", "8", "--param2", "adc_bits"], "together"),
        (["--param", "size", "--values", "8", "--size", "16"], "size is swept"),
        (["--param", "adc_bits", "--values", "8", "--size", "-3"], "array size"),
        (["--param", "adc_bits", "--values", "8", "--set", "adc_bits=4"], "swept"),
        (["--param", "adc_bits", "--values", "8", "--set", "foo"], "NAME=VALUE"),
        (["--param", "adc_bits", "--values", "8", "--trials", "0"], "positive integer"),
        (["--values", "8"], "required: --param"),
    ],
)
def test_cli_rejects_bad_input(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study"
    code = main(["crossbar", "sweep", *extra, "--out", str(out), "--no-progress"])
    stderr = capsys.readouterr().err
    assert code == 2
    assert stderr.startswith("snn: error: ") and stderr.count("\n") == 1, stderr
    assert message in stderr
    assert not out.exists(), "a rejected command must write nothing"


def test_cli_rejects_a_file_as_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("keep")
    code = main(["crossbar", "sweep", "--param", "size", "--values", "4", "--out", str(target)])
    assert code == 2 and "not a directory" in capsys.readouterr().err
    assert target.read_text() == "keep"


def test_cli_help_lists_every_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crossbar", "sweep", "--help"]) == 0
    listed = next(
        line for line in capsys.readouterr().out.splitlines() if line.startswith("parameters:")
    )
    assert listed.removeprefix("parameters: ").split(", ") == list(PARAMETERS)


def test_parser_imports_neither_torch_nor_the_study() -> None:
    code = (
        "import sys; from snn.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'snn.hardware.crossbar.sweep') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
    assert build_parser() is not None
