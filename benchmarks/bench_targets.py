"""Time the nine mozaik targets on a data store with 10^7 spikes against reading its arrays.

Builds a store like the V1 protocol's (one spontaneous segment, four full-field gratings, a disk,
a second full-field grating) for ``--neurons`` cells whose rates are gamma-distributed and scaled
so the store holds ``--spikes`` spikes in all, then times, each on a freshly opened store and
best of ``--repeat``:

* ``read all``: reading every array of the store once (spike times and offsets of every
  segment, the sheet, the conductance signals of the spontaneous segment);
* ``read needed``: reading just the arrays the nine targets need, once: the sheet, the offsets
  of every segment, the spike times of the spontaneous and the 100 %-contrast full-field
  segments, the spontaneous conductances (the targets read spike times only where a statistic
  needs them; counts come from the offsets);
* ``targets``: scoring all nine targets through ``targets.evaluate_target`` (reads included).

Run: ``.venv/bin/python benchmarks/bench_targets.py`` (``--help`` for the options).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import targets
from evaluators.datastore import DataStore, DataStoreWriter

SHEET = "V1_Exc_L4"
NINE = [
    ("SpontActivityTarget", [1.0, 2.0], 0.2),
    ("IrregularityTarget", 1.0, 0.1),
    ("SynchronyTarget", 0.0, 0.01),
    ("OrientationTuningPreferenceTarget", 5.0, 0.5),
    ("OrientationTuningOrthoHighTarget", 0.0, 0.5),
    ("OrientationTuningOrthoLowTarget", 0.0, 0.5),
    ("SizeTuning", 0.7, 0.1),
    ("ConductanceRatio", 5.0, 0.2),
    ("ModulationRatio", 1.5, 0.03),
]
SEGMENTS = [
    dict(kind="spontaneous", duration_ms=5000.0, contrast=0.0),
    *(dict(kind="grating", duration_ms=2000.0, orientation=o, contrast=c)
      for o in (0.0, math.pi / 2) for c in (10.0, 100.0)),
    dict(kind="disk", duration_ms=2000.0, orientation=math.pi / 2, contrast=100.0, radius=1.25),
    dict(kind="grating", duration_ms=2000.0, orientation=math.pi / 2, contrast=100.0, trial=1),
]


def build(path: Path, n: int, n_spikes: float, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-2.5, 2.5, (2, n))
    ori = rng.uniform(0, math.pi, n)
    base = rng.gamma(2.0, 1.0, n)
    total_s = sum(s["duration_ms"] for s in SEGMENTS) / 1000.0
    base *= n_spikes / (base.sum() * total_s)  # Hz, so that the store holds ~n_spikes
    written = 0
    with DataStoreWriter(path, simulator="bench", seed=seed) as w:
        w.add_sheet(SHEET, ids=np.arange(n), x=x, y=y, orientation=ori)
        for seg in SEGMENTS:
            stim = dict(seg, spatial_frequency=0.8, temporal_frequency=2.0)
            k = w.add_segment(**stim)
            dur = seg["duration_ms"]
            counts = rng.poisson(base * dur / 1000.0)
            offsets = np.zeros(n + 1, np.int64)
            np.cumsum(counts, out=offsets[1:])
            owner = np.repeat(np.arange(n), counts)
            # sort within neurons: neuron index as the integer part of the key
            times = np.sort(owner * dur + rng.uniform(0, dur, owner.size)) - owner * dur
            w.add_spikes(k, SHEET, (times, offsets))
            written += times.size
            dt = 0.1
            t = np.arange(0, dur, dt)
            for name, mean in (("gsyn_exc", 2.0), ("gsyn_inh", 9.0)):
                data = mean + rng.standard_normal((25, t.size))
                w.add_signal(k, SHEET, name, ids=np.arange(25), data=data, dt_ms=dt)
    return written


def read_all(path: Path) -> int:
    nbytes = 0
    with DataStore(path) as s:
        sh = s.sheet(SHEET)
        nbytes += sh.x.nbytes + sh.y.nbytes + sh.orientation.nbytes + sh.ids.nbytes
        for seg in s.segments():
            t, o = s.spikes(seg, SHEET)
            nbytes += t.nbytes + o.nbytes
        spont = s.segments(kind="spontaneous")[-1]
        for name in ("gsyn_exc", "gsyn_inh"):
            nbytes += s.signal(spont, SHEET, name).data.nbytes
    return nbytes


def read_needed(path: Path) -> int:
    nbytes = 0
    with DataStore(path) as s:
        sh = s.sheet(SHEET)
        nbytes += sh.x.nbytes + sh.y.nbytes + sh.orientation.nbytes + sh.ids.nbytes
        for seg in s.segments():
            if seg.kind == "spontaneous" or (seg.kind == "grating" and seg["contrast"] == 100):
                t, o = s.spikes(seg, SHEET)
                nbytes += t.nbytes + o.nbytes
            else:
                nbytes += s.spike_offsets(seg, SHEET).nbytes
        spont = s.segments(kind="spontaneous")[-1]
        for name in ("gsyn_exc", "gsyn_inh"):
            nbytes += s.signal(spont, SHEET, name).data.nbytes
    return nbytes


def score_all(path: Path) -> tuple[list[targets.TargetOutcome], dict[str, float]]:
    outs, per = [], {}
    with DataStore(path) as s:
        for name, tv, norm in NINE:
            cls = targets.REGISTRY[name]
            kind = "range" if isinstance(tv, list) else cls.kind
            t0 = time.perf_counter()
            outs.append(targets.evaluate_target(name, cls(SHEET), kind, tv, norm, 20, s))
            per[name] = time.perf_counter() - t0
    return outs, per


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neurons", type=int, default=10_000)
    ap.add_argument("--spikes", type=float, default=1e7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="where to write the store (tmp)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        path = Path(d) / "bench.h5"
        t0 = time.perf_counter()
        n = build(path, args.neurons, args.spikes)
        t_build = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        print(f"store: {args.neurons} neurons, {n} spikes, {len(SEGMENTS)} segments, "
              f"{size_mb:.0f} MB (built in {t_build:.1f} s)")
        read_all(path)  # warm the page cache: both timings read from memory
        best: dict[str, list[float]] = {"all": [], "needed": [], "targets": []}
        cpu: dict[str, list[float]] = {"all": [], "needed": [], "targets": []}
        per_best: dict[str, float] = {}
        for _ in range(args.repeat):
            for label, fn in (("all", read_all), ("needed", read_needed), ("targets", None)):
                t0, c0 = time.perf_counter(), time.process_time()
                if fn is None:
                    outs, per = score_all(path)
                else:
                    fn(path)
                best[label].append(time.perf_counter() - t0)
                cpu[label].append(time.process_time() - c0)
            for k, v in per.items():
                per_best[k] = min(per_best.get(k, math.inf), v)
        w = {k: min(v) for k, v in best.items()}
        c = {k: min(v) for k, v in cpu.items()}
        print("| target | value | wall time (s) |\n|---|---|---|")
        for o in outs:
            value = f"{o.value:.4g}" if o.reason is None else o.reason
            print(f"| {o.name} | {value} | {per_best[o.name]:.3f} |")
        print(f"\nbest of {args.repeat}, wall (CPU) seconds:")
        print(f"  read every array once:            {w['all']:.3f} ({c['all']:.3f})")
        print(f"  read the arrays the targets need: {w['needed']:.3f} ({c['needed']:.3f})")
        print(f"  all nine targets, reads included: {w['targets']:.3f} ({c['targets']:.3f})")
        print(f"  targets / needed read: {w['targets'] / w['needed']:.2f} "
              f"({c['targets'] / c['needed']:.2f}); targets / full read: "
              f"{w['targets'] / w['all']:.2f} ({c['targets'] / c['all']:.2f})")
        ok = w["targets"] <= 2.0 and w["targets"] <= 2 * w["needed"]
        print("goal (<= 2 s and <= 2x the needed read, wall): " + ("met" if ok else "MISSED"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
