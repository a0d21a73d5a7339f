"""hnn-core's Jones 2009 cortical column with a re-parametrised ``evprox2`` drive (``hnn_evoked``).

hnn-core's ``Optimizer`` (seed 001) fits a drive's parameters to a measured dipole with a
``set_params(net, params)`` hook that adds ALL the drives to a copy of a network built without
drives, and runs the trials of each candidate one after the other. Here one simtune evaluation
simulates ONE trial (``repeats`` gives ``n_trials``, with the same event seeds for every
candidate), and simtune evaluates the candidates of a generation in parallel (local processes or
a SLURM array).

Parameters: ``ampa_L5_pyramidal`` (µS, evprox2's AMPA weight onto L5 pyramidal cells), ``mu``
(ms, mean time of the drive's spikes) and ``sigma`` (ms, their spread). Every other property of
the three ERP drives (evdist1, evprox1, evprox2) is hnn-core's default, read from a scratch
network built with the drives of its default parameter set. The evaluation's ``seed`` is added
to every drive's ``event_seed``: repeat ``r`` is trial ``r``.

The aggregate dipole (nAm, unscaled) goes into the data store as the time series ``dipole``;
``TimeSeriesTarget`` scales it by 3000, smooths it over 30 ms and takes the RMSE to the
measured waveform, as hnn-core's example does.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

ERP_DRIVES = ("evdist1", "evprox1", "evprox2")


def _column(mesh_shape: Sequence[int], add_drives_from_params: bool = False):  # type: ignore[no-untyped-def]
    """The Jones 2009 column (``neymotin_2020_model`` in hnn-core >= 0.6: the same network,
    ``jones_2009_model`` is its deprecated alias)."""
    import hnn_core

    model = getattr(hnn_core, "neymotin_2020_model", None) or hnn_core.jones_2009_model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return model(add_drives_from_params=add_drives_from_params,
                     mesh_shape=tuple(int(n) for n in mesh_shape))


def default_drives(mesh_shape: Sequence[int] = (10, 10)) -> dict[str, dict[str, Any]]:
    """The ERP drives of hnn-core's default parameters, as ``add_evoked_drive`` keyword arguments.

    A scratch network is built WITH the drives only to read their definitions; nothing of it is
    simulated. ``space_constant`` is not kept in ``net.external_drives`` and is read from the
    drive's connections.
    """
    scratch = _column(mesh_shape, add_drives_from_params=True)
    drives: dict[str, dict[str, Any]] = {}
    for name in ERP_DRIVES:
        d = scratch.external_drives[name]
        if d["type"] != "evoked":
            raise ValueError(f"hnn-core's default {name} is a {d['type']} drive, not evoked")
        lamthas = {c["nc_dict"]["lamtha"] for c in scratch.connectivity
                   if c["src_type"] == name}
        drives[name] = dict(
            mu=float(d["dynamics"]["mu"]), sigma=float(d["dynamics"]["sigma"]),
            numspikes=int(d["dynamics"]["numspikes"]), location=d["location"],
            n_drive_cells="n_cells" if d["cell_specific"] else int(d["n_drive_cells"]),
            cell_specific=bool(d["cell_specific"]),
            weights_ampa=dict(d["weights_ampa"] or {}) or None,
            weights_nmda=dict(d["weights_nmda"] or {}) or None,
            space_constant=float(lamthas.pop()) if len(lamthas) == 1 else 3.0,
            synaptic_delays=d["synaptic_delays"], probability=d["probability"],
            event_seed=int(d["event_seed"]), conn_seed=int(d["conn_seed"]))
    return drives


def set_params(net, params: Mapping[str, float], drives: Mapping[str, Mapping[str, Any]],
               seed: int = 0) -> None:  # type: ignore[no-untyped-def]
    """Add the three ERP drives to ``net`` (built WITHOUT drives), evprox2 at the candidate's
    weight, mu and sigma, every ``event_seed`` shifted by ``seed`` (hnn-core style: the drives
    are added once to a fresh network, never deleted and re-added)."""
    if net.external_drives:
        raise ValueError(f"set_params needs a network without drives, found "
                         f"{sorted(net.external_drives)}")
    for name in ERP_DRIVES:
        kw = dict(drives[name])
        if name == "evprox2":
            kw["weights_ampa"] = {**(kw["weights_ampa"] or {}),
                                  "L5_pyramidal": float(params["ampa_L5_pyramidal"])}
            kw["mu"] = float(params["mu"])
            kw["sigma"] = float(params["sigma"])
        kw["event_seed"] = int(kw["event_seed"]) + int(seed)
        net.add_evoked_drive(name, **kw)


def simulate(parameters: Mapping[str, float], out_dir: Path, seed: int,
             tstop: float = 170.0, dt: float = 0.025,
             mesh_shape: Sequence[int] = (10, 10)) -> Path:
    """simtune python evaluator: one trial of the column, dipole written to the data store.

    ``mesh_shape`` (pyramidal cells per layer, x by y) other than hnn-core's (10, 10) is for
    smoke tests only: the drives' weights are tuned for the full column.
    """
    from hnn_core import simulate_dipole

    from evaluators.datastore import DataStoreWriter

    drives = default_drives(mesh_shape)
    net = _column(mesh_shape)
    set_params(net, parameters, drives, seed=seed)
    dpl = simulate_dipole(net, tstop=tstop, dt=dt, n_trials=1)[0]
    path = Path(out_dir) / "datastore.h5"
    with DataStoreWriter(path, simulator="hnn_core", seed=seed, params=parameters) as w:
        w.add_timeseries("dipole", dpl.times, dpl.data["agg"])
    return path
