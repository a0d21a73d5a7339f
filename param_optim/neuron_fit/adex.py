"""Adaptive exponential integrate-and-fire neuron (AdEx) in NumPy, for the ``neuron_fit`` example.

Brette & Gerstner (2005), J. Neurophysiol. 94:3637::

    C dV/dt = -g_L (V - E_L) + g_L Delta_T exp((V - V_T) / Delta_T) - w + I(t) + noise
    tau_w dw/dt = a (V - E_L) - w
    V >= V_peak  ->  V = V_r,  w = w + b

The protocol is a set of current steps (``STEPS``: a hyperpolarising one and two depolarising
ones), all simulated at once as a vector (forward Euler, ``dt_ms``). The input noise is a white
current of ``noise_pa`` drawn from ``seed``: repeats with seeds shared by all candidates give the
mean and standard deviation of every target.

The data store holds, per step, a segment (kind = the step's name) with the neuron's spikes
(sheet ``"neuron"``, one cell) and the membrane potential as a time series ``v_<step>`` — the
best run's traces stay in its data store (``cleanup.keep_best``).

``python adex.py --make-recorded`` regenerates ``recorded_v_hyper.txt`` and prints the recorded
features used by ``neuron_fit.yaml``: the "recording" is the model at :data:`HIDDEN` plus 0.5 mV
measurement noise (seed 12345).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

#: the parameter set that made the "recording" (the fit should find it again)
HIDDEN: dict[str, float] = {"C": 200.0, "g_L": 10.0, "a": 2.0, "b": 60.0, "tau_w": 120.0}
#: fixed constants (mV, ms); any of them may also be given as a parameter
CONSTANTS: dict[str, float] = {"E_L": -70.0, "V_T": -50.0, "Delta_T": 2.0, "V_r": -58.0,
                               "V_peak": 0.0}
#: current steps: name -> amplitude (pA); each is on from ``onset_ms`` to ``offset_ms``
STEPS: dict[str, float] = {"hyper": -100.0, "low": 300.0, "high": 500.0}


def simulate_steps(params: Mapping[str, float], seed: int = 0, duration_ms: float = 600.0,
                   onset_ms: float = 50.0, offset_ms: float = 550.0, dt_ms: float = 0.1,
                   noise_pa: float = 20.0) -> dict[str, Any]:
    """Simulate every step; returns ``{"t": times, "v": {step: trace}, "spikes": {step: times}}``.

    Raises
    ------
    ValueError
        A non-positive capacitance, leak, ``Delta_T`` or ``tau_w``.
    """
    p = {**CONSTANTS, **{k: float(v) for k, v in params.items()}}
    for k in ("C", "g_L", "Delta_T", "tau_w"):
        if not p.get(k, 0) > 0:
            raise ValueError(f"{k} must be > 0, found {p.get(k)}")
    names = list(STEPS)
    amp = np.array([STEPS[s] for s in names])
    n_t = int(round(duration_ms / dt_ms))
    t = np.arange(n_t) * dt_ms
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, noise_pa, (n_t, amp.size)) / math.sqrt(dt_ms)
    v = np.full(amp.size, p["E_L"])
    w = np.zeros(amp.size)
    trace = np.empty((n_t, amp.size))
    spikes: list[list[float]] = [[] for _ in names]
    c, gl, el, vt, dT = p["C"], p["g_L"], p["E_L"], p["V_T"], p["Delta_T"]
    for i in range(n_t):
        on = onset_ms <= t[i] < offset_ms
        current = (amp if on else 0.0) + noise[i]
        expo = gl * dT * np.exp(np.minimum((v - vt) / dT, 20.0))
        dv = (-gl * (v - el) + expo - w + current) / c
        dw = (p["a"] * (v - el) - w) / p["tau_w"]
        v = v + dt_ms * dv
        w = w + dt_ms * dw
        fired = v >= p["V_peak"]
        if fired.any():
            for k in np.flatnonzero(fired):
                spikes[k].append(float(t[i]))
            trace[i] = np.where(fired, p["V_peak"], v)
            v = np.where(fired, p["V_r"], v)
            w = np.where(fired, w + p["b"], w)
        else:
            trace[i] = v
    return {"t": t, "v": {s: trace[:, k] for k, s in enumerate(names)},
            "spikes": {s: np.array(spikes[k]) for k, s in enumerate(names)},
            "window_ms": (onset_ms, offset_ms)}


def simulate(parameters: Mapping[str, float], out_dir: Path, seed: int,
             duration_ms: float = 600.0, dt_ms: float = 0.1, noise_pa: float = 20.0) -> Path:
    """simtune's python evaluator entry point: simulate and write ``out_dir/datastore.h5``."""
    from evaluators.datastore import DataStoreWriter

    params = {k: v for k, v in parameters.items() if k in {*HIDDEN, *CONSTANTS}}
    onset, offset = 50.0, duration_ms - 50.0
    out = simulate_steps(params, seed, duration_ms, onset, offset, dt_ms, noise_pa)
    path = Path(out_dir) / "datastore.h5"
    with DataStoreWriter(path, simulator="adex_numpy", seed=seed, params=parameters) as w:
        w.add_sheet("neuron", ids=[0], x=[0.0], y=[0.0])
        for step, v in out["v"].items():
            # spikes relative to the step onset; the segment covers the step only
            st = out["spikes"][step]
            st = st[(st >= onset) & (st < offset)] - onset
            k = w.add_segment(kind=step, duration_ms=offset - onset, amplitude_pa=STEPS[step])
            w.add_spikes(k, "neuron", [st])
            w.add_timeseries(f"v_{step}", out["t"], v)
    return path


def _make_recorded(folder: Path) -> None:
    """Write the "recorded" hyperpolarisation trace and print the recorded spike features."""
    from adex_features import adaptation_index  # beside this file

    out = simulate_steps(HIDDEN, seed=12345)
    rng = np.random.default_rng(12345)
    t = out["t"][::10]  # 1 ms sampling, as a recording might be stored
    v = out["v"]["hyper"][::10] + rng.normal(0.0, 0.5, t.size)
    np.savetxt(folder / "recorded_v_hyper.txt", np.c_[t, v], fmt="%.2f",
               header="time_ms membrane_potential_mV (AdEx at HIDDEN, seed 12345, +0.5 mV noise)")
    lo, hi = out["window_ms"]
    for step in ("low", "high"):
        st = out["spikes"][step]
        st = st[(st >= lo) & (st < hi)]
        print(f"{step}: rate {st.size / ((hi - lo) / 1000):.2f} Hz, "
              f"adaptation index {adaptation_index(st):.4f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--make-recorded", action="store_true",
                    help="regenerate recorded_v_hyper.txt and print the recorded features")
    if ap.parse_args().make_recorded:
        import sys

        here = Path(__file__).resolve().parent
        sys.path.insert(0, str(here))
        sys.path.insert(0, str(here.parents[1]))
        _make_recorded(here)
