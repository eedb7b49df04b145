"""The ``snn`` command line: demo, simulate, backends, info and one-line errors (exit status 2)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import snn
import snn.io
from snn.cli import DEMO_STEPS, main
from snn.io import load_network, load_recording, save


def small_network() -> snn.Network:
    net = snn.Network(dt=0.1e-3, seed=3)
    src = net.population(20, snn.SpikeSourcePoisson(rate=100.0), label="input")
    exc = net.population(30, snn.LIF(tau_refrac=2e-3), label="exc")
    net.connect(src, exc, snn.FixedProbability(0.4), weight=1.5e-9, delay=0.5e-3)
    net.record(exc, "spikes", "v", interval=1e-3)
    net.record(src, "spikes")
    return net


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.h5"
    save(small_network(), path)
    return path


#: a real event-camera recording (Tonic's AEDAT4 test sample) when ../shared is beside the repo
REAL_RECORDING = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "real_events"
    / "dvxplorer_sample.aedat4"
)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_writes_network_recording_and_raster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "demo"
    argv = ["demo", "--out", str(out_dir), "--backend", "numpy", "--n", "200"]
    # a tiny event-camera part (the default trains on 550 gestures); a real recording if at hand
    argv += ["--gestures", "33", "--gesture-epochs", "1"]
    if REAL_RECORDING.is_file():
        argv += ["--events", str(REAL_RECORDING)]
    code, out, err = run([*argv, "--duration", "0.05", "--no-progress"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "dvs",
        "raster.png",
        "recording.h5",
        "vogels_abbott.h5",
    ]
    dvs = out_dir / "dvs"
    for name in (
        "train/model.h5",
        "gesture_spikes.h5",
        "gesture_raster.png",
        "bench/report.md",
        "bench/report.html",
    ):
        assert (dvs / name).is_file(), name
    agreement = re.search(r"equal torch's on (\d+)/(\d+) test samples", out)
    assert agreement is not None, out
    same, total = map(int, agreement.groups())
    assert total == 11 and same >= total - 1
    assert "T = 1 accumulated-frame baseline" in out
    assert "on PCM crossbars, 1 year, drift-compensated:" in out
    deep_rec = load_recording(dvs / "gesture_spikes.h5")
    assert set(deep_rec.spikes) == {"conv1", "conv2", "conv3", "conv4"}
    if REAL_RECORDING.is_file():
        # the DVXplorer sample: 111,954 events on a 320x240 sensor, cropped to 128x128
        assert "111,954 events from a 320x240 sensor" in out
        assert re.search(r"-> class \d+ \(", out)
    else:
        assert "no real recording given" in out
    assert (out_dir / "raster.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    net = load_network(out_dir / "vogels_abbott.h5")
    assert sum(p.size for p in net.populations) == 200
    rec = load_recording(out_dir / "recording.h5")
    assert rec.backend == "numpy" and rec.duration == pytest.approx(0.05)
    for label in ("exc", "inh"):
        assert f"{label} {rec.rate(label):.2f} Hz" in out
        assert f"{rec.spikes[label].count:,}" in out
    for k, step in enumerate(DEMO_STEPS, start=1):
        assert f"[{k}/{len(DEMO_STEPS)}] {step.title}" in out
    assert "timings:" in out


def test_simulate_round_trip(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = tmp_path / "result.h5"
    argv = ["simulate", str(model_file), "--duration", "0.05", "--backend", "numpy"]
    code, out, err = run([*argv, "--out", str(result), "--no-progress"], capsys)
    assert code == 0, err
    rec = load_recording(result)
    expected = small_network().run(0.05, backend="numpy")
    for label, sp in expected.spikes.items():
        np.testing.assert_array_equal(rec.spikes[label].times, sp.times)
        np.testing.assert_array_equal(rec.spikes[label].ids, sp.ids)
    np.testing.assert_array_equal(rec.trace("exc", "v").values, expected.trace("exc", "v").values)
    assert rec.metadata["network_file"] == str(model_file)
    assert f"{rec.rate('exc'):.2f}" in out and "wall time" in out
    assert str(result) in out

    code, _, err = run([*argv, "--seed", "5", "--out", str(result), "--no-progress"], capsys)
    assert code == 0, err
    again = load_recording(result)
    assert again.seed == 5
    assert not np.array_equal(again.spikes["input"].ids, rec.spikes["input"].ids)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_simulate_in_float32(
    backend: str, model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = tmp_path / "result.h5"
    argv = ["simulate", str(model_file), "--duration", "0.05", "--backend", backend]
    code, out, err = run([*argv, "--precision", "float32", "--out", str(result)], capsys)
    assert code == 0, err
    assert "in float32" in out
    rec = load_recording(result)
    assert rec.metadata["precision"] == "float32"
    expected = small_network().run(0.05, backend="numpy", precision="float32")
    for label, sp in expected.spikes.items():
        np.testing.assert_array_equal(rec.spikes[label].ids, sp.ids)
    np.testing.assert_array_equal(rec.trace("exc", "v").values, expected.trace("exc", "v").values)
    assert not np.array_equal(
        rec.trace("exc", "v").values, small_network().run(0.05).trace("exc", "v").values
    ), "float32 gave the float64 trace"


def test_simulate_float32_on_a_backend_without_it_is_an_error(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("brian2")
    argv = ["simulate", str(model_file), "--duration", "0.01", "--backend", "brian2"]
    code, _, err = run([*argv, "--precision", "float32", "--out", str(tmp_path / "r.h5")], capsys)
    assert code != 0
    assert "precision" in err and not (tmp_path / "r.h5").exists()


def test_simulate_with_progress_bar(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate", str(model_file), "--duration", "0.01", "--backend", "numpy"]
    code, _, err = run([*argv, "--out", str(tmp_path / "r.h5")], capsys)
    assert code == 0, err
    assert "snn[numpy]" in err  # tqdm writes its bar to stderr


def test_backends_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["backends"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["backend", "available", "details"]
    reasons = snn.backends.available()
    for name, reason in reasons.items():
        [row] = [line for line in lines if line.split()[0] == name]
        assert row.split()[1] == ("yes" if reason is None else "no")
        if reason is not None:
            assert reason in row


def test_info_on_network_and_recording(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["info", str(model_file)], capsys)
    assert code == 0
    assert "snn-stack network, format_version 1" in out
    for text in ("input", "exc", "SpikeSourcePoisson", "IF_curr_exp", "fixed_probability"):
        assert text in out
    rec = small_network().run(0.02)
    save(rec, tmp_path / "rec.h5")
    code, out, _ = run(["info", str(tmp_path / "rec.h5")], capsys)
    assert code == 0
    assert "snn-stack recording" in out and "exc.v" in out
    assert f"{rec.rate('input'):.2f}" in out


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"], capsys)[0] == 0
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and snn.__version__ in out


def _error_cases(model: Path, tmp: Path) -> list[tuple[list[str], str]]:
    not_hdf5 = tmp / "notes.h5"
    not_hdf5.write_text("not hdf5")
    recording = tmp / "rec.h5"
    save(snn.recording.Recording(dt=1e-4, duration=0.0, backend="numpy", seed=1), recording)
    out = str(tmp / "out.h5")
    sim = ["simulate", str(model), "--backend", "numpy", "--out", out, "--no-progress"]
    return [
        (
            [
                "simulate",
                str(tmp / "missing.h5"),
                "--duration",
                "0.01",
                "--backend",
                "numpy",
                "--out",
                out,
            ],
            "no such file",
        ),
        (
            ["simulate", str(not_hdf5), "--duration", "0.01", "--backend", "numpy", "--out", out],
            "not an HDF5 file",
        ),
        (
            ["simulate", str(recording), "--duration", "0.01", "--backend", "numpy", "--out", out],
            "holds a recording, not a network",
        ),
        ([*sim, "--duration", "-1"], "must be a positive number of seconds"),
        ([*sim, "--duration", "soon"], "must be a positive number of seconds"),
        ([*sim, "--duration", "0.00005"], "not a whole number of steps"),
        ([*sim, "--duration", "0.01", "--seed", "-3"], "must be a non-negative integer"),
        (
            ["simulate", str(model), "--duration", "0.01", "--backend", "nest", "--out", out],
            "invalid choice: 'nest'",
        ),
        (
            [
                "simulate",
                str(model),
                "--duration",
                "0.01",
                "--backend",
                "numpy",
                "--out",
                str(tmp / "no-dir" / "r.h5"),
            ],
            "does not exist",
        ),
        (
            [
                "simulate",
                str(model),
                "--duration",
                "0.01",
                "--backend",
                "numpy",
                "--out",
                str(model),
            ],
            "is the input file",
        ),
        (["info", str(tmp / "missing.h5")], "no such file"),
        (["info", str(not_hdf5)], "not an HDF5 file"),
        (["demo", "--backend", "tpu"], "invalid choice: 'tpu'"),
        (["demo", "--out", str(not_hdf5), "--backend", "numpy"], "is not a directory"),
        (["demo", "--out", str(tmp / "d"), "--n", "0"], "must be a positive integer"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "required"),
    ]


def test_errors_are_one_line_with_status_2(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_bytes = model_file.read_bytes()
    for argv, message in _error_cases(model_file, tmp_path):
        code, out, err = run(argv, capsys)
        assert code == 2, (argv, out, err)
        assert err.count("\n") == 1 and err.startswith("snn: error: "), (argv, err)
        assert message in err, (argv, err)
        assert "Traceback" not in err + out
        assert not (tmp_path / "out.h5").exists()
    assert model_file.read_bytes() == model_bytes
    assert not list(tmp_path.glob(".*.tmp"))


def test_demo_error_for_a_bad_size_leaves_no_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["demo", "--out", str(tmp_path / "d"), "--backend", "numpy", "--n", "3"]
    code, _, err = run(argv, capsys)
    assert code == 2 and "n must be an integer >= 5" in err
    assert list((tmp_path / "d").iterdir()) == []


def test_failed_write_keeps_the_old_result(
    model_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = tmp_path / "result.h5"
    result.write_bytes(b"previous result")

    def broken(f: object, rec: object) -> None:
        raise ValueError("recording metadata cannot be stored as JSON: simulated failure")

    monkeypatch.setattr(snn.io, "_write_recording", broken)
    argv = ["simulate", str(model_file), "--duration", "0.01", "--backend", "numpy"]
    code, _, err = run([*argv, "--out", str(result), "--no-progress"], capsys)
    assert code == 2 and "simulated failure" in err
    assert result.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5", "result.h5"]
