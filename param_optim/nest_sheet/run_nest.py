"""A V1-like excitatory/inhibitory sheet in NEST, run by simtune's command evaluator.

simtune starts ``python run_nest.py`` as a subprocess (``evaluator: {kind: command}``) with the
environment variables ``SIMTUNE_PARAMS_FILE`` (a JSON file: ``{"parameters": {...}, "seed": ..,
"datastore": "/abs/path.h5"}``), ``SIMTUNE_SEED`` and ``SIMTUNE_DATASTORE``. This script needs NEST
and h5py, not simtune: it writes the data store with h5py following ``docs/datastore.md``, as a
simulator in another language would.

Network (Brunel 2000 style, conductance-based): ``n_exc`` + ``n_inh`` ``iaf_cond_exp`` neurons
on a square sheet, fixed in-degree ``k_exc`` / ``k_inh`` (``pairwise_bernoulli`` is avoided so a
run is cheap), excitatory weight ``w_exc`` nS, inhibitory weight ``g * w_exc`` nS, Poisson
background ``bg_rate`` Hz per cell through ``w_bg`` nS synapses. After ``warmup_ms``, a short
spontaneous *check* segment of ``check_ms`` (the mozaik tool's explosion check), then the
spontaneous segment of ``duration_ms``, each with the spikes of both sheets; the store's
``explosion`` flag is set when the excitatory rate of either exceeds ``explosion_rate_hz``.
Targets read the last spontaneous segment.

Gates (``gates:`` in the config): in a gated run simtune sets ``SIMTUNE_PROGRESS_DIR`` and this
script publishes the check segment there as ``0.h5`` (a complete small store, renamed into place:
docs/datastore.md, "Writing segment by segment") before it simulates the rest; simtune checks the
gates on it and terminates the script if one fires. The script never stops itself.

Parameters not given in the params file take the defaults in :data:`DEFAULTS`.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

DEFAULTS = {"w_exc": 2.0, "g": 4.0, "bg_rate": 8000.0, "w_bg": 1.0, "n_exc": 400, "n_inh": 100,
            "k_exc": 40, "k_inh": 10, "duration_ms": 1000.0, "warmup_ms": 100.0,
            "check_ms": 200.0, "explosion_rate_hz": 100.0, "delay_ms": 1.5, "threads": 1}


def _segment(recorders: list, t0: float, t1: float) -> dict:
    """Spikes in ``[t0, t1)`` (kernel time), per sheet: (times from t0, offsets, n)."""
    out = {}
    for name, pop, rec in recorders:
        ev = rec.get("events")
        senders = np.asarray(ev["senders"], np.int64) - pop[0].global_id
        times = np.asarray(ev["times"], np.float64)
        keep = (times >= t0) & (times < t1)
        senders, times = senders[keep], times[keep] - t0
        order = np.lexsort((times, senders))
        counts = np.bincount(senders, minlength=len(pop))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        out[name] = (times[order], offsets, len(pop))
    return out


def _exc_rate(segment: dict, duration_ms: float) -> float:
    _, offsets, n = segment["V1_Exc_L4"]
    return float(offsets[-1] / n / (duration_ms / 1000.0))


def run(params: dict, seed: int, publish=None) -> dict:
    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest

    p = {**DEFAULTS, **params}
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"rng_seed": int(seed) + 1, "local_num_threads": int(p["threads"]),
                          "resolution": 0.1})
    ne, ni = int(p["n_exc"]), int(p["n_inh"])
    exc = nest.Create("iaf_cond_exp", ne)
    inh = nest.Create("iaf_cond_exp", ni)
    for pop in (exc, inh):
        pop.V_m = nest.random.uniform(-70.0, -55.0)
    noise = nest.Create("poisson_generator", params={"rate": float(p["bg_rate"])})
    rec_e = nest.Create("spike_recorder", params={"start": float(p["warmup_ms"])})
    rec_i = nest.Create("spike_recorder", params={"start": float(p["warmup_ms"])})
    d = float(p["delay_ms"])
    allc = exc + inh
    nest.Connect(noise, allc, syn_spec={"weight": float(p["w_bg"]), "delay": d})
    nest.Connect(exc, allc, {"rule": "fixed_indegree", "indegree": int(p["k_exc"])},
                 {"weight": float(p["w_exc"]), "delay": d})
    nest.Connect(inh, allc, {"rule": "fixed_indegree", "indegree": int(p["k_inh"])},
                 {"weight": -float(p["g"]) * float(p["w_exc"]), "delay": d})
    nest.Connect(exc, rec_e)
    nest.Connect(inh, rec_i)
    recorders = [("V1_Exc_L4", exc, rec_e), ("V1_Inh_L4", inh, rec_i)]
    warm, check, dur = float(p["warmup_ms"]), float(p["check_ms"]), float(p["duration_ms"])
    result = {"params": p, "segments": [], "explosion": False}
    if check > 0:
        nest.Simulate(warm + check)
        segment = _segment(recorders, warm, warm + check)
        result["segments"].append((check, segment))
        result["explosion"] = _exc_rate(segment, check) > float(p["explosion_rate_hz"])
        if publish is not None:
            publish(result)
        nest.Simulate(dur)
    else:
        nest.Simulate(warm + dur)
    segment = _segment(recorders, warm + check, warm + check + dur)
    result["segments"].append((dur, segment))
    result["explosion"] |= _exc_rate(segment, dur) > float(p["explosion_rate_hz"])
    return result


def write_store(path: str, result: dict, seed: int, only: int | None = None) -> None:
    """The simtune data store (docs/datastore.md), written to a temporary name then renamed;
    ``only=k``: the published form of segment ``k`` alone (for gates)."""
    import h5py

    p = result["params"]
    rng = np.random.default_rng(seed)
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs.update({"format": "simtune-datastore", "version": 1, "simulator": "nest",
                        "seed": int(seed), "explosion": int(result["explosion"]),
                        "params_json": json.dumps(p, default=float)})
        segments = f.create_group("segments")
        sheets = f.create_group("sheets")
        first = 0
        for name, (_, _, n) in result["segments"][0][1].items():
            g = sheets.create_group(name)
            g["ids"] = np.arange(first, first + n, dtype=np.int64)
            g["x"] = rng.uniform(-2, 2, n)
            g["y"] = rng.uniform(-2, 2, n)
            first += n
        for k, (duration, spikes) in enumerate(result["segments"]):
            if only is not None and k != only:
                continue
            seg = segments.create_group(str(k))
            seg.attrs.update({"kind": "spontaneous", "duration_ms": duration,
                              "orientation": np.nan, "contrast": np.nan,
                              "spatial_frequency": np.nan, "temporal_frequency": np.nan,
                              "radius": np.nan, "trial": 0})
            for name, (times, offsets, _) in spikes.items():
                s = seg.create_group(name)
                s["spike_times"] = times
                s["spike_offsets"] = offsets
        f.create_group("timeseries")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def publisher(seed: int):
    """Publishes the last segment so far into ``$SIMTUNE_PROGRESS_DIR`` (gated runs only)."""
    folder = os.environ.get("SIMTUNE_PROGRESS_DIR")
    if not folder:
        return None

    def publish(result: dict) -> None:
        os.makedirs(folder, exist_ok=True)
        k = len(result["segments"]) - 1
        write_store(os.path.join(folder, f"{k}.h5"), result, seed, only=k)

    return publish


def main() -> int:
    with open(os.environ["SIMTUNE_PARAMS_FILE"]) as fh:
        task = json.load(fh)
    seed = int(task["seed"])
    result = run(task["parameters"], seed, publisher(seed))
    write_store(task["datastore"], result, seed)
    duration, spikes = result["segments"][-1]
    rates = {k: (o[-1] / n / (duration / 1000.0)) for k, (_, o, n) in spikes.items()}
    print("mean rates (Hz):", rates, "explosion:", result["explosion"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
