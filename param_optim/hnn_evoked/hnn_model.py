"""hnn-core's Jones 2009 cortical column with a re-parametrised ``evprox2`` drive (``hnn_evoked``).

hnn-core's ``Optimizer`` (seed 001) fits a drive's parameters to a measured dipole with a
``set_params(net, params)`` hook and runs the trials of each candidate one after the other.
Here one simtune evaluation simulates ONE trial (``repeats`` gives ``n_trials``, with the same
event seeds for every candidate), and simtune evaluates the candidates of a generation in
parallel (local processes or a SLURM array).

Parameters: ``ampa_L5_pyramidal`` (µS, evprox2's AMPA weight onto L5 pyramidal cells), ``mu``
(ms, mean time of the drive's spikes) and ``sigma`` (ms, their spread). The evaluation's ``seed``
is added to every drive's ``event_seed``: repeat ``r`` is trial ``r``.

The aggregate dipole (nAm, unscaled) goes into the data store as the time series ``dipole``;
``TimeSeriesTarget`` scales it by 3000, smooths it over 30 ms and takes the RMSE to the
measured waveform, as hnn-core's example does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping


def set_params(net, params: Mapping[str, float]) -> None:  # type: ignore[no-untyped-def]
    """Replace ``evprox2`` with one at the candidate's weight, mu and sigma (hnn-core style)."""
    old = net.external_drives["evprox2"]
    weights = dict(old["weights_ampa"])
    weights["L5_pyramidal"] = float(params["ampa_L5_pyramidal"])
    del net.external_drives["evprox2"]
    net.add_evoked_drive(
        "evprox2", mu=float(params["mu"]), sigma=float(params["sigma"]), numspikes=1,
        location="proximal", weights_ampa=weights, weights_nmda=dict(old["weights_nmda"]),
        synaptic_delays=dict(old["synaptic_delays"]), event_seed=old["event_seed"],
        conn_seed=old["conn_seed"], cell_specific=old["cell_specific"],
        n_drive_cells="n_cells" if old["cell_specific"] else old["n_drive_cells"])


def simulate(parameters: Mapping[str, float], out_dir: Path, seed: int,
             tstop: float = 170.0, dt: float = 0.025) -> Path:
    """simtune python evaluator: one trial of the column, dipole written to the data store."""
    from hnn_core import jones_2009_model, simulate_dipole

    from evaluators.datastore import DataStoreWriter

    net = jones_2009_model(add_drives_from_params=True)
    set_params(net, parameters)
    for drive in net.external_drives.values():
        drive["event_seed"] = int(drive["event_seed"]) + int(seed)
    dpl = simulate_dipole(net, tstop=tstop, dt=dt, n_trials=1)[0]
    path = Path(out_dir) / "datastore.h5"
    with DataStoreWriter(path, simulator="hnn_core", seed=seed, params=parameters) as w:
        w.add_timeseries("dipole", dpl.times, dpl.data["agg"])
    return path
