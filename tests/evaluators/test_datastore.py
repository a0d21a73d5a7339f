"""The HDF5 data store: round trip, lazy reading, atomic writing, bad files."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest

from evaluators.datastore import DataStore, DataStoreError, DataStoreWriter, spikes_from_lists


def _write(path, n_seg=3):
    trains = [[1.0, 5.0, 9.0], [], [2.5]]
    with DataStoreWriter(path, simulator="t", seed=7, params={"a": 1.5}, note="hi") as w:
        w.add_sheet("exc", ids=[10, 11, 12], x=[0.0, 1.0, 2.0], y=[0.0, 0.5, -1.0],
                    orientation=[0.0, 1.0, 3.0])
        w.add_sheet("inh", ids=[20], x=[0.0], y=[0.0])
        for k in range(n_seg):
            seg = w.add_segment(kind="grating", duration_ms=100.0, orientation=k * math.pi / 4,
                                contrast=100.0, temporal_frequency=2.0, custom=k)
            w.add_spikes(seg, "exc", trains)
            w.add_spikes(seg, "inh", spikes_from_lists([[float(k)]]))
            w.add_signal(seg, "exc", "gsyn_exc", ids=[10, 12], data=np.ones((2, 5)) * k, dt_ms=0.1)
        w.add_timeseries("dipole", np.arange(4.0), np.array([0.0, 1.0, 0.0, -1.0]))
    return path


def test_round_trip(tmp_path):
    path = _write(tmp_path / "ds.h5")
    with DataStore(path) as s:
        md = s.metadata
        assert md["format"] == "simtune-datastore" and md["seed"] == 7 and md["note"] == "hi"
        assert md["params"] == {"a": 1.5} and md["explosion"] is False and not s.exploded
        assert s.sheet_names() == ["exc", "inh"]
        sh = s.sheet("exc")
        assert sh.ids.tolist() == [10, 11, 12] and sh.orientation.tolist() == [0.0, 1.0, 3.0]
        assert s.sheet("inh").orientation is None and len(s.sheet("inh")) == 1
        assert len(s.segments()) == 3 and len(s.segments(kind="grating", contrast=100)) == 3
        seg = s.segments(orientation=math.pi / 4)
        assert [x.index for x in seg] == [1] and seg[0]["custom"] == 1
        assert math.isnan(seg[0]["radius"]) and seg[0]["trial"] == 0
        t, o = s.spikes(seg[0], "exc")
        assert t.tolist() == [1.0, 5.0, 9.0, 2.5] and o.tolist() == [0, 3, 3, 4]
        assert s.spikes(2, "inh")[0].tolist() == [2.0]
        sig = s.signal(seg[0], "exc", "gsyn_exc")
        assert sig.ids.tolist() == [10, 12] and sig.dt_ms == 0.1 and sig.data.sum() == 10
        assert s.timeseries("dipole")[1].tolist() == [0.0, 1.0, 0.0, -1.0]


def test_reading_is_lazy(tmp_path, monkeypatch):
    path = _write(tmp_path / "ds.h5", n_seg=5)
    read: list[str] = []
    original = h5py.Dataset.__getitem__

    def spy(self, key):
        read.append(self.name)
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    with DataStore(path) as s:
        s.segments(kind="grating")
        _ = s.metadata
        assert read == []  # opening and listing segments reads no dataset
        s.spikes(3, "exc")
        assert sorted(read) == ["/segments/3/exc/spike_offsets", "/segments/3/exc/spike_times"]
        s.sheet("exc")
        s.sheet("exc")  # cached
        assert sum(name.startswith("/sheets/exc") for name in read) == 4


def test_explosion_flag_and_abort(tmp_path):
    with DataStoreWriter(tmp_path / "x.h5") as w:
        w.set_explosion()
    with DataStore(tmp_path / "x.h5") as s:
        assert s.exploded and s.metadata["explosion"] is True
    with pytest.raises(RuntimeError), DataStoreWriter(tmp_path / "half.h5"):
        raise RuntimeError("simulator died")
    assert not (tmp_path / "half.h5").exists() and not (tmp_path / "half.h5.tmp").exists()


def test_errors(tmp_path):
    with pytest.raises(DataStoreError, match="no data store"):
        DataStore(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(DataStoreError, match="cannot open"):
        DataStore(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(DataStoreError, match="not a simtune data store"):
        DataStore(tmp_path / "other.h5")
    path = _write(tmp_path / "ds.h5")
    with DataStore(path) as s:
        with pytest.raises(DataStoreError, match="no sheet"):
            s.sheet("nosuch")
        with pytest.raises(DataStoreError, match="no data for sheet"):
            s.spikes(0, "nosuch")
        with pytest.raises(DataStoreError, match="no signal"):
            s.signal(0, "exc", "v")
        with pytest.raises(DataStoreError, match="no time series"):
            s.timeseries("lfp")
    with DataStoreWriter(tmp_path / "bad.h5") as w:
        w.add_sheet("exc", ids=[0, 1], x=[0, 0], y=[0, 0])
        k = w.add_segment(kind="spontaneous", duration_ms=1.0)
        with pytest.raises(DataStoreError, match="expected 3 offsets"):
            w.add_spikes(k, "exc", [[1.0]])


def test_spikes_from_lists_sorts_within_neurons():
    t, o = spikes_from_lists([[5.0, 1.0], [], np.array([3.0])])
    assert t.tolist() == [1.0, 5.0, 3.0] and o.tolist() == [0, 2, 2, 3]
    t, o = spikes_from_lists([])
    assert t.size == 0 and o.tolist() == [0]

