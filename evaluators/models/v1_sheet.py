"""An embedded V1 layer-4 sheet model in pure NumPy: simtune's built-in test bed.

Conductance-based leaky integrate-and-fire neurons, excitatory (``V1_Exc_L4``) and inhibitory
(``V1_Inh_L4``), scattered on a square sheet ``[-h, h]^2`` (sheet units; the mozaik target
selections ``max(|x|, |y|) <= 1.5``, ``x^2 + y^2 < 1`` and the radius-1.25 disk refer to them).
Excitatory cells have a preferred orientation in ``[0, pi)``; inhibitory cells are untuned.

Equations (units ms, mV, nS, pF; ``docs/v1_model.md`` has the full description)::

    C dV/dt = g_L (E_L - V) + g_e (E_e - V) + g_i (E_i - V) + g_a (E_K - V),   C = tau_m g_L
    V >= v_thresh  ->  spike, V = V_reset for t_ref
    dg_e/dt = -g_e / tau_e + sum of input events (background + feed-forward + recurrent E)
    dg_i/dt = -g_i / tau_i + background inhibition + recurrent I
    dg_a/dt = -g_a / tau_a,  g_a += adapt_inc at each spike (excitatory cells only)

Feed-forward (LGN) drive of excitatory cell j, as an event rate (Hz) of ``w_input`` synapses::

    ff_gain * NR(c) * exp(kappa (cos 2(theta - theta_j) - 1)) * S_j
            * [1 + m sin(2 pi tf t - phi_j)]_+
    NR(c) = c^2 / (c^2 + c50^2);  S_j = A(p_j) / (1 + surround_strength * A_surround(p_j))

``A`` is the stimulus aperture at the cell (1 full field; a soft disk of ``radius``),
``A_surround`` its mean over a ring of radius ``surround_radius`` around the cell, and ``phi_j``
the grating phase at the cell plus a random receptive-field phase. Inhibitory cells get the
untuned drive times ``ff_inh_gain``. Poisson inputs (background and feed-forward) enter as their
diffusion approximation (mean + a fluctuation of the same variance per step). Recurrent
connections are Bernoulli with a Gaussian distance profile (widths ``sigma_exc`` /
``sigma_inh``), normalised to a fixed mean in-degree.

All stimulus conditions of the protocol are simulated at once as independent copies of the
network (state arrays ``[n_conditions, n_neurons]``); a short spontaneous run first checks for
runaway activity and aborts with an ``explosion`` store.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from evaluators.datastore import DataStoreWriter

__all__ = [
    "PARAMETERS",
    "CONSTANTS",
    "DEFAULT_PROTOCOL",
    "EXC",
    "INH",
    "default_parameters",
    "simulate",
]

EXC = "V1_Exc_L4"
INH = "V1_Inh_L4"

#: tunable parameters: name -> (low, high, default)
PARAMETERS: dict[str, tuple[float, float, float]] = {
    "w_ee": (0.0, 4.0, 1.0),  # nS, E -> E synaptic weight
    "w_ei": (0.0, 4.0, 1.0),  # nS, E -> I
    "w_ie": (0.0, 10.0, 2.0),  # nS, I -> E
    "w_ii": (0.0, 10.0, 2.0),  # nS, I -> I
    "bg_rate_exc": (0.0, 8000.0, 4000.0),  # Hz, background excitatory events per cell
    "bg_rate_inh": (0.0, 8000.0, 1500.0),  # Hz, background inhibitory events per cell
    "tau_m": (8.0, 30.0, 20.0),  # ms, membrane time constant (both populations)
    "v_thresh": (-58.0, -45.0, -52.0),  # mV, spike threshold
    "ff_gain": (0.0, 10000.0, 2500.0),  # Hz, feed-forward events at full drive
    "ff_kappa": (0.0, 5.0, 1.0),  # orientation selectivity of the feed-forward drive
    "ff_inh_gain": (0.0, 2.0, 0.5),  # untuned feed-forward drive of I cells (x ff_gain)
    "ff_modulation": (0.0, 2.0, 0.6),  # temporal modulation depth of the feed-forward drive
    "c50": (5.0, 80.0, 30.0),  # %, semi-saturation contrast of the contrast response
    "surround_strength": (0.0, 5.0, 0.2),  # feed-forward surround suppression
    "sigma_exc": (0.05, 1.0, 0.25),  # sheet units, width of excitatory connections
    "sigma_inh": (0.05, 1.5, 0.4),  # sheet units, width of inhibitory connections
    "adapt_inc": (0.0, 10.0, 1.0),  # nS, spike-triggered adaptation increment (E cells)
}

#: fixed model constants (not tunable)
CONSTANTS: dict[str, float] = {
    "g_leak": 10.0,  # nS
    "e_leak": -70.0,  # mV
    "e_exc": 0.0,
    "e_inh": -80.0,
    "e_adapt": -80.0,
    "v_reset": -60.0,
    "t_ref": 2.0,  # ms
    "tau_exc": 3.0,  # ms, excitatory synaptic time constant
    "tau_inh": 7.0,  # ms
    "tau_adapt": 150.0,  # ms
    "w_input": 0.5,  # nS, weight of one background / feed-forward excitatory event
    "w_input_inh": 1.0,  # nS, weight of one background inhibitory event
    "k_exc": 80.0,  # mean number of excitatory inputs per cell
    "k_inh": 40.0,  # mean number of inhibitory inputs per cell
    "surround_radius": 1.6,  # sheet units
    "disk_edge": 0.05,  # sheet units, softness of the disk aperture
}

#: stimulus protocol (ANCHORS §1, mozaik's optimisation experiments); every key can be overridden
DEFAULT_PROTOCOL: dict[str, Any] = {
    "dt_ms": 0.5,
    "check_ms": 200.0,  # early spontaneous run; mean E rate above the threshold aborts
    "explosion_rate_hz": 100.0,
    "spontaneous_ms": 5000.0,
    "stimulus_ms": 2000.0,
    "orientations": [0.0, math.pi / 2],
    "contrasts": [10.0, 100.0],
    "spatial_frequency": 0.8,  # cycles per sheet unit
    "temporal_frequency": 2.0,  # Hz
    "disk_radius": 1.25,
    "disk_orientation": math.pi / 2,
    "disk_contrast": 100.0,
    "full_field_trial": True,  # a second full-field grating at the disk's orientation/contrast
    "n_exc": 1600,
    "n_inh": 400,
    "sheet_half_width": 2.0,
    "record_grid": 5,  # gsyn of the E cells nearest a record_grid^2 grid on [-0.5, 0.5]^2
    # simulate, write and publish the check and the spontaneous segment before the stimuli,
    # leaving the stop on an explosion to the run's gates (docs/v1_model.md)
    "spontaneous_first": False,
}


def default_parameters() -> dict[str, float]:
    """Every parameter at its default."""
    return {k: v[2] for k, v in PARAMETERS.items()}


@dataclass(frozen=True)
class _Condition:
    kind: str
    duration_ms: float
    orientation: float = float("nan")
    contrast: float = 0.0
    radius: float = float("nan")
    trial: int = 0


@dataclass
class _Network:
    n_exc: int
    n_inh: int
    x: np.ndarray
    y: np.ndarray
    theta: np.ndarray  # preferred orientation of E cells
    rf_phase: np.ndarray  # random receptive-field phase, all cells
    w_from_exc: np.ndarray  # [n_exc, n] float32
    w_from_inh: np.ndarray  # [n_inh, n] float32
    record: np.ndarray  # E cell indices with recorded conductances

    @property
    def n(self) -> int:
        return self.n_exc + self.n_inh


def _check_inputs(
    params: Mapping[str, float], protocol: Mapping[str, Any] | None
) -> tuple[dict[str, float], dict[str, Any]]:
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise ValueError(f"unknown V1 model parameter(s) {unknown}; known: {sorted(PARAMETERS)}")
    p = default_parameters()
    for k, v in params.items():
        fv = float(v)
        if not math.isfinite(fv):
            raise ValueError(f"parameter {k} must be finite, found {v!r}")
        p[k] = fv
    proto = dict(DEFAULT_PROTOCOL)
    bad = sorted(set(protocol or {}) - set(DEFAULT_PROTOCOL))
    if bad:
        raise ValueError(f"unknown protocol key(s) {bad}; known: {sorted(DEFAULT_PROTOCOL)}")
    proto.update(protocol or {})
    return p, proto


def _gaussian_bernoulli(
    rng: np.random.Generator, dist2: np.ndarray, sigma: float, k_in: float
) -> np.ndarray:
    """Connection mask [pre, post]: p = min(1, k_in * kernel / sum_pre kernel) per post cell."""
    kern = np.exp(-dist2 / (2.0 * max(sigma, 1e-3) ** 2))
    prob = np.minimum(1.0, kern * (k_in / np.maximum(kern.sum(axis=0, keepdims=True), 1e-12)))
    return rng.random(dist2.shape, dtype=np.float32) < prob


def _build_network(p: Mapping[str, float], proto: Mapping[str, Any], seed: int) -> _Network:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    ne, ni = int(proto["n_exc"]), int(proto["n_inh"])
    h = float(proto["sheet_half_width"])
    n = ne + ni
    x = rng.uniform(-h, h, n)
    y = rng.uniform(-h, h, n)
    theta = rng.uniform(0.0, math.pi, ne)
    rf_phase = rng.uniform(0.0, 2 * math.pi, n)
    dist2 = ((x[:, None] - x[None, :]) ** 2 + (y[:, None] - y[None, :]) ** 2).astype(np.float32)
    np.fill_diagonal(dist2, np.inf)  # no autapses
    c = CONSTANTS
    m_e = _gaussian_bernoulli(rng, dist2[:ne], p["sigma_exc"], c["k_exc"])
    m_i = _gaussian_bernoulli(rng, dist2[ne:], p["sigma_inh"], c["k_inh"])
    w_e = np.where(m_e, np.float32(p["w_ee"]), np.float32(0))
    w_e[:, ne:] = np.where(m_e[:, ne:], np.float32(p["w_ei"]), np.float32(0))
    w_i = np.where(m_i, np.float32(p["w_ie"]), np.float32(0))
    w_i[:, ne:] = np.where(m_i[:, ne:], np.float32(p["w_ii"]), np.float32(0))
    g = int(proto["record_grid"])
    grid = np.linspace(-0.5, 0.5, g) if g > 1 else np.zeros(1)
    gx, gy = np.meshgrid(grid, grid)
    d = (x[None, :ne] - gx.ravel()[:, None]) ** 2 + (y[None, :ne] - gy.ravel()[:, None]) ** 2
    record = np.unique(np.argmin(d, axis=1))
    return _Network(ne, ni, x, y, theta, rf_phase, w_e.astype(np.float32),
                    w_i.astype(np.float32), record)


def _aperture(px: np.ndarray, py: np.ndarray, radius: float) -> np.ndarray:
    if not math.isfinite(radius):
        return np.ones(np.broadcast(px, py).shape)
    r = np.sqrt(px**2 + py**2)
    z = np.clip((radius - r) / CONSTANTS["disk_edge"], -50, 50)
    return 1.0 / (1.0 + np.exp(-z))


def _drive(net: _Network, p: Mapping[str, float], cond: _Condition, proto: Mapping[str, Any]
           ) -> tuple[np.ndarray, np.ndarray]:
    """Static feed-forward event rate (events/ms, [n]) and the phase of its modulation ([n])."""
    n = net.n
    if cond.contrast <= 0 or cond.kind == "spontaneous":
        return np.zeros(n), np.zeros(n)
    nr = cond.contrast**2 / (cond.contrast**2 + p["c50"] ** 2)
    tune = np.full(n, p["ff_inh_gain"])
    tune[: net.n_exc] = np.exp(p["ff_kappa"] * (np.cos(2 * (cond.orientation - net.theta)) - 1))
    a = _aperture(net.x, net.y, cond.radius)
    ang = np.linspace(0, 2 * math.pi, 12, endpoint=False)
    rad = CONSTANTS["surround_radius"] * np.array([0.75, 1.0, 1.25])
    ox = (rad[:, None] * np.cos(ang)[None, :]).ravel()
    oy = (rad[:, None] * np.sin(ang)[None, :]).ravel()
    a_s = _aperture(net.x[:, None] + ox, net.y[:, None] + oy, cond.radius).mean(axis=1)
    space = a / (1.0 + p["surround_strength"] * a_s)
    rate = p["ff_gain"] / 1000.0 * nr * tune * space
    sf = float(proto["spatial_frequency"])
    phase = 2 * math.pi * sf * (net.x * math.cos(cond.orientation)
                                + net.y * math.sin(cond.orientation)) + net.rf_phase
    return rate, phase


def _simulate_conditions(
    net: _Network,
    p: Mapping[str, float],
    conds: list[_Condition],
    proto: Mapping[str, Any],
    rng: np.random.Generator,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[dict[str, np.ndarray]]]:
    """Run every condition as one batch; returns per condition (spike steps, neurons), signals."""
    c = CONSTANTS
    dt = float(proto["dt_ms"])
    n, ne = net.n, net.n_exc
    order = sorted(range(len(conds)), key=lambda k: -conds[k].duration_ms)
    cs = [conds[k] for k in order]
    n_cond = len(cs)
    steps = np.array([int(round(cd.duration_ms / dt)) for cd in cs])
    n_steps = int(steps.max())
    active = (steps[None, :] > np.arange(n_steps)[:, None]).sum(axis=1)

    f32 = np.float32
    ff_rate = np.zeros((n_cond, n), f32)
    ff_cos = np.zeros((n_cond, n), f32)
    ff_sin = np.zeros((n_cond, n), f32)
    for k, cd in enumerate(cs):
        rate, phase = _drive(net, p, cd, proto)
        ff_rate[k], ff_cos[k], ff_sin[k] = rate, np.cos(phase), np.sin(phase)
    m = float(p["ff_modulation"])
    omega = 2 * math.pi * float(proto["temporal_frequency"]) / 1000.0
    bg_e = f32(p["bg_rate_exc"] / 1000.0)
    bg_e_dt = f32(p["bg_rate_exc"] / 1000.0 * dt)
    ff_rate_dt = ff_rate * f32(dt)
    lam_i_dt = p["bg_rate_inh"] / 1000.0 * dt
    w_in, w_in_i = f32(c["w_input"]), f32(c["w_input_inh"])

    cm = p["tau_m"] * c["g_leak"]
    dec_e, dec_i = f32(math.exp(-dt / c["tau_exc"])), f32(math.exp(-dt / c["tau_inh"]))
    dec_a = f32(math.exp(-dt / c["tau_adapt"]))
    gl, el = f32(c["g_leak"]), f32(c["e_leak"])
    ee, ei, ea = f32(c["e_exc"]), f32(c["e_inh"]), f32(c["e_adapt"])
    vth, vreset = f32(p["v_thresh"]), f32(c["v_reset"])
    ref_steps = int(round(c["t_ref"] / dt))
    adapt = np.zeros(n, f32)
    adapt[:ne] = p["adapt_inc"]

    v = rng.uniform(c["v_reset"], p["v_thresh"], (n_cond, n)).astype(f32)
    ge = np.full((n_cond, n), bg_e * w_in * c["tau_exc"], f32)
    gi = np.full((n_cond, n), p["bg_rate_inh"] / 1000.0 * c["w_input_inh"] * c["tau_inh"], f32)
    ga = np.zeros((n_cond, n), f32)
    ref = np.zeros((n_cond, n), np.int32)
    rec = net.record
    sig_e = np.full((n_steps, n_cond, rec.size), np.nan, f32)
    sig_i = np.full((n_steps, n_cond, rec.size), np.nan, f32)
    spk_steps, spk_cond, spk_neur = [], [], []
    prev_c = np.zeros(0, np.int64)
    prev_n = np.zeros(0, np.int64)
    sqrt_i = f32(math.sqrt(lam_i_dt))
    sqrt12 = f32(math.sqrt(12.0))
    w_exc, w_inh = net.w_from_exc, net.w_from_inh

    for t in range(n_steps):
        a = int(active[t])
        vv, gge, ggi, gga, rr = v[:a], ge[:a], gi[:a], ga[:a], ref[:a]
        # recurrent input from the previous step's spikes (sorted by condition: flatnonzero)
        if prev_c.size:
            keep = prev_c < a
            pc, pn = prev_c[keep], prev_n[keep]
            is_e = pn < ne
            for sel, w, g, shift in ((is_e, w_exc, gge, 0), (~is_e, w_inh, ggi, ne)):
                cc = pc[sel]
                if cc.size == 0:
                    continue
                first = np.flatnonzero(np.r_[True, cc[1:] != cc[:-1]])
                g[cc[first]] += np.add.reduceat(w[pn[sel] - shift], first, axis=0)
        # Poisson background + feed-forward events, diffusion approximation
        tt = t * dt
        lam = ff_sin[:a] * f32(m * math.cos(omega * tt))
        lam -= ff_cos[:a] * f32(m * math.sin(omega * tt))
        lam += f32(1.0)
        np.maximum(lam, f32(0.0), out=lam)
        lam *= ff_rate_dt[:a]
        lam += bg_e_dt
        # zero-mean, unit-variance uniform noise: 4x cheaper to draw than Gaussian, and the
        # synaptic filter (tau_e, tau_i >> dt) makes the summed conductance noise Gaussian
        u = rng.random((a, 2 * n), dtype=f32)
        u -= f32(0.5)
        noise = np.sqrt(lam)
        noise *= u[:, :n]
        noise *= sqrt12
        noise += lam
        noise *= w_in
        gge += noise
        noise = u[:, n:] * f32(w_in_i * sqrt_i * sqrt12)
        noise += f32(w_in_i * lam_i_dt)
        ggi += noise
        np.maximum(gge, 0.0, out=gge)
        np.maximum(ggi, 0.0, out=ggi)
        sig_e[t, :a] = gge[:, rec]
        sig_i[t, :a] = ggi[:, rec]
        # membrane: exact exponential step for frozen conductances
        gtot = gge + ggi
        gtot += gga
        gtot += gl
        vinf = gge * ee
        vinf += ggi * ei
        vinf += gga * ea
        vinf += gl * el
        vinf /= gtot
        gtot *= f32(-dt / cm)
        np.exp(gtot, out=gtot)
        vv -= vinf
        vv *= gtot
        vv += vinf
        np.copyto(vv, vreset, where=rr > 0)  # refractory cells stay at reset
        rr -= 1
        flat = np.flatnonzero(vv >= vth)
        pc, pn = np.divmod(flat, n)
        if pc.size:
            vv[pc, pn] = vreset
            rr[pc, pn] = ref_steps
            gga[pc, pn] += adapt[pn]
            spk_steps.append(np.full(pc.size, t, np.int32))
            spk_cond.append(pc.astype(np.int32))
            spk_neur.append(pn.astype(np.int32))
        prev_c, prev_n = pc, pn
        gge *= dec_e
        ggi *= dec_i
        gga *= dec_a

    steps_all = np.concatenate(spk_steps) if spk_steps else np.zeros(0, np.int32)
    cond_all = np.concatenate(spk_cond) if spk_cond else np.zeros(0, np.int32)
    neur_all = np.concatenate(spk_neur) if spk_neur else np.zeros(0, np.int32)
    per_cond: list[Any] = [None] * n_cond
    signals: list[Any] = [None] * n_cond
    # sort once by (condition, neuron, time), then split
    idx = np.lexsort((steps_all, neur_all, cond_all))
    steps_all, cond_all, neur_all = steps_all[idx], cond_all[idx], neur_all[idx]
    bounds = np.searchsorted(cond_all, np.arange(n_cond + 1))
    for k in range(n_cond):
        sl = slice(bounds[k], bounds[k + 1])
        per_cond[order[k]] = (steps_all[sl].astype(np.float64) * dt, neur_all[sl])
        signals[order[k]] = {
            "gsyn_exc": sig_e[: steps[k], k].T.astype(np.float64),
            "gsyn_inh": sig_i[: steps[k], k].T.astype(np.float64),
        }
    return per_cond, signals


def _pack(
    times: np.ndarray, neurons: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """(times, offsets) of neurons lo..hi-1 from spikes sorted by (neuron, time)."""
    sel = (neurons >= lo) & (neurons < hi)
    counts = np.bincount(neurons[sel] - lo, minlength=hi - lo)
    offsets = np.zeros(hi - lo + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return times[sel], offsets


def _protocol_conditions(proto: Mapping[str, Any]) -> list[_Condition]:
    conds = [_Condition("spontaneous", float(proto["spontaneous_ms"]))]
    for ori in proto["orientations"]:
        for con in proto["contrasts"]:
            conds.append(
                _Condition("grating", float(proto["stimulus_ms"]), float(ori), float(con))
            )
    conds.append(_Condition("disk", float(proto["stimulus_ms"]), float(proto["disk_orientation"]),
                            float(proto["disk_contrast"]), float(proto["disk_radius"])))
    if proto["full_field_trial"]:
        trial = sum(
            1 for cd in conds if cd.kind == "grating"
            and math.isclose(cd.orientation, float(proto["disk_orientation"]))
            and math.isclose(cd.contrast, float(proto["disk_contrast"]))
        )
        conds.append(_Condition("grating", float(proto["stimulus_ms"]),
                                float(proto["disk_orientation"]), float(proto["disk_contrast"]),
                                trial=trial))
    return conds


def _write_sheets(w: DataStoreWriter, net: _Network) -> None:
    ne, n = net.n_exc, net.n
    w.add_sheet(EXC, ids=np.arange(ne), x=net.x[:ne], y=net.y[:ne], orientation=net.theta)
    w.add_sheet(INH, ids=np.arange(ne, n), x=net.x[ne:], y=net.y[ne:])


def _write_segments(
    w: DataStoreWriter, net: _Network, proto: Mapping[str, Any], conds: list[_Condition],
    spikes: list[tuple[np.ndarray, np.ndarray]], signals: list[dict[str, np.ndarray]],
) -> None:
    ne, n = net.n_exc, net.n
    for cd, (times, neurons), sig in zip(conds, spikes, signals):
        k = w.add_segment(
            kind=cd.kind, duration_ms=cd.duration_ms, orientation=cd.orientation,
            contrast=cd.contrast, spatial_frequency=float(proto["spatial_frequency"]),
            temporal_frequency=float(proto["temporal_frequency"]), radius=cd.radius,
            trial=cd.trial,
        )
        w.add_spikes(k, EXC, _pack(times, neurons, 0, ne))
        w.add_spikes(k, INH, _pack(times, neurons, ne, n))
        for name, data in sig.items():
            w.add_signal(k, EXC, name, ids=net.record, data=data, dt_ms=float(proto["dt_ms"]))


def _write(
    path: Path, net: _Network, p: Mapping[str, float], proto: Mapping[str, Any], seed: int,
    conds: list[_Condition], spikes: list[tuple[np.ndarray, np.ndarray]],
    signals: list[dict[str, np.ndarray]], explosion: bool, **attrs: Any,
) -> Path:
    with DataStoreWriter(path, simulator="simtune.v1_sheet", seed=seed, params=p,
                         explosion=explosion, **attrs) as w:
        _write_sheets(w, net)
        _write_segments(w, net, proto, conds, spikes, signals)
    return path


def _rate_exc(net: _Network, spikes: tuple[np.ndarray, np.ndarray], ms: float) -> float:
    """Mean excitatory rate (Hz) of one condition's spikes."""
    return float(np.count_nonzero(spikes[1] < net.n_exc) / net.n_exc / (ms / 1000.0))


def simulate(
    params: Mapping[str, float],
    out_path: str | os.PathLike[str],
    seed: int = 0,
    protocol: Mapping[str, Any] | None = None,
) -> Path:
    """Simulate the protocol and write a simtune data store to ``out_path``.

    Parameters
    ----------
    params
        Values for any of :data:`PARAMETERS` (the others take their defaults).
    out_path
        Where the HDF5 data store goes (written atomically).
    seed
        Seeds the network (positions, orientations, connections) and the noise; equal seeds give
        identical stores.
    protocol
        Overrides of :data:`DEFAULT_PROTOCOL` (durations, orientations, contrasts, sizes).

    Returns
    -------
    pathlib.Path
        ``out_path``. The store's root attribute ``explosion`` is 1 when the early spontaneous
        check (or the full spontaneous segment) exceeded ``explosion_rate_hz``; an early
        explosion leaves only the check segment. With ``spontaneous_first`` the check run stays
        in the store as a first, short ``spontaneous`` segment (targets read the last one),
        each spontaneous segment is published as soon as it is written, and an explosion does
        not stop the model (the gates do).

    Raises
    ------
    ValueError
        Unknown parameter or protocol names (listed), or a non-finite value.
    """
    p, proto = _check_inputs(params, protocol)
    t0 = time.perf_counter()
    net = _build_network(p, proto, seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    threshold = float(proto["explosion_rate_hz"])
    out = Path(out_path)

    check_ms = float(proto["check_ms"])
    conds = _protocol_conditions(proto)
    spont = float(proto["spontaneous_ms"])
    if proto["spontaneous_first"]:
        return _simulate_published(out, net, p, proto, seed, rng, conds, t0)
    if check_ms > 0:
        check = [_Condition("spontaneous", check_ms)]
        spikes, signals = _simulate_conditions(net, p, check, proto, rng)
        rate = _rate_exc(net, spikes[0], check_ms)
        if rate > threshold:
            return _write(out, net, p, proto, seed, check, spikes, signals, True,
                          explosion_check_rate_hz=float(rate),
                          wall_time_s=time.perf_counter() - t0)
    spikes, signals = _simulate_conditions(net, p, conds, proto, rng)
    rate = _rate_exc(net, spikes[0], spont)
    return _write(out, net, p, proto, seed, conds, spikes, signals, bool(rate > threshold),
                  wall_time_s=time.perf_counter() - t0)


def _simulate_published(
    out: Path, net: _Network, p: Mapping[str, float], proto: Mapping[str, Any], seed: int,
    rng: np.random.Generator, conds: list[_Condition], t0: float,
) -> Path:
    """``spontaneous_first``: the check run (if ``check_ms`` > 0) and the spontaneous run, each
    written and published (:meth:`DataStoreWriter.flush`) before the next stage is simulated,
    then the stimuli. The model never stops itself here: a spontaneous stage whose mean E rate
    exceeds ``explosion_rate_hz`` sets the store's explosion flag, and the run's gates decide."""
    check_ms = float(proto["check_ms"])
    stages = [[_Condition("spontaneous", check_ms)]] if check_ms > 0 else []
    stages += [conds[:1], conds[1:]]
    with DataStoreWriter(out, simulator="simtune.v1_sheet", seed=seed, params=p) as w:
        _write_sheets(w, net)
        for i, stage in enumerate(stages):
            spikes, signals = _simulate_conditions(net, p, stage, proto, rng)
            if stage[0].kind == "spontaneous" and _rate_exc(
                    net, spikes[0], stage[0].duration_ms) > float(proto["explosion_rate_hz"]):
                w.set_explosion()
            _write_segments(w, net, proto, stage, spikes, signals)
            if i < len(stages) - 1:
                w.flush()
        w.set_attrs(wall_time_s=time.perf_counter() - t0)
    return out
