"""The strict data-store check: every writer rule of docs/datastore.md, one corruption each."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Callable

import h5py
import numpy as np
import pytest

from evaluators.datastore import DataStore, DataStoreError, DataStoreWriter
from evaluators.evaluate import build_targets, score_store
from evaluators.store_check import RULES, InvalidDataStore, check_store
from orchestrator.cli import main

REPO = Path(__file__).resolve().parents[2]
HALF_PI = math.pi / 2


def _valid(path: Path) -> Path:
    """A small store using every part of the layout (two sheets, signals, a time series)."""
    with DataStoreWriter(path, simulator="t", seed=3, params={"w": 0.5}) as w:
        w.add_sheet("exc", ids=[10, 11, 12], x=[0.0, 0.5, -0.5], y=[0.0, 0.2, 0.1],
                    orientation=[HALF_PI, HALF_PI + 0.05, 0.0])
        w.add_sheet("inh", ids=[20, 21], x=[0.0, 1.0], y=[0.0, 1.0])
        k = w.add_segment(kind="spontaneous", duration_ms=1000.0)
        w.add_spikes(k, "exc", [[1.0, 5.0, 9.0, 400.0], [], [2.5, 999.9]])
        w.add_spikes(k, "inh", [[3.0], [4.0, 8.0]])
        w.add_signal(k, "exc", "gsyn_exc", ids=[10, 12], data=np.ones((2, 50)), dt_ms=1.0)
        w.add_signal(k, "exc", "gsyn_inh", ids=[10, 12], data=np.full((2, 50), 4.0), dt_ms=1.0)
        for ori in (0.0, HALF_PI):
            k = w.add_segment(kind="grating", duration_ms=500.0, orientation=ori,
                              contrast=100.0, spatial_frequency=0.8, temporal_frequency=2.0)
            w.add_spikes(k, "exc", [[10.0, 20.0], [30.0], [1.0, 2.0, 3.0]])
            w.add_spikes(k, "inh", [[], [499.0]])
        w.add_timeseries("dipole", np.arange(5.0), np.array([0.0, 1.0, 0.0, -1.0, 0.0]))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return _valid(tmp_path / "ds.h5")


def _edit(path: Path, change: Callable[[h5py.File], None]) -> None:
    with h5py.File(path, "a") as f:
        change(f)


def _replace(f: h5py.File, name: str, data: object) -> None:
    del f[name]
    f[name] = data


def _rule(path: Path) -> InvalidDataStore:
    with pytest.raises(InvalidDataStore) as info:
        check_store(path)
    exc = info.value
    assert "\n" not in str(exc) and "Traceback" not in str(exc)
    assert exc.rule in RULES and f"[{exc.rule}]" in str(exc) and str(exc).startswith(exc.where)
    return exc


# -- the corruptions of issue 15, item 7 ----------------------------------------------------------


def test_offsets_of_length_n_instead_of_n_plus_1(store):
    _edit(store, lambda f: _replace(f, "segments/1/exc/spike_offsets", np.array([0, 2, 3])))
    exc = _rule(store)
    assert exc.rule == "offsets-length" and exc.where == "segments/1/exc/spike_offsets"
    assert "expected 4 offsets (n + 1 for the 3 ids of sheet 'exc'), found 3" in str(exc)


def test_unsorted_spikes_within_a_neuron(store):
    _edit(store, lambda f: _replace(f, "segments/0/exc/spike_times",
                                    np.array([1.0, 9.0, 5.0, 400.0, 2.5, 999.9])))
    exc = _rule(store)
    assert exc.rule == "spike-order" and exc.where == "segments/0/exc/spike_times"
    assert "5 after 9 ms within neuron 0" in str(exc)


@pytest.mark.parametrize("bad", [1000.001, 1500.0, -0.1])
def test_spikes_outside_the_segment(store, bad):
    _edit(store, lambda f: _replace(f, "segments/0/exc/spike_times",
                                    np.array([1.0, 5.0, 9.0, 400.0, 2.5, bad])))
    exc = _rule(store)
    assert exc.rule == "spike-range" and "neuron 2 of sheet 'exc'" in str(exc)
    assert "0 <= t <= duration_ms = 1000" in str(exc)


def test_a_spike_at_the_segment_end_is_valid(store):
    """NEST stamps a spike with the end of its time step: t = duration_ms is a real spike."""
    _edit(store, lambda f: _replace(f, "segments/0/exc/spike_times",
                                    np.array([1.0, 5.0, 9.0, 400.0, 2.5, 1000.0])))
    check_store(store)


def test_sheet_orientations_in_degrees_are_refused(store):
    _edit(store, lambda f: _replace(f, "sheets/exc/orientation", np.array([90.0, 93.0, 0.0])))
    exc = _rule(store)
    assert exc.rule == "orientation-range" and exc.where == "sheets/exc/orientation"
    assert "radians in [0, pi]" in str(exc) and "degrees are not accepted" in str(exc)
    assert "np.deg2rad" in str(exc)


def test_segment_orientation_in_degrees_is_refused(store):
    _edit(store, lambda f: f["segments/2"].attrs.__setitem__("orientation", 90.0))
    exc = _rule(store)
    assert exc.rule == "orientation-range" and exc.where == "segments/2 attribute 'orientation'"
    assert "degrees are not accepted" in str(exc)


def _as_one_element_arrays(f: h5py.File) -> None:
    """Every scalar attribute rewritten as a 1-element array, as MATLAB / Julia writers do."""
    objects = [f] + [f[f"segments/{k}"] for k in f["segments"]]
    objects += [f["segments/0/exc/signals/gsyn_exc"], f["segments/0/exc/signals/gsyn_inh"]]
    for obj in objects:
        for key, value in list(obj.attrs.items()):
            if isinstance(value, str):
                obj.attrs.create(key, np.array([value.encode()]))  # fixed-length, as MATLAB
            else:
                obj.attrs[key] = np.array([value])


TARGET_SPECS = [
    {"name": "spont", "class": "SpontActivityTarget", "kind": "range", "target_value": [1, 2],
     "norm": 0.2, "max_score": 20, "sheet_name": "exc", "options": {}},
    {"name": "cond", "class": "ConductanceRatio", "kind": "exact", "target_value": 5.0,
     "norm": 0.2, "max_score": 20, "sheet_name": "exc", "options": {}},
    {"name": "pref", "class": "OrientationTuningPreferenceTarget", "kind": "at_least",
     "target_value": 5.0, "norm": 0.5, "max_score": 20, "sheet_name": "exc", "options": {}},
    {"name": "ortho", "class": "OrientationTuningOrthoHighTarget", "kind": "exact",
     "target_value": 0.0, "norm": 0.5, "max_score": 20, "sheet_name": "exc", "options": {}},
]


def _values(path: Path) -> dict[str, float | None]:
    with DataStore(path) as s:
        outcomes = score_store(build_targets(TARGET_SPECS), s, {})
    return {o.name: o.value for o in outcomes}


def test_scalars_written_as_one_element_arrays_are_accepted_and_read(store, tmp_path):
    expected = _values(store)
    assert all(v is not None for v in expected.values())
    _edit(store, _as_one_element_arrays)
    with h5py.File(store) as f:  # the rewrite really produced arrays
        assert f["segments/0"].attrs["duration_ms"].shape == (1,)
    check_store(store)
    with DataStore(store) as s:  # the reader takes them as scalars
        assert s.metadata["seed"] == 3 and s.metadata["params"] == {"w": 0.5}
        assert s.metadata["format"] == "simtune-datastore" and not s.exploded
        seg = s.segments(kind="grating", orientation=HALF_PI, contrast=100)
        assert [x.index for x in seg] == [2] and seg[0].duration_ms == 500.0
        assert s.signal(0, "exc", "gsyn_exc").dt_ms == 1.0
    assert _values(store) == expected  # every target computes, with the same values


def test_a_multi_element_array_is_not_a_scalar(store):
    _edit(store, lambda f: f["segments/1"].attrs.__setitem__("duration_ms", [500.0, 500.0]))
    exc = _rule(store)
    assert exc.rule == "attribute-type" and "a scalar, found an array of shape (2,)" in str(exc)


# -- every other rule -----------------------------------------------------------------------------


def _attr(path: str, key: str, value: object) -> Callable[[h5py.File], None]:
    return lambda f: f[path].attrs.__setitem__(key, value)


def _del_attr(path: str, key: str) -> Callable[[h5py.File], None]:
    return lambda f: f[path].attrs.__delitem__(key)


def _data(name: str, data: object) -> Callable[[h5py.File], None]:
    return lambda f: _replace(f, name, data)


def _delete(name: str) -> Callable[[h5py.File], None]:
    return lambda f: f.__delitem__(name)


def _add(name: str, data: object) -> Callable[[h5py.File], None]:
    return lambda f: f.__setitem__(name, data)


def _move(src: str, dst: str) -> Callable[[h5py.File], None]:
    return lambda f: f.move(src, dst)


SIG = "segments/0/exc/signals"
CASES = [
    # (rule, where the message points, corruption)
    ("format", "/ attribute 'format'", _attr("/", "format", "other-format")),
    ("format", "/ attribute 'format'", _del_attr("/", "format")),
    ("version", "/ attribute 'version'", _attr("/", "version", 2)),
    ("version", "/ attribute 'version'", _attr("/", "version", "1")),
    ("version", "/ attribute 'version'", _del_attr("/", "version")),
    ("attribute-type", "/ attribute 'seed'", _attr("/", "seed", 1.5)),
    ("attribute-type", "/ attribute 'simulator'", _attr("/", "simulator", 7)),
    ("attribute-type", "segments/1 attribute 'kind'", _attr("segments/1", "kind", 3)),
    ("attribute-type", "segments/1 attribute 'kind'", _del_attr("segments/1", "kind")),
    ("attribute-type", "segments/1 attribute 'duration_ms'",
     _attr("segments/1", "duration_ms", "500")),
    ("attribute-type", "segments/1 attribute 'trial'", _attr("segments/1", "trial", 0.5)),
    ("attribute-type", "segments/1 attribute 'contrast'", _attr("segments/1", "contrast", "hi")),
    ("attribute-value", "/ attribute 'explosion'", _attr("/", "explosion", 2)),
    ("attribute-value", "/ attribute 'params_json'", _attr("/", "params_json", "[1, 2]")),
    ("attribute-value", "/ attribute 'params_json'", _attr("/", "params_json", "{bad")),
    ("attribute-value", "segments/1 attribute 'duration_ms'",
     _attr("segments/1", "duration_ms", 0.0)),
    ("attribute-value", "segments/1 attribute 'duration_ms'",
     _attr("segments/1", "duration_ms", np.nan)),
    ("attribute-value", "segments/1 attribute 'contrast'",
     _attr("segments/1", "contrast", np.inf)),
    ("layout", "segments/0/exc/spike_count", _add("segments/0/exc/spike_count", [1, 2, 3])),
    ("layout", "sheets/inh/x", _delete("sheets/inh/x")),
    ("layout", "sheets/exc/z", _add("sheets/exc/z", [0.0, 0.0, 0.0])),
    ("layout", "timeseries/dipole/times", _delete("timeseries/dipole/times")),
    ("segment-names", "segments", _move("segments/2", "segments/3")),
    ("segment-names", "segments/02", _move("segments/2", "segments/02")),
    ("segment-names", "segments/last", _move("segments/2", "segments/last")),
    ("segment-sheet", "segments/1/lgn", _move("segments/1/inh", "segments/1/lgn")),
    ("dtype", "segments/1/exc/spike_offsets",
     _data("segments/1/exc/spike_offsets", np.array([0.0, 2.0, 3.0, 6.0]))),
    ("dtype", "sheets/inh/ids", _data("sheets/inh/ids", np.array([20.0, 21.0]))),
    ("dtype", "sheets/inh/x", _data("sheets/inh/x", np.array([b"a", b"b"]))),
    ("shape", "sheets/inh/y", _data("sheets/inh/y", np.zeros((2, 1)))),
    ("shape", f"{SIG}/gsyn_exc", lambda f: (_replace(f, f"{SIG}/gsyn_exc", np.ones(50)),
                                            f[f"{SIG}/gsyn_exc"].attrs.__setitem__("dt_ms", 1.0))),
    ("sheet-lengths", "sheets/exc/x", _data("sheets/exc/x", np.zeros(2))),
    ("sheet-lengths", "sheets/exc/orientation", _data("sheets/exc/orientation", np.zeros(4))),
    ("ids-unique", "sheets/exc/ids", _data("sheets/exc/ids", np.array([10, 11, 10]))),
    ("finite", "sheets/exc/y", _data("sheets/exc/y", np.array([0.0, np.nan, 0.0]))),
    ("finite", "segments/2/exc/spike_times",
     _data("segments/2/exc/spike_times", np.array([10.0, 20.0, 30.0, 1.0, np.nan, 3.0]))),
    ("orientation-range", "sheets/exc/orientation",
     _data("sheets/exc/orientation", np.array([-0.1, 0.0, 1.0]))),
    ("spikes-pair", "segments/1/inh/spike_offsets", _delete("segments/1/inh/spike_offsets")),
    ("spikes-pair", "segments/1/inh/spike_times", _delete("segments/1/inh/spike_times")),
    ("offsets-start", "segments/1/exc/spike_offsets",
     _data("segments/1/exc/spike_offsets", np.array([1, 2, 3, 6]))),
    ("offsets-monotonic", "segments/1/exc/spike_offsets",
     _data("segments/1/exc/spike_offsets", np.array([0, 3, 2, 6]))),
    ("offsets-end", "segments/1/exc/spike_offsets",
     _data("segments/1/exc/spike_offsets", np.array([0, 2, 3, 5]))),
    ("signal-ids", f"{SIG}/gsyn_exc", _delete(f"{SIG}/gsyn_exc_ids")),
    ("signal-ids", f"{SIG}/gsyn_inh_ids", _delete(f"{SIG}/gsyn_inh")),
    ("signal-ids", f"{SIG}/gsyn_exc_ids", _data(f"{SIG}/gsyn_exc_ids", np.array([10]))),
    ("signal-ids", f"{SIG}/gsyn_exc_ids", _data(f"{SIG}/gsyn_exc_ids", np.array([10, 10]))),
    ("signal-ids", f"{SIG}/gsyn_exc_ids", _data(f"{SIG}/gsyn_exc_ids", np.array([10, 99]))),
    ("signal-dt", f"{SIG}/gsyn_exc attribute 'dt_ms'", _del_attr(f"{SIG}/gsyn_exc", "dt_ms")),
    ("signal-dt", f"{SIG}/gsyn_exc attribute 'dt_ms'", _attr(f"{SIG}/gsyn_exc", "dt_ms", 0.0)),
    ("timeseries", "timeseries/dipole/values", _data("timeseries/dipole/values", np.zeros(4))),
    ("timeseries", "timeseries/dipole/times",
     _data("timeseries/dipole/times", np.array([0.0, 1.0, 1.0, 2.0, 3.0]))),
    ("values", "values/rate", _add("values/rate", np.array([1.0, 2.0]))),
    ("values", "values/label", _add("values/label", np.bytes_("fast"))),
]


@pytest.mark.parametrize(("rule", "where", "corrupt"), CASES,
                         ids=[f"{r}:{w}" for r, w, _ in CASES])
def test_each_rule(store, rule, where, corrupt):
    check_store(store)
    _edit(store, corrupt)
    exc = _rule(store)
    assert (exc.rule, exc.where) == (rule, where), str(exc)


def test_every_rule_is_exercised():
    tested = {r for r, _, _ in CASES} | {"offsets-length", "spike-order", "spike-range", "hdf5"}
    assert tested == set(RULES)


def test_unreadable_and_missing_files(tmp_path):
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    exc = _rule(tmp_path / "junk.h5")
    assert exc.rule == "hdf5" and exc.where == "junk.h5"
    with pytest.raises(DataStoreError, match="no data store"):
        check_store(tmp_path / "missing.h5")


# -- valid stores pass ----------------------------------------------------------------------------


def test_writer_store_passes_by_path_and_open_store(store):
    check_store(store)
    check_store(str(store))
    with DataStore(store) as s:
        check_store(s)
        assert s.sheet_names() == ["exc", "inh"]  # the store stays usable


def test_documented_freedoms_pass(store):
    def loosen(f: h5py.File) -> None:
        f.attrs["explosion"] = True                       # bool for 0/1
        f.attrs["trial_note"] = np.arange(3)              # free attributes, any type
        f["segments/1"].attrs["trial"] = 2.0              # MATLAB double for an integer
        f["segments/1"].attrs["phases"] = [0.0, 1.0]      # free array attribute
        f["segments/2"].attrs["orientation"] = 2 * math.pi - 0.1  # drift direction < 2 pi
        _replace(f, "sheets/exc/orientation", np.array([math.pi, 0.0, 1.0]))  # pi is 0
        _replace(f, "segments/0/inh/spike_times", np.array([3, 4, 8], np.int32))  # int times
        f.create_group("provenance")                      # extra top-level member
        f["segments/0/inh"].create_group("signals")       # empty signals group
    _edit(store, loosen)
    check_store(store)
    with DataStore(store) as s:  # free array attributes do not break segment matching
        assert [x.index for x in s.segments(phases=1.0)] == []
        assert [x.index for x in s.segments(kind="grating", trial=2)] == [1]


def test_minimal_julia_style_store_passes(tmp_path):
    """The doc's Julia example: no simulator/seed/params, only kind and duration_ms."""
    path = tmp_path / "julia.h5"
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "simtune-datastore"
        f.attrs["version"] = np.array([1])
        f.attrs["explosion"] = 0
        f["sheets/exc/ids"] = np.arange(3)
        f["sheets/exc/x"] = np.zeros(3)
        f["sheets/exc/y"] = np.zeros(3)
        g = f.create_group("segments/0")
        g.attrs["kind"] = "spontaneous"
        g.attrs["duration_ms"] = 5000.0
        f["segments/0/exc/spike_times"] = np.array([1.0, 2.0, 0.5])
        f["segments/0/exc/spike_offsets"] = np.array([0, 2, 2, 3])
    check_store(path)
    with DataStore(path) as s:
        assert s.segments()[0].duration_ms == 5000.0 and s.sheet_names() == ["exc"]


def test_empty_store_passes(tmp_path):
    with DataStoreWriter(tmp_path / "empty.h5"):
        pass
    check_store(tmp_path / "empty.h5")


def test_existing_test_stores_pass(tmp_path):
    from tests.evaluators.test_datastore import _write
    from tests.helpers import sims
    from tests.targets.conftest import standard_segments, write_store

    check_store(write_store(tmp_path / "targets.h5", standard_segments()))
    check_store(_write(tmp_path / "datastore.h5"))
    for mode in ("ok", "nan", "explosion"):  # NaN values are a blow-up, not a layout error
        out = tmp_path / mode
        out.mkdir()
        check_store(sims.misbehave({"a": 0.3}, out, seed=1, mode=mode))


def test_v1_sheet_model_store_passes(tmp_path):
    from evaluators.models import v1_sheet

    tiny = {"spontaneous_ms": 300.0, "stimulus_ms": 200.0, "n_exc": 300, "n_inh": 80,
            "check_ms": 100.0}
    check_store(v1_sheet.simulate({}, tmp_path / "v1.h5", seed=1, protocol=tiny))


def test_h5py_writer_of_the_nest_example_passes(tmp_path):
    """``param_optim/nest_sheet/run_nest.py`` writes the layout with h5py, not simtune."""
    spec = importlib.util.spec_from_file_location(
        "run_nest", REPO / "param_optim" / "nest_sheet" / "run_nest.py")
    assert spec is not None and spec.loader is not None
    run_nest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_nest)
    check = {"exc": (np.array([1.0, 5.0, 2.0]), np.array([0, 2, 3]), 2),
             "inh": (np.zeros(0), np.array([0, 0]), 1)}
    main_segment = {"exc": (np.array([100.0, 2.0]), np.array([0, 1, 2]), 2),
                    "inh": (np.array([3.0]), np.array([0, 1]), 1)}
    result = {"params": dict(run_nest.DEFAULTS), "explosion": True,
              "segments": [(200.0, check), (1000.0, main_segment)]}
    run_nest.write_store(str(tmp_path / "nest.h5"), result, seed=4)
    check_store(tmp_path / "nest.h5")
    with DataStore(tmp_path / "nest.h5") as s:
        assert [seg.duration_ms for seg in s.segments()] == [200.0, 1000.0] and s.exploded
    # the published form of segment 1 for gates: one segment, keeping its index
    run_nest.write_store(str(tmp_path / "1.h5"), result, seed=4, only=1)
    with h5py.File(tmp_path / "1.h5") as f:
        assert list(f["segments"]) == ["1"] and list(f["sheets"]) == ["exc", "inh"]
    assert not list(tmp_path.glob(".*.tmp"))


# -- the command ----------------------------------------------------------------------------------


def test_check_store_command(store, tmp_path, capsys):
    assert main(["check-store", str(store)]) == 0
    assert capsys.readouterr().out == f"{store}: valid\n"
    _edit(store, lambda f: _replace(f, "segments/1/exc/spike_offsets", np.array([0, 2, 3])))
    assert main(["check-store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"simtune: {store}: segments/1/exc/spike_offsets: ")
    assert "[offsets-length]" in err
    assert main(["check-store", str(tmp_path / "missing.h5")]) == 2
    assert "no data store" in capsys.readouterr().err
