"""The ``nest_sheet`` E/I network in Brian2, run in the worker by the python evaluator.

Same model as ``param_optim/nest_sheet/run_nest.py`` (conductance-based LIF, fixed in-degree,
Poisson background; parameters ``w_exc``, ``g``, ``bg_rate``, ``w_bg`` in nS / Hz), written with
Brian2's equations. The function returns the spike trains and simtune writes the data store
(one ``spontaneous`` segment, sheets ``V1_Exc_L4`` and ``V1_Inh_L4``).

Brian2 2.9 needs NumPy < 2.4 (it uses ``numpy.ndarray.ptp``, removed in NumPy 2.4); the
``numpy`` code-generation target is used so no C compiler is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np


def simulate(parameters: Mapping[str, float], out_dir: Path, seed: int, n_exc: int = 400,
             n_inh: int = 100, k_exc: int = 40, k_inh: int = 10, duration_ms: float = 1000.0,
             warmup_ms: float = 100.0, codegen: str = "numpy") -> dict[str, Any]:
    """Simulate and return ``{"spikes": {sheet: [train, ...]}, "duration_ms": ...}``."""
    import brian2 as b2

    b2.start_scope()
    b2.prefs.codegen.target = codegen
    b2.seed(int(seed))
    rng = np.random.default_rng(seed)
    p = {"w_exc": 2.0, "g": 4.0, "bg_rate": 8000.0, "w_bg": 5.0, **dict(parameters)}
    # iaf_cond_exp defaults of NEST: C_m 250 pF, g_L 16.7 nS, E_L -70, V_th -55, V_reset -60,
    # t_ref 2 ms, E_ex 0, E_in -85, tau_syn_ex 0.2 ms, tau_syn_in 2 ms
    eqs = """
    dv/dt = (g_L * (E_L - v) + g_e * (E_ex - v) + g_i * (E_in - v)) / C_m : volt (unless refractory)
    dg_e/dt = -g_e / tau_e : siemens
    dg_i/dt = -g_i / tau_i : siemens
    """
    ns = {"g_L": 16.7 * b2.nS, "E_L": -70 * b2.mV, "E_ex": 0 * b2.mV, "E_in": -85 * b2.mV,
          "C_m": 250 * b2.pF, "tau_e": 0.2 * b2.ms, "tau_i": 2.0 * b2.ms}
    n = n_exc + n_inh
    pop = b2.NeuronGroup(n, eqs, threshold="v > -55*mV", reset="v = -60*mV",
                         refractory=2 * b2.ms, method="euler", namespace=ns)
    pop.v = rng.uniform(-70, -55, n) * b2.mV
    # NEST's poisson_generator delivers a Poisson NUMBER of events per step; PoissonInput draws
    # Binomial(N, rate * dt), so one source at 8-12 kHz (rate * dt ~ 1 at dt = 0.1 ms) would cap
    # the input at one event per step and fail with "p > 1" above 10 kHz. N sources of at most
    # 100 Hz each give Binomial(N, <= 0.01), i.e. Poisson to within 1 %.
    bg_rate = float(p["bg_rate"])
    n_bg = max(1, int(np.ceil(bg_rate / 100.0)))
    bg = b2.PoissonInput(pop, "g_e", n_bg, bg_rate / n_bg * b2.Hz,
                         weight=float(p["w_bg"]) * b2.nS)
    exc, inh = pop[:n_exc], pop[n_exc:]
    syn = []
    for src, k, var, w in ((exc, k_exc, "g_e", p["w_exc"]),
                           (inh, k_inh, "g_i", p["g"] * p["w_exc"])):
        s = b2.Synapses(src, pop, on_pre=f"{var}_post += {float(w)}*nS", delay=1.5 * b2.ms)
        pre = np.concatenate([rng.choice(len(src), k, replace=False) for _ in range(n)])
        post = np.repeat(np.arange(n), k)
        s.connect(i=pre, j=post)
        syn.append(s)
    mon = b2.SpikeMonitor(pop)
    net = b2.Network(pop, bg, *syn, mon)
    net.run((warmup_ms + duration_ms) * b2.ms)
    trains = mon.spike_trains()
    out = {}
    for name, ids in (("V1_Exc_L4", range(n_exc)), ("V1_Inh_L4", range(n_exc, n))):
        out[name] = [np.asarray(trains[i] / b2.ms) - warmup_ms for i in ids]
        out[name] = [t[t >= 0] for t in out[name]]
    return {"spikes": out, "duration_ms": duration_ms}
