"""Small simulators for tests: each writes a real data store, or misbehaves for real.

``rate_sheet`` turns two parameters into Poisson-like spike trains of a sheet "exc" whose mean rate
and irregularity depend smoothly on them, so targets built on it have a known optimum. Every call
appends a line to ``$SIMTUNE_TEST_COUNTER`` (if set), so tests can count simulator invocations.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from evaluators.datastore import DataStoreWriter


def _count(tag: str, params: Mapping[str, float]) -> None:
    path = os.environ.get("SIMTUNE_TEST_COUNTER")
    if path:
        with open(path, "a") as fh:
            fh.write(f"{tag} {sorted(params.items())}\n")


def rate_sheet(params: Mapping[str, float], out_dir: Path, seed: int,
               n: int = 40, duration_ms: float = 2000.0, sleep_s: float = 0.0,
               sleep_per_a_s: float = 0.0) -> Path:
    """Rate = 10 * |a| + 2 * b Hz; ISI regularity from c (gamma shape 1/(c+0.2)). It takes
    ``sleep_s + sleep_per_a_s * a`` seconds (results of a batch come back out of order)."""
    _count("rate_sheet", params)
    pause = sleep_s + sleep_per_a_s * float(params.get("a", 0.0))
    if pause > 0:
        time.sleep(pause)
    a, b = float(params.get("a", 0.5)), float(params.get("b", 0.5))
    c = float(params.get("c", 0.8))
    rate = 10.0 * abs(a) + 2.0 * b
    shape = 1.0 / (c + 0.2)
    rng = np.random.default_rng(seed)
    trains = []
    for _ in range(n):
        k = max(int(rate * duration_ms / 1000 * 3) + 10, 10)
        isi = rng.gamma(shape, 1000.0 / max(rate, 1e-3) / shape, size=k)
        t = np.cumsum(isi)
        trains.append(t[t < duration_ms])
    path = Path(out_dir) / "datastore.h5"
    with DataStoreWriter(path, simulator="rate_sheet", seed=seed, params=params) as w:
        w.add_sheet("exc", ids=np.arange(n), x=np.linspace(-1, 1, n), y=np.zeros(n))
        k = w.add_segment(kind="spontaneous", duration_ms=duration_ms)
        w.add_spikes(k, "exc", trains)
        w.add_timeseries("signal", np.arange(10.0), np.full(10, rate))
    return path


def misbehave(params: Mapping[str, float], out_dir: Path, seed: int, mode: str = "ok",
              when: str = "always") -> Any:
    """Fail in ``mode`` when ``when`` holds ('always', or 'a>0.5' style: param > threshold)."""
    if when != "always":
        name, thr = when.split(">")
        if not float(params[name]) > float(thr):
            return rate_sheet(params, out_dir, seed)
    _count(f"misbehave:{mode}", params)
    out_dir = Path(out_dir)
    if mode == "exception":
        raise ValueError("the model diverged (injected)")
    if mode == "abort":
        os.abort()
    if mode == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if mode == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "sleep":
        time.sleep(3600)
    if mode == "no_datastore":
        return None
    if mode == "corrupt":
        p = rate_sheet(params, out_dir, seed)
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 3])
        return p
    if mode == "garbage":
        p = out_dir / "datastore.h5"
        p.write_bytes(b"this is not HDF5")
        return p
    if mode == "nan":  # a numerical blow-up: the recorded signal holds NaN
        p = rate_sheet(params, out_dir, seed)
        import h5py

        with h5py.File(p, "a") as f:
            f["timeseries/signal/values"][3] = np.nan
        return p
    if mode == "invalid":  # a writer bug: one spike offset too few (docs/datastore.md)
        p = rate_sheet(params, out_dir, seed)
        import h5py

        with h5py.File(p, "a") as f:
            g = f["segments/0/exc"]
            offsets = g["spike_offsets"][()]
            del g["spike_offsets"]
            g["spike_offsets"] = offsets[:-1]
        return p
    if mode == "explosion":
        p = rate_sheet(params, out_dir, seed)
        import h5py

        with h5py.File(p, "a") as f:
            f.attrs["explosion"] = 1
        return p
    return rate_sheet(params, out_dir, seed)


def by_array_task(params: Mapping[str, float], out_dir: Path, seed: int,
                  modes: list[str] | None = None) -> Any:
    """In generation 0, misbehave in ``modes[SLURM_ARRAY_TASK_ID]``; otherwise run rate_sheet."""
    task = int(os.environ.get("SLURM_ARRAY_TASK_ID", "0"))
    mode = (modes or ["ok"])[task % len(modes or ["ok"])]
    if "g0000" not in str(out_dir) or mode == "ok":
        return rate_sheet(params, out_dir, seed)
    if mode == "memory":
        _count("misbehave:memory", params)
        hog = np.ones(int(2.5e9 / 8))  # 2.5 GB, touched: over any test limit
        return float(hog.sum())
    return misbehave(params, out_dir, seed, mode=mode)


def trivial(params: Mapping[str, float], out_dir: Path, seed: int) -> dict[str, Any]:
    """The cheapest real evaluation: a 3-sample time series simtune writes as a store."""
    _count("trivial", params)
    return {"timeseries": {"signal": ([0.0, 1.0, 2.0], [params["a"], params["b"], 1.0])}}


def improving(params: Mapping[str, float], out_dir: Path, seed: int) -> dict[str, Any]:
    """Every generation better than the one before (its score falls with the generation
    number in the evaluation directory's name): each one pushes all earlier ones out of the best."""
    g = int(Path(out_dir).parent.name[1:])
    return {"values": {"loss": 100.0 / (g + 1) + float(params["a"])},
            "timeseries": {"pad": (np.arange(2000.0), np.zeros(2000))}}


def stubborn(params: Mapping[str, float], out_dir: Path, seed: int, pidfile: str) -> Any:
    """Ignore SIGTERM, start a child in this process group that ignores it too (its pid into
    ``pidfile``), sleep: only SIGKILL of the job's group ends them."""
    import subprocess
    import sys

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)"
    child = subprocess.Popen([sys.executable, "-c", code])
    Path(pidfile).write_text(str(child.pid))
    time.sleep(3600)
