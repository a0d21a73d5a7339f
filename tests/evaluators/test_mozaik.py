"""The mozaik adapter on two REAL mozaik data stores (../shared/data/mozaik/).

Every target is scored on the converted store the way ``simtune score`` does (build_targets +
score_store) and compared with the value computed here, independently, from the neo objects of
the mozaik store -- with the formulas of the mozaik Optimization tool
(CSNG-MFF/mozaik-tools ``Optimization/targets.py``), on the recorded neurons.
"""

from __future__ import annotations

import gc
import inspect
import math
import os
import pickle
import re
import tarfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluators import mozaik
from evaluators.datastore import DataStore
from evaluators.evaluate import build_targets, score_store
from evaluators.store_check import check_store
from orchestrator.cli import main

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mozaik"
VA, PP = "vogels_abbott_2005", "pushpull_v1"
HALF_PI = math.pi / 2


def _need(name: str) -> Path:
    tarball = DATA / f"{name}.tar.gz"
    if not tarball.is_file():
        pytest.skip(f"the real mozaik store {tarball} is not here")
    pytest.importorskip("neo", reason="neo is not installed (pip install 'simtune[mozaik]')")
    pytest.importorskip("quantities", reason="quantities is not installed")
    return tarball


def _unpack(tarball: Path, into: Path) -> Path:
    with tarfile.open(tarball) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4
            tar.extractall(into, filter="data")
        else:  # pragma: no cover
            tar.extractall(into)
    (top,) = [p for p in into.iterdir() if p.is_dir()]
    return top


# -- the reference: neo objects read here, without the adapter ------------------------------------


class _Wrapper:  # mozaik's PickledDataStoreNeoWrapper, as the data README's recipe stubs it
    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


class _Stubbing(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return _Wrapper if module.startswith("mozaik") else super().find_class(module, name)


def _field(stimulus: str, key: str) -> Any:
    m = re.search(rf'"{key}"\s*:\s*([^,}}]+)', stimulus)
    if m is None:
        return None
    text = m.group(1).strip().strip("'\"")
    try:
        return float(text)
    except ValueError:
        return None if text == "None" else text


@dataclass
class _Seg:
    """One non-null mozaik segment of one sheet, as neo gives it."""

    sheet: str
    name: str
    duration: float
    orientation: float | None
    contrast: float | None
    radius: float | None
    tf: float | None
    driven: bool
    trains: list[np.ndarray]  # ms, in the spike-train order of the segment
    ids: np.ndarray
    t_start: float
    t_stop: float
    signals: dict[str, tuple[np.ndarray, np.ndarray, float]] = field(default_factory=dict)


@dataclass
class _Ref:
    segs: list[_Seg]
    neuron_ids: dict[str, np.ndarray]
    positions: dict[str, np.ndarray]
    annotations: dict[str, list]

    def find(self, sheet: str, name: str, **match: float) -> list[_Seg]:
        out = [s for s in self.segs if s.sheet == sheet and s.name == name]
        for key, want in match.items():
            out = [s for s in out if getattr(s, key) is not None
                   and math.isclose(getattr(s, key), want, abs_tol=1e-9)]
        return out

    def spont(self, sheet: str) -> _Seg:
        (seg,) = [s for s in self.find(sheet, "InternalStimulus") if not s.driven]
        return seg

    def xy(self, sheet: str, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        index = {int(i): k for k, i in enumerate(self.neuron_ids[sheet])}
        k = np.array([index[int(i)] for i in ids])
        return self.positions[sheet][0][k], self.positions[sheet][1][k]

    def orientation(self, sheet: str, ids: np.ndarray) -> np.ndarray:
        index = {int(i): k for k, i in enumerate(self.neuron_ids[sheet])}
        return np.array([float(self.annotations[sheet][index[int(i)]]["LGNAfferentOrientation"])
                         for i in ids])


def _reference(root: Path) -> _Ref:
    import quantities as pq

    with open(root / "datastore.recordings.pickle", "rb") as fh:
        block = _Stubbing(fh).load()
    ann = block.annotations
    segs = []
    for w in block.segments:
        if w.null:
            continue
        with open(root / f"{w.identifier}.pickle", "rb") as fh:
            seg = pickle.load(fh)
        stim = w.annotations["stimulus"]
        sts = list(seg.spiketrains)
        s = _Seg(
            sheet=w.annotations["sheet_name"], name=_field(stim, "name"),
            duration=_field(stim, "duration"), orientation=_field(stim, "orientation"),
            contrast=_field(stim, "contrast"), radius=_field(stim, "radius"),
            tf=_field(stim, "temporal_frequency"),
            driven=_field(stim, "direct_stimulation_name") is not None,
            trains=[np.asarray(st.rescale(pq.ms).magnitude) for st in sts],
            ids=np.array([st.annotations["source_id"] for st in sts]),
            t_start=float(sts[0].t_start.rescale(pq.ms)), t_stop=float(sts[0].t_stop.rescale(pq.ms)),
        )
        for a in seg.analogsignals:
            s.signals[a.name] = (np.asarray(a.annotations["source_ids"]),
                                 np.asarray(a.magnitude), str(a.units.dimensionality))
        segs.append(s)
        del seg
    gc.collect()
    return _Ref(segs, dict(ann["neuron_ids"]), dict(ann["neuron_positions"]),
                dict(ann["neuron_annotations"]))


# -- the original tool's formulas, on neo's spike trains ------------------------------------------


def rate(seg: _Seg, cells: np.ndarray | None = None) -> float:
    """``get_mean_rate``: 1000 * mean spike count / (t_stop - t_start)."""
    counts = np.array([t.size for t in seg.trains], float)
    counts = counts if cells is None else counts[cells]
    return float(1000.0 * counts.mean() / (seg.t_stop - seg.t_start))


def spont_activity(seg: _Seg) -> float:
    """``SpontActivityTarget``: 1000 * mean(len(s) / (t_stop - t_start))."""
    return float(1000 * np.mean([t.size / (seg.t_stop - seg.t_start) for t in seg.trains]))


def irregularity(seg: _Seg) -> float:
    """``IrregularityTarget``: mean CV of the ISIs of the trains with more than 5 ISIs."""
    isis = [np.diff(t) for t in seg.trains]
    keep = np.array([i.size for i in isis]) > 5
    if not keep.any():
        return math.nan  # numpy.mean of nothing: the original's value is NaN
    return float(np.mean(np.array([np.std(i) / np.mean(i) if i.size else np.nan
                                   for i in isis])[keep]))


def psths(trains: list[np.ndarray], t_start: float, t_stop: float) -> np.ndarray:
    n = int(round((t_stop - t_start) / 10.0))
    return np.array([np.histogram(t, bins=n, range=(t_start, t_stop))[0] for t in trains])


def synchrony(ref: _Ref, seg: _Seg, half_width: float = 1.5) -> float:
    """``SynchronyTarget`` (positions looked up by id): central cells, > 5 ISIs, 10 ms PSTHs."""
    x, y = ref.xy(seg.sheet, seg.ids)
    central = np.maximum(np.abs(x), np.abs(y)) <= half_width
    trains = [t for t, c in zip(seg.trains, central) if c]
    keep = np.array([t.size - 1 for t in trains]) > 5
    if keep.sum() < 2:
        return math.nan  # no pair: the original's mean of an empty triangle is NaN
    with np.errstate(invalid="ignore", divide="ignore"):
        corrs = np.nan_to_num(np.corrcoef(psths(trains, seg.t_start, seg.t_stop)))
    return float(np.mean(corrs[keep, :][:, keep][np.triu_indices(int(keep.sum()), 1)]))


def conductance_ratio(seg: _Seg) -> float:
    """``ConductanceRatio``: mean over cells of the time-mean gsyn_inh / the same of gsyn_exc."""
    return float(seg.signals["gsyn_inh"][1].mean(axis=0).mean()
                 / seg.signals["gsyn_exc"][1].mean(axis=0).mean())


def circular_dist(a: np.ndarray, b: float) -> np.ndarray:
    d = np.abs(np.asarray(a) - b) % math.pi
    return np.minimum(d, math.pi - d)


def preferring(ref: _Ref, seg: _Seg, orientation: float) -> np.ndarray:
    """``get_orient_cell_idx``: recorded cells within 0.1 rad (period pi) of ``orientation``."""
    return np.flatnonzero(circular_dist(ref.orientation(seg.sheet, seg.ids), orientation) < 0.1)


def modulation_ratio(ref: _Ref, sheet: str, pooled: bool) -> float:
    """``ModulationRatio``: PSTHs (Hz, 10 ms) of the cells preferring each 100 %-contrast
    grating's orientation; 2 |FFT|[k] / |FFT|[0] of the mean over cells; the original pools the
    cells of every segment (``pooled``), simtune's per-segment variant averages the ratios."""
    segs = ref.find(sheet, "FullfieldDriftingSinusoidalGrating", contrast=100)
    per_seg = []
    pool: list[np.ndarray] = []
    for seg in segs:
        cells = preferring(ref, seg, seg.orientation)
        h = psths([seg.trains[i] for i in cells], seg.t_start, seg.t_stop) / 0.01
        pool.append(h)
        k = int(round((seg.t_stop - seg.t_start) / (1000.0 / seg.tf)))
        a = np.abs(np.fft.fft(h, axis=1)).mean(axis=0)
        per_seg.append(2 * a[k] / a[0])
    if not pooled:
        return float(np.mean(per_seg))
    h = np.concatenate(pool)
    a = np.abs(np.fft.fft(h, axis=1)).mean(axis=0)
    k = int(round((segs[0].t_stop - segs[0].t_start) / (1000.0 / segs[0].tf)))
    return float(2 * a[k] / a[0])


# -- fixtures -------------------------------------------------------------------------------------


@dataclass
class Converted:
    root: Path
    h5: Path
    ref: _Ref


@pytest.fixture(scope="module")
def va(tmp_path_factory: pytest.TempPathFactory) -> Converted:
    return _convert(VA, tmp_path_factory)


@pytest.fixture(scope="module")
def pp(tmp_path_factory: pytest.TempPathFactory) -> Converted:
    return _convert(PP, tmp_path_factory)


def _convert(name: str, factory: pytest.TempPathFactory) -> Converted:
    tarball = _need(name)
    root = _unpack(tarball, factory.mktemp(name))
    h5 = mozaik.convert_pickled_datastore(root, root.parent / f"{name}.h5")
    return Converted(root, h5, _reference(root))


def spec(cls: str, sheet: str, target: Any, **options: Any) -> dict[str, Any]:
    kind = "range" if isinstance(target, list) else "exact"
    name = f"{cls}:{sheet}" + "".join(f":{k}={v}" for k, v in options.items())
    return {"name": name, "class": cls, "kind": kind, "target_value": target, "norm": 1.0,
            "max_score": 20.0, "sheet_name": sheet, "options": options}


def score(h5: Path, specs: list[dict[str, Any]]) -> dict[str, Any]:
    built = build_targets(specs)
    with DataStore(h5) as store:
        outcomes = score_store(built, store, store.metadata["params"])
    return {o.name: o for o in outcomes} | {"_targets": {s["name"]: t for s, t in built}}


# -- structure ------------------------------------------------------------------------------------


def test_vogels_abbott_structure(va):
    check_store(va.h5)
    with DataStore(va.h5) as s:
        md = s.metadata
        assert md["simulator"] == "mozaik" and md["seed"] == 513 and md["params"] == {}
        assert md["mozaik_model"] == "VogelsAbbott2005" and md["mozaik_run"] == "test"
        assert '"pynn_seed": 513' in md["mozaik_parameters_json"]
        assert [x.kind for x in s.segments()] == ["internal", "spontaneous"]
        kick, spont = s.segments()
        assert kick["direct_stimulation_name"] == "Kick" and kick.duration_ms == 56.0
        assert spont.duration_ms == 270.0 and spont["mozaik_stimulus"] == "InternalStimulus"
        for sheet, n_all in (("Exc_Layer", 3200), ("Inh_Layer", 800)):
            ref = va.ref.spont(sheet)
            sh = s.sheet(sheet)
            assert len(va.ref.neuron_ids[sheet]) == n_all
            assert sh.ids.tolist() == sorted(ref.ids.tolist()) and len(sh) < n_all  # recorded
            x, y = va.ref.xy(sheet, sh.ids)
            assert np.array_equal(sh.x, x) and np.array_equal(sh.y, y)
            assert sh.orientation is None
        assert len(s.sheet_names()) == 2


def test_pushpull_structure(pp):
    check_store(pp.h5)
    with DataStore(pp.h5) as s:
        md = s.metadata
        assert md["seed"] == 513 and md["params"] == {"store_stimuli": False}
        assert md["mozaik_model"] == "PushPull"
        kinds = [(x.kind, x["orientation"], x["contrast"], x["radius"]) for x in s.segments()]
        assert [k[0] for k in kinds] == ["spontaneous"] + ["grating"] * 4 + ["disk"] * 2
        assert kinds[1:5] == [("grating", 0.0, 10.0, pytest.approx(math.nan, nan_ok=True)),
                              ("grating", HALF_PI, 10.0, pytest.approx(math.nan, nan_ok=True)),
                              ("grating", 0.0, 100.0, pytest.approx(math.nan, nan_ok=True)),
                              ("grating", HALF_PI, 100.0, pytest.approx(math.nan, nan_ok=True))]
        assert [k[3] for k in kinds[5:]] == [0.0, 1.25]
        assert all(x.duration_ms == 1000.0 for x in s.segments())
        g = s.segments(kind="grating", orientation=HALF_PI, contrast=100)[0]
        assert g["spatial_frequency"] == 0.8 and g["temporal_frequency"] == 2.0
        assert g["mozaik_stimulus"] == "FullfieldDriftingSinusoidalGrating"
        assert g["background_luminance"] == 50.0  # further mozaik parameters, by name
        assert sorted(s.sheet_names()) == ["V1_Exc_L4", "V1_Inh_L4", "X_OFF", "X_ON"]
        for sheet in ("V1_Exc_L4", "V1_Inh_L4"):
            sh = s.sheet(sheet)
            ref = pp.ref.spont(sheet)
            assert sh.ids.tolist() == sorted(ref.ids.tolist())
            assert len(sh) < len(pp.ref.neuron_ids[sheet])
            assert np.allclose(sh.orientation, pp.ref.orientation(sheet, sh.ids) % math.pi)
        assert s.sheet("X_ON").orientation is None


@pytest.mark.parametrize("which", [VA, PP])
def test_spikes_and_signals_match_neo(which, request):
    conv = request.getfixturevalue("va" if which == VA else "pp")
    with DataStore(conv.h5) as s:
        segs = s.segments()
        for k, seg in enumerate(segs):
            for sheet in s.sheet_names():
                ref = [r for r in conv.ref.segs if r.sheet == sheet][k]
                times, offsets = s.spikes(seg, sheet)
                order = np.argsort(ref.ids)
                assert np.diff(offsets).tolist() == [ref.trains[i].size for i in order]
                expect = np.concatenate([ref.trains[i] for i in order]) - ref.t_start
                assert np.allclose(times, expect, rtol=0, atol=1e-9)
                for name, (ids, data, unit) in ref.signals.items():
                    sig = s.signal(seg, sheet, name)
                    assert sig.ids.tolist() == ids.tolist() and sig.dt_ms == 1.0
                    scale = 1000.0 if name.startswith("gsyn") else 1.0  # uS -> nS; mV
                    assert unit == ("uS" if scale == 1000.0 else "mV")
                    assert np.allclose(sig.data, data.T * scale, rtol=1e-12)


# -- every target against the neo objects ---------------------------------------------------------


def _approx(outcome: Any, expected: float) -> None:
    """The target's value is the reference value; NaN there (the original scores max_score:
    e.g. no cell with more than 5 ISIs) is an undefined value here."""
    if math.isnan(expected):
        assert outcome.value is None and outcome.reason.startswith("undefined"), outcome
        return
    assert outcome.reason is None, outcome.reason
    assert outcome.value == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_vogels_abbott_targets(va):
    specs = []
    for sheet in ("Exc_Layer", "Inh_Layer"):
        specs += [spec("SpontActivityTarget", sheet, [1.0, 2.0]),
                  spec("IrregularityTarget", sheet, 1.0),
                  spec("PopulationRateTarget", sheet, 10.0),
                  spec("ConductanceRatio", sheet, 5.0),
                  spec("SynchronyTarget", sheet, 0.0),  # positions in um: none within 1.5
                  spec("SynchronyTarget", sheet, 0.0, centre_half_width=300.0)]
    out = score(va.h5, specs)
    values = {}
    for sheet in ("Exc_Layer", "Inh_Layer"):
        seg = va.ref.spont(sheet)  # the 270 ms segment, not the Kick
        values[sheet] = spont_activity(seg)
        _approx(out[f"SpontActivityTarget:{sheet}"], spont_activity(seg))
        _approx(out[f"IrregularityTarget:{sheet}"], irregularity(seg))
        active = [t.size for t in seg.trains if t.size > 0]
        _approx(out[f"PopulationRateTarget:{sheet}"], 1000 * np.mean(active) / seg.duration)
        _approx(out[f"ConductanceRatio:{sheet}"], conductance_ratio(seg))
        assert out[f"SynchronyTarget:{sheet}"].value is None
        _approx(out[f"SynchronyTarget:{sheet}:centre_half_width=300.0"],
                synchrony(va.ref, seg, 300.0))
    # the figure: the recorded excitatory cells fire 13.2 Hz (not 0.5 Hz diluted)
    assert values["Exc_Layer"] == pytest.approx(13.2, abs=0.05)
    # the orientation targets need preferred orientations, which this model has not
    orient = score(va.h5, [spec("OrientationTuningPreferenceTarget", "Exc_Layer", 5.0),
                           spec("SizeTuning", "Exc_Layer", 0.7),
                           spec("ModulationRatio", "Exc_Layer", 1.5)])
    for name in ("OrientationTuningPreferenceTarget", "SizeTuning", "ModulationRatio"):
        o = orient[f"{name}:Exc_Layer"]
        assert o.value is None and o.reason.startswith("undefined"), o


def test_pushpull_targets(pp):
    ref = pp.ref
    specs = []
    for sheet in ("V1_Exc_L4", "V1_Inh_L4"):
        specs += [spec(c, sheet, t) for c, t in (
            ("SpontActivityTarget", [1.0, 2.0]), ("IrregularityTarget", 1.0),
            ("SynchronyTarget", 0.0), ("PopulationRateTarget", 5.0), ("ConductanceRatio", 5.0),
            ("OrientationTuningPreferenceTarget", 5.0), ("OrientationTuningOrthoHighTarget", 0.0),
            ("OrientationTuningOrthoLowTarget", 0.0), ("SizeTuning", 0.7),
            ("ModulationRatio", 1.5))]
    out = score(pp.h5, specs)
    found = {}
    for sheet in ("V1_Exc_L4", "V1_Inh_L4"):
        spont = ref.spont(sheet)
        (g_pref,) = ref.find(sheet, "FullfieldDriftingSinusoidalGrating", orientation=HALF_PI,
                             contrast=100)
        (g_orth,) = ref.find(sheet, "FullfieldDriftingSinusoidalGrating", orientation=0.0,
                             contrast=100)
        (g_low,) = ref.find(sheet, "FullfieldDriftingSinusoidalGrating", orientation=0.0,
                            contrast=10)
        (disk,) = ref.find(sheet, "DriftingSinusoidalGratingDisk", orientation=HALF_PI,
                           contrast=100, radius=1.25)
        assert all(np.array_equal(s.ids, spont.ids) for s in (g_pref, g_orth, g_low, disk))
        cells = preferring(ref, spont, HALF_PI)
        assert cells.size > 0
        r_spont = rate(spont, cells)
        r_orth = rate(g_orth, cells)
        x, y = ref.xy(sheet, spont.ids)
        central = [c for c in cells if x[c] ** 2 + y[c] ** 2 < 1]
        small = np.array([disk.trains[c].size for c in central], float)
        full = np.array([g_pref.trains[c].size for c in central], float)
        with np.errstate(divide="ignore", invalid="ignore"):
            suppressed = (small > 2) & (full > 0) & (small / full > 1.1)
        expected = {
            "SpontActivityTarget": spont_activity(spont),
            "IrregularityTarget": irregularity(spont),
            "SynchronyTarget": synchrony(ref, spont),
            "PopulationRateTarget": 1000 * np.mean([t.size for t in spont.trains if t.size])
            / spont.duration,
            "ConductanceRatio": conductance_ratio(spont),
            "OrientationTuningPreferenceTarget": rate(g_pref, cells) / r_orth,
            "OrientationTuningOrthoHighTarget": abs(r_spont - r_orth) / r_spont,
            "OrientationTuningOrthoLowTarget": abs(r_spont - rate(g_low, cells)) / r_spont,
            "SizeTuning": suppressed.sum() / len(central),
        }
        for cls, value in expected.items():
            _approx(out[f"{cls}:{sheet}"], value)
        mr = out[f"ModulationRatio:{sheet}"]
        target = out["_targets"][f"ModulationRatio:{sheet}"]
        # the original pools the cells of both orientations; a per-segment option averages
        pooled = getattr(target, "pooling", "per_segment") != "per_segment"
        _approx(mr, modulation_ratio(ref, sheet, pooled=pooled))
        if "pooling" in inspect.signature(type(target)).parameters:
            per_seg = score(pp.h5, [spec("ModulationRatio", sheet, 1.5, pooling="per_segment")])
            _approx(per_seg[f"ModulationRatio:{sheet}:pooling=per_segment"],
                    modulation_ratio(ref, sheet, pooled=False))
        found[sheet] = expected
    # the figure: PushPull's recorded excitatory cells fire 1.44 Hz spontaneously
    assert found["V1_Exc_L4"]["SpontActivityTarget"] == pytest.approx(1.44, abs=0.005)


# -- memory, commands, errors ---------------------------------------------------------------------


def test_segments_are_loaded_and_released_one_by_one(pp, tmp_path, monkeypatch):
    original = mozaik._load_segment
    alive: list[weakref.ref] = []
    loads = []

    def spy(path: Path) -> Any:
        loads.append(sum(r() is not None for r in alive))
        seg = original(path)
        assert not seg.analogsignals or len(seg.spiketrains)  # a full neo segment
        alive.append(weakref.ref(seg))
        return seg

    monkeypatch.setattr(mozaik, "_load_segment", spy)
    mozaik.convert_pickled_datastore(pp.root, tmp_path / "again.h5")
    assert len(loads) == 28 and max(loads) == 0  # 7 presentations x 4 sheets, one at a time


def test_convert_command_and_as_simtune_store(va, tmp_path, capsys):
    out = tmp_path / "va.h5"
    assert main(["convert-mozaik", str(va.root), str(out)]) == 0
    line = capsys.readouterr().out
    assert line == f"{out}: 2 segments; recorded neurons per sheet: Exc_Layer (121), " \
                   "Inh_Layer (119)\n"
    assert main(["convert-mozaik", str(tmp_path), str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a mozaik data store directory" in err
    assert not (tmp_path / "x.h5").exists()
    with mozaik.as_simtune_store(va.root) as path:
        assert path.suffix == ".h5" and path.is_file()
        check_store(path)
    assert not path.exists() and not path.parent.exists()
    with mozaik.as_simtune_store(out) as same:
        assert same == out


def test_foreign_objects_in_a_pickle_are_refused(tmp_path):
    pytest.importorskip("neo")
    (tmp_path / mozaik.INDEX).write_bytes(pickle.dumps(os.system))
    with pytest.raises(mozaik.MozaikStoreError, match=r"refusing to load \w+\.system"):
        mozaik.convert_pickled_datastore(tmp_path, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_without_neo_a_clear_import_error(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "neo", None)
    with pytest.raises(ImportError, match=r"needs neo and quantities .*simtune\[mozaik\]"):
        mozaik.convert_pickled_datastore(tmp_path, tmp_path / "out.h5")
    assert main(["convert-mozaik", str(tmp_path), str(tmp_path / "out.h5")]) == 2


def test_parse_parameters():
    kick = ('{"module_path" :"mozaik.stimuli","direct_stimulation_name":\'Kick\', '
            '"direct_stimulation_parameters":MozaikExtendedParameterSet({\'exc_weight\': 0.1}), '
            '"duration":56, "name":\'InternalStimulus\', "trial":0}')
    p = mozaik.parse_parameters(kick)
    assert p["direct_stimulation_name"] == "Kick" and p["duration"] == 56 and p["trial"] == 0
    assert p["direct_stimulation_parameters"] == \
        "MozaikExtendedParameterSet({'exc_weight': 0.1})"
    tree = mozaik.parse_parameters('{\n  "a": {"b": -2.5, "c": (1, 2), "d": None,},\n'
                                   '  "e": UniformDist(min=0.0,max=1.0), "f": nan,\n}')
    assert tree["a"] == {"b": -2.5, "c": [1, 2], "d": None}
    assert tree["e"] == "UniformDist(min=0.0,max=1.0)" and math.isnan(tree["f"])
    with pytest.raises(ValueError, match="not a parameter expression"):
        mozaik.parse_parameters("{'a': ")
