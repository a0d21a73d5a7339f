"""A V1-like excitatory/inhibitory sheet in NEST, run by simtune's command evaluator.

simtune starts ``python run_nest.py`` as a subprocess (``evaluator: {kind: command}``) with the
environment variables ``SIMTUNE_PARAMS_FILE`` (a JSON file: ``{"parameters": {...}, "seed": ..,
"datastore": "/abs/path.h5"}``), ``SIMTUNE_SEED`` and ``SIMTUNE_DATASTORE``. This script needs NEST
and h5py, not simtune: it writes the data store with h5py following ``docs/datastore.md``, as a
simulator in another language would.

Network (Brunel 2000 style, conductance-based): ``n_exc`` + ``n_inh`` ``iaf_cond_exp`` neurons
on a square sheet, fixed in-degree ``k_exc`` / ``k_inh`` (``pairwise_bernoulli`` is avoided so a
run is cheap), excitatory weight ``w_exc`` nS, inhibitory weight ``g * w_exc`` nS, Poisson
background ``bg_rate`` Hz per cell through ``w_bg`` nS synapses. One spontaneous segment of
``duration_ms`` (after ``warmup_ms``) with the spikes of both sheets.

Parameters not given in the params file take the defaults in :data:`DEFAULTS`.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

DEFAULTS = {"w_exc": 2.0, "g": 4.0, "bg_rate": 8000.0, "w_bg": 1.0, "n_exc": 400, "n_inh": 100,
            "k_exc": 40, "k_inh": 10, "duration_ms": 1000.0, "warmup_ms": 100.0,
            "delay_ms": 1.5, "threads": 1}


def run(params: dict, seed: int) -> dict:
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
    nest.Simulate(float(p["warmup_ms"]) + float(p["duration_ms"]))
    out = {}
    for name, pop, rec in (("V1_Exc_L4", exc, rec_e), ("V1_Inh_L4", inh, rec_i)):
        ev = rec.get("events")
        senders = np.asarray(ev["senders"], np.int64) - pop[0].global_id
        times = np.asarray(ev["times"], np.float64) - float(p["warmup_ms"])
        order = np.lexsort((times, senders))
        counts = np.bincount(senders, minlength=len(pop))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        out[name] = (times[order], offsets, len(pop))
    return {"spikes": out, "params": p}


def write_store(path: str, result: dict, seed: int) -> None:
    """The simtune data store (docs/datastore.md), written to ``path.tmp`` then renamed."""
    import h5py

    p = result["params"]
    rng = np.random.default_rng(seed)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs.update({"format": "simtune-datastore", "version": 1, "simulator": "nest",
                        "seed": int(seed), "explosion": 0,
                        "params_json": json.dumps(p, default=float)})
        seg = f.create_group("segments").create_group("0")
        seg.attrs.update({"kind": "spontaneous", "duration_ms": float(p["duration_ms"]),
                          "orientation": np.nan, "contrast": np.nan,
                          "spatial_frequency": np.nan, "temporal_frequency": np.nan,
                          "radius": np.nan, "trial": 0})
        sheets = f.create_group("sheets")
        first = 0
        for name, (times, offsets, n) in result["spikes"].items():
            g = sheets.create_group(name)
            g["ids"] = np.arange(first, first + n, dtype=np.int64)
            g["x"] = rng.uniform(-2, 2, n)
            g["y"] = rng.uniform(-2, 2, n)
            first += n
            s = seg.create_group(name)
            s["spike_times"] = times
            s["spike_offsets"] = offsets
        f.create_group("timeseries")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def main() -> int:
    with open(os.environ["SIMTUNE_PARAMS_FILE"]) as fh:
        task = json.load(fh)
    seed = int(task["seed"])
    result = run(task["parameters"], seed)
    write_store(task["datastore"], result, seed)
    rates = {k: (np.diff(o).sum() / n / (result["params"]["duration_ms"] / 1000.0))
             for k, (_, o, n) in result["spikes"].items()}
    print("mean rates (Hz):", rates)
    return 0


if __name__ == "__main__":
    sys.exit(main())
