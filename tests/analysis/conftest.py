"""Small runs for the analysis tests (report, export, notebooks), made once per session.

Runs use the in-process ``debug`` executor and the test simulator ``tests.helpers.sims`` so the
whole analysis suite takes seconds:

* ``finished_run`` — 3 generations of 4, every evaluation ok (a constant, a derived, an integer
  and a log parameter are in the space; ``keep_best: -1`` keeps every data store for triage);
* ``live_run`` — stopped after 2 of 3 generations, generation 2 "in flight" (``inflight.json``,
  2 of 4 ``result.json`` files) and a torn last line in ``results.jsonl``;
* ``failed_run`` — every evaluation raises (``misbehave`` with ``mode: exception``): the run
  stops after its first generation of 4.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CONFIG: dict[str, Any] = {
    "name": "analysis",
    "parameters": {
        "a": [0.0, 1.0],
        "b": [0.0, 2.0],
        "c": [0.0, 2.0],
        "n_syn": {"low": 1, "high": 10, "integer": True},
        "tau": {"low": 0.1, "high": 10.0, "log": True},
        "k": 3.0,
        "d": "a + k",
    },
    "targets": [
        {"class": "SpontActivityTarget", "target_value": [4.0, 5.0], "sheet_name": "exc",
         "norm": 0.2},
        {"class": "IrregularityTarget", "target_value": 1.0, "sheet_name": "exc", "norm": 0.1},
    ],
    "optimizer": {"offspring_size": 4, "seed": 3, "max_ngen": 3},
    "executor": {"kind": "debug", "time_limit_s": 60, "poll_interval_s": 0.05},
    "evaluator": {"kind": "python", "function": "tests.helpers.sims:rate_sheet",
                  "options": {"n": 20, "duration_ms": 1000.0}},
    "cleanup": {"keep_best": -1},
}

FAILING = {
    "evaluator": {"kind": "python", "function": "tests.helpers.sims:misbehave",
                  "options": {"mode": "exception"}},
    "optimizer": {"offspring_size": 4, "seed": 3, "max_ngen": 2},
}


class _Stop(Exception):
    pass


def make_run(folder: Path, raw: dict[str, Any], stop_after: int | None = None) -> Path:
    """Run ``raw`` (a config mapping) into ``folder/run`` with the real controller (a run whose
    first generation all fails stops there, as the controller does)."""
    from orchestrator.config import load_config
    from orchestrator.controller import Controller, RunFailed
    from orchestrator.rundir import create_run

    folder.mkdir(parents=True, exist_ok=True)
    cfg_path = folder / f"{raw['name']}.yaml"
    cfg_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    cfg = load_config(cfg_path)
    run_dir = create_run(cfg, folder / "run")
    ctl = Controller(cfg, run_dir, progress=False)
    if stop_after is not None:
        def stop(g: int, _records: Any) -> None:
            if g == stop_after:
                raise _Stop
        ctl.on_generation = stop
    try:
        ctl.run()
    except (_Stop, RunFailed):
        pass
    return run_dir


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("finished"), CONFIG)


@pytest.fixture(scope="session")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = copy.deepcopy(CONFIG)
    raw.update(copy.deepcopy(FAILING), name="failing")
    return make_run(tmp_path_factory.mktemp("failed"), raw)


@pytest.fixture(scope="session")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two generations done, the third in flight (half its results on disk), a torn line."""
    run_dir = make_run(tmp_path_factory.mktemp("live"), CONFIG, stop_after=1)
    last = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    g = 2
    points = [[0.5] * 5 for _ in range(4)]
    (run_dir / "inflight.json").write_text(json.dumps(
        {"generation": g, "points": points, "jobs": {}, "started_at": time.time()}))
    for i in range(2):  # two evaluations of generation 2 finished, two still running
        rec = dict(last[i], generation=g, individual=i)
        d = run_dir / "evals" / f"g{g:04d}" / f"i{i:03d}"
        d.mkdir(parents=True, exist_ok=True)
        rec["eval_dir"] = str(d)
        (d / "result.json").write_text(json.dumps(rec))
    with open(run_dir / "results.jsonl", "a") as fh:
        fh.write('{"generation": 2, "individual": 3, "status": "o')  # torn: no newline
    with open(run_dir / "generations.jsonl", "a") as fh:
        fh.write('{"generation": 2, "sig')
    return run_dir


@pytest.fixture
def copy_run(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Copy a session run into this test's tmp dir (for tests that write into it)."""

    def _copy(run_dir: Path) -> Path:
        dst = tmp_path / "copy"
        shutil.copytree(run_dir, dst)
        return dst

    return _copy


def kernel_env(run_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SIMTUNE_RUN_DIR"] = str(run_dir)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [
        p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["MPLBACKEND"] = "Agg"
    return env
