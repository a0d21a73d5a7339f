"""A staged simulator for the gate tests: segment by segment, each published with ``flush``.

``staged(params, out_dir, seed, ...)`` writes a sheet "exc" of 20 neurons and one segment per
entry of ``kinds``, each firing at ``params["a"] * 100`` Hz; after each segment it calls
``DataStoreWriter.flush()`` (unless ``flush`` is false) and then touches ``done_<k>`` in
``out_dir``, so a test sees how far the simulation got. Run as a script (the command evaluator)
it reads the parameters from ``$SIMTUNE_PARAMS_FILE``, first starts a child process that sleeps
(its pid in ``child.pid``; a gate must take it down with the simulator) and sleeps ``pause_s``
after each segment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from evaluators.datastore import DataStoreWriter


def staged(params: Mapping[str, float], out_dir: Path, seed: int,
           kinds: Sequence[str] = ("spontaneous", "grating", "grating"), flush: bool = True,
           explode_at: int | None = None, swallow: bool = False, pause_s: float = 0.0,
           corrupt_at: int | None = None) -> None:
    """Write the segments of ``kinds`` one at a time (module docstring); ``explode_at``: set the
    explosion flag with segment k; ``swallow``: wrap each flush in ``except Exception``, as a
    careless model would; ``corrupt_at``: write garbage as the published file of segment k."""
    out_dir = Path(out_dir)
    rate = 100.0 * float(params["a"])
    rng = np.random.default_rng(seed)
    with DataStoreWriter(out_dir / "datastore.h5", simulator="staged", seed=seed,
                         params=params) as w:
        w.add_sheet("exc", ids=np.arange(20), x=np.zeros(20), y=np.zeros(20))
        for k, kind in enumerate(kinds):
            seg = w.add_segment(kind=kind, duration_ms=1000.0)
            w.add_spikes(seg, "exc", [np.sort(rng.uniform(0.0, 1000.0, rng.poisson(rate)))
                                      for _ in range(20)])
            if explode_at == k:
                w.set_explosion()
            if corrupt_at == k:
                progress = Path(os.environ["SIMTUNE_PROGRESS_DIR"])
                progress.mkdir(parents=True, exist_ok=True)
                (progress / f"{k}.h5").write_bytes(b"not an HDF5 file")
            elif flush:
                try:
                    w.flush()
                except Exception:
                    if not swallow:
                        raise
            (out_dir / f"done_{k}").touch()
            time.sleep(pause_s)


def gone(pid: int, timeout_s: float) -> bool:
    """Whether process ``pid`` has ended (exited or a zombie) within ``timeout_s`` seconds: the
    gate tests' check that a stopped simulator and its child leave nothing running."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return True
        except OSError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def main() -> None:
    payload: dict[str, Any] = json.loads(Path(os.environ["SIMTUNE_PARAMS_FILE"]).read_text())
    out = Path(payload["out_dir"])
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    (out / "child.pid").write_text(str(child.pid))
    (out / "sim.pid").write_text(str(os.getpid()))
    options = json.loads(os.environ.get("STAGED_OPTIONS", "{}"))
    staged(payload["parameters"], out, payload["seed"], **options)
    child.kill()
    child.wait()


if __name__ == "__main__":
    main()
