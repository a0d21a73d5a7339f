"""Present one parametrised grating to the embedded V1 model (``stimulus_search`` example).

OpenRetina's in-silico experiments (seed 000) optimise a *stimulus* for a fixed, trained model.
Here the model is simtune's V1 sheet (:mod:`evaluators.models.v1_sheet`) at fixed parameters and a
fixed network (``network_seed``); the searched "parameters" describe the stimulus: a drifting
grating of ``orientation`` (rad), ``spatial_frequency`` (cycles / sheet unit),
``temporal_frequency`` (Hz) and ``contrast`` (%) in a soft disk of ``radius`` centred at
``(x0, y0)`` (sheet units).

The model's public ``simulate`` runs a fixed protocol (gratings and one disk at the centre), so
this wrapper drives the model's building blocks itself: it builds the network, moves the cells
by ``(-x0, -y0)`` (the model's apertures are centred at the origin, so this moves the stimulus
and leaves the connectivity as built) and simulates one ``stimulus`` condition.

Neuron groups (the "clusters" whose responses are compared): the excitatory cells within
``group_radius`` of the centre, split into ``n_groups`` bins of preferred orientation
(group ``k`` prefers ``k * pi / n_groups`` +- ``pi / (2 n_groups)``). Each group is written as its
own sheet ``ori<k>`` with its spikes in one segment of kind ``stimulus``.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from evaluators.models import v1_sheet as v1

#: stimulus parameters this wrapper understands, with their meaning
STIMULUS = ("orientation", "spatial_frequency", "temporal_frequency", "contrast", "radius",
            "x0", "y0")
#: a small, fast network (the model's DEFAULT_PROTOCOL has 2000 cells)
SMALL = {"n_exc": 400, "n_inh": 100, "sheet_half_width": 1.5, "record_grid": 1}


def group_masks(net: Any, n_groups: int, group_radius: float) -> list[np.ndarray]:
    """Indices of the excitatory cells of each orientation group."""
    ne = net.n_exc
    central = np.hypot(net.x[:ne], net.y[:ne]) <= group_radius
    width = math.pi / n_groups
    out = []
    for k in range(n_groups):
        d = np.abs(((net.theta - k * width) + math.pi / 2) % math.pi - math.pi / 2)
        out.append(np.flatnonzero(central & (d <= width / 2)))
    return out


def simulate(parameters: Mapping[str, float], out_dir: Path, seed: int,
             stimulus_ms: float = 300.0, n_groups: int = 4, group_radius: float = 1.0,
             network_seed: int = 7, model_parameters: Mapping[str, float] | None = None,
             protocol: Mapping[str, Any] | None = None) -> Path:
    """simtune python evaluator: present the stimulus, write ``out_dir/datastore.h5``.

    ``seed`` drives the input noise only; the network is the same for every candidate.
    """
    from evaluators.datastore import DataStoreWriter

    s = {k: float(parameters[k]) for k in STIMULUS}
    proto_over = {**SMALL, **dict(protocol or {}), "spatial_frequency": s["spatial_frequency"],
                  "temporal_frequency": s["temporal_frequency"]}
    p, proto = v1._check_inputs(dict(model_parameters or {}), proto_over)
    net = v1._build_network(p, proto, network_seed)
    groups = group_masks(net, n_groups, group_radius)
    moved = dataclasses.replace(net, x=net.x - s["x0"], y=net.y - s["y0"])
    cond = v1._Condition("stimulus", float(stimulus_ms), s["orientation"], s["contrast"],
                         s["radius"])
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    spikes, _ = v1._simulate_conditions(moved, p, [cond], proto, rng)
    times, neurons = spikes[0]  # sorted by (neuron, time)
    counts = np.bincount(neurons, minlength=net.n)
    starts = np.concatenate([[0], np.cumsum(counts)])
    path = Path(out_dir) / "datastore.h5"
    with DataStoreWriter(path, simulator="v1_sheet+stimulus", seed=seed, params=parameters,
                         network_seed=network_seed) as w:
        k = w.add_segment(kind="stimulus", duration_ms=float(stimulus_ms), **{
            key: s[key] for key in ("orientation", "contrast", "spatial_frequency",
                                    "temporal_frequency", "radius")}, x0=s["x0"], y0=s["y0"])
        for g, idx in enumerate(groups):
            w.add_sheet(f"ori{g}", ids=idx, x=net.x[idx], y=net.y[idx],
                        orientation=net.theta[idx])
            w.add_spikes(k, f"ori{g}", [times[starts[i]:starts[i + 1]] for i in idx])
    return path
