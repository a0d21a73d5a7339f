"""A motor-neuron pool driven by a descending population, in NumPy (``motor_pool`` example).

MyoGen's Optuna job (seed 004): ``n_mn`` leaky integrate-and-fire motor neurons of increasing size
(Henneman's size principle: a bigger cell has a lower input resistance, so a smaller voltage jump
per input and a later recruitment) receive Poisson spikes from ``dd_neurons`` descending-drive
neurons firing at ``drive_rate`` Hz; each descending neuron contacts each motor neuron with
probability ``conn_probability``. Per motor neuron ``i`` (voltage in units of the threshold)::

    tau_m dV_i/dt = -V_i + tau_m * w / size_i * (input spikes),  V_i >= 1 -> spike, V_i = 0,
                                                                    refractory t_ref

The pool's spikes go into the data store as sheet ``"motor_neurons"``, one segment of kind
``"drive"``: ``PopulationRateTarget`` reads the mean and standard deviation of the rates of the
active cells from it.

The simulator refuses parameter sets whose summed input event rate per motor neuron,
``dd_neurons * conn_probability * drive_rate``, exceeds ``max_input_rate_hz``: it raises
:class:`InputRateError`, which simtune records as a failed evaluation (reason ``exception``,
every target at ``max_score``) instead of the fake objective 1000 the Optuna version returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np


class InputRateError(RuntimeError):
    """The input event rate is beyond what the fixed-step solver handles."""


def simulate(parameters: Mapping[str, float], out_dir: Path, seed: int, n_mn: int = 100,
             duration_ms: float = 1000.0, dt_ms: float = 0.5, tau_m_ms: float = 10.0,
             t_ref_ms: float = 5.0, w: float = 0.0125, size_spread: float = 3.0,
             max_input_rate_hz: float = 60000.0) -> Path:
    """simtune python evaluator: simulate the pool and write ``out_dir/datastore.h5``.

    Raises
    ------
    InputRateError
        ``dd_neurons * conn_probability * drive_rate > max_input_rate_hz``.
    ValueError
        ``dd_neurons`` not a whole number >= 1, or a probability outside [0, 1].
    """
    from evaluators.datastore import DataStoreWriter

    n_dd = float(parameters["dd_neurons"])
    if n_dd != int(n_dd) or n_dd < 1:
        raise ValueError(f"dd_neurons must be a whole number >= 1, found {n_dd}")
    p = float(parameters["conn_probability"])
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"conn_probability must be in [0, 1], found {p}")
    rate = float(parameters["drive_rate"])
    total = n_dd * p * rate
    if total > max_input_rate_hz:
        raise InputRateError(f"input event rate {total:.0f} Hz per motor neuron exceeds "
                             f"{max_input_rate_hz:.0f} Hz (dd_neurons * conn_probability * "
                             f"drive_rate)")
    rng = np.random.default_rng(seed)
    size = np.linspace(1.0, size_spread, n_mn)  # size principle: small cells first
    k_in = rng.binomial(int(n_dd), p, n_mn)  # descending inputs per motor neuron
    jump = w / size
    lam = k_in * rate * dt_ms / 1000.0  # expected input spikes per step
    n_t = int(round(duration_ms / dt_ms))
    decay = np.exp(-dt_ms / tau_m_ms)
    v = rng.uniform(0.0, 0.5, n_mn)
    ref = np.zeros(n_mn)
    trains: list[list[float]] = [[] for _ in range(n_mn)]
    counts = rng.poisson(lam[None, :], (n_t, n_mn))
    for i in range(n_t):
        v = v * decay + jump * counts[i]
        v[ref > 0] = 0.0
        ref -= dt_ms
        fired = np.flatnonzero(v >= 1.0)
        for j in fired:
            trains[j].append(i * dt_ms)
        v[fired] = 0.0
        ref[fired] = t_ref_ms
    path = Path(out_dir) / "datastore.h5"
    with DataStoreWriter(path, simulator="motor_pool_numpy", seed=seed, params=parameters) as wr:
        wr.add_sheet("motor_neurons", ids=np.arange(n_mn), x=size, y=np.zeros(n_mn))
        k = wr.add_segment(kind="drive", duration_ms=duration_ms)
        wr.add_spikes(k, "motor_neurons", trains)
    return path
