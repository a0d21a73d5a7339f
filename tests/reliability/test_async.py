"""The asynchronous mode end to end: slots kept full, every evaluation recorded once, and a
controller killed with SIGKILL at 10+ points resumes to the run the told order determines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from orchestrator import load_generations, load_results
from orchestrator.bookkeeping import told as tell_args
from orchestrator.cli import main
from orchestrator.config import load_config
from orchestrator.optimizer import make_optimizer
from orchestrator.results import iter_jsonl
from simtune_core.record import EvaluationRecord

REPO = Path(__file__).resolve().parents[2]
SLOTS, BUDGET = 3, 24


def _config(write_config, function: str = "tests.helpers.sims:rate_sheet", **optimizer):
    from tests.conftest import BASE_CONFIG, deep_update

    raw = deep_update(BASE_CONFIG, {
        "optimizer": {"offspring_size": 4, "seed": 7, "mode": "async",
                      "max_evaluations": BUDGET, **optimizer},
        "executor": {"max_parallel": SLOTS, "poll_interval_s": 0.2}})
    raw["evaluator"] = {"kind": "python", "function": function}
    if function.startswith("tests."):  # 0.05 to 0.65 s by parameter: out-of-order results
        raw["evaluator"]["options"] = {"sleep_s": 0.05, "sleep_per_a_s": 0.6}
    return write_config(raw=raw)


def _replayed_points(cfg_path: Path, told: list[dict]) -> dict[str, np.ndarray]:
    """The points a fresh optimizer asks when told ``told`` in this order: fill the slots,
    then one ask after every tell (the rule of orchestrator/steady.py)."""
    cfg = load_config(cfg_path)
    opt = make_optimizer(cfg.optimizer, cfg.space.to_unit(cfg.centroid), cfg.total_max_score,
                         cfg_path.parent, n_targets=len(cfg.targets),
                         terms=[t.term() for t in cfg.targets])
    asked: dict[str, np.ndarray] = {}
    state = {"g": -1, "i": 0}

    def ask() -> None:
        x = opt.ask_one()
        g = opt.generation
        if g != state["g"]:
            state["g"], state["i"] = g, 0
        asked[f"{g}/{state['i']}"] = x
        state["i"] += 1

    for _ in range(SLOTS):
        ask()
    for k, r in enumerate(told):
        key = f"{r['generation']}/{r['individual']}"
        rec = EvaluationRecord.from_json(r)
        opt.tell_one(asked[key], *tell_args(rec, cfg.targets))
        if len(asked) < BUDGET:
            ask()
    return asked


def _check_run(cfg: Path, run: Path) -> list[dict]:
    rows = list(iter_jsonl(run / "results.jsonl"))  # a torn line of a crash is skipped
    told = sorted((r for r in rows if r.get("tell_seq") is not None),
                  key=lambda r: r["tell_seq"])
    assert [r["tell_seq"] for r in told] == list(range(BUDGET))  # each told once, in order
    keys = [(r["generation"], r["individual"]) for r in told]
    assert len(set(keys)) == BUDGET
    # every point is the one the told order determines: the optimizer's decisions depend on it
    # alone, whatever crashed and resumed in between
    want = _replayed_points(cfg, told)
    assert set(want) == {f"{g}/{i}" for g, i in keys}
    for r in told:
        task = json.loads((Path(r["eval_dir"]) / "task.json").read_text())
        np.testing.assert_allclose(task["point"], want[f"{r['generation']}/{r['individual']}"],
                                   atol=1e-12)
    for r in told:
        assert r["asked_at"] <= r["submitted_at"] <= r["started_at"] <= r["finished_at"]
    return told


def test_async_run_keeps_the_slots_full(write_config, tmp_path: Path, capsys) -> None:
    cfg = _config(write_config)
    assert main(["run", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    told = _check_run(cfg, tmp_path / "run")
    assert all(r["status"] == "ok" for r in told)
    # a CMA update per popsize (4) results, each its own row
    gens = load_generations(tmp_path / "run")
    assert list(gens.generation) == list(range(BUDGET // 4))
    assert (gens.n == 4).all()
    # never more than SLOTS jobs at once
    t = sorted((r["submitted_at"], r["finished_at"]) for r in told)
    for sub, _fin in t:
        assert sum(1 for s, f in t if s <= sub < f) <= SLOTS
    df = load_results(tmp_path / "run")
    assert len(df) == BUDGET and set(df.tell_seq) == set(range(BUDGET))
    assert "24 of 24 evaluations done" in capsys.readouterr().out
    assert main(["status", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "evaluations: 24 of 24 (0 failed); 6 CMA updates" in out
    assert "slots busy so far: " in out


def test_async_composite_surrogate_points_follow_the_told_order(write_config,
                                                                 tmp_path: Path) -> None:
    cfg = _config(write_config, surrogate="composite")
    assert main(["run", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    told = _check_run(cfg, tmp_path / "run")  # a replay told the same values asks the same
    assert all(r["status"] == "ok" for r in told)


def _run(args: list[str], counter: Path, failpoint: str | None = None) -> int:
    env = dict(os.environ, SIMTUNE_TEST_COUNTER=str(counter), PYTHONPATH=str(REPO))
    env.pop("SIMTUNE_FAILPOINT", None)
    if failpoint:
        env["SIMTUNE_FAILPOINT"] = failpoint
    return subprocess.run([sys.executable, "-m", "orchestrator", *args, "--no-progress"],
                          cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=300).returncode


CRASHES = [("after_inflight", 1), ("after_submit", 2), ("waiting", 4), ("results_write", 1),
           ("after_results", 1), ("after_tell", 2), ("before_checkpoint", 1),
           ("atomic_write", 3), ("after_checkpoint", 2), ("waiting", 10), ("after_results", 3),
           ("after_tell", 1), ("atomic_write", 7), ("before_checkpoint", 4)]


@pytest.mark.timeout(900)
def test_kill9_at_every_phase_resumes_without_loss(write_config, tmp_path: Path) -> None:
    cfg = _config(write_config)
    run, count = tmp_path / "run", tmp_path / "count"
    assert _run(["run", str(cfg), "--run-dir", str(run)], count, "after_inflight:1") == -9
    landed = 1
    for fp, nth in CRASHES[1:]:
        rc = _run(["resume", str(run)], count, f"{fp}:{nth}")
        if rc != -9:
            assert rc == 0
            break
        landed += 1
    assert landed >= 10, f"only {landed} crashes landed before the run finished"
    if load_results(run).tell_seq.notna().sum() < BUDGET:  # the last crash came late
        assert _run(["resume", str(run)], count) == 0
    assert _run(["resume", str(run)], count) == 0  # finished: it says so
    _check_run(cfg, run)
    # no simulation ran twice, none was lost: exactly the budget, each parameter set once
    calls = Counter(count.read_text().splitlines())
    assert sum(calls.values()) == BUDGET and set(calls.values()) == {1}


BROKEN = '''
from pathlib import Path
from tests.helpers.sims import rate_sheet

def simulate(params, out_dir, seed):
    if Path(__file__).with_name("broken").exists():
        raise RuntimeError("the model is misconfigured")
    return rate_sheet(params, out_dir, seed, n=20, duration_ms=500.0)
'''


def test_a_first_group_that_measures_nothing_stops_and_a_new_epoch_resumes(
        write_config, tmp_path: Path, capsys) -> None:
    (tmp_path / "amodel.py").write_text(BROKEN)
    (tmp_path / "broken").write_text("")
    cfg = _config(write_config, "amodel:simulate")
    run = tmp_path / "run"
    assert main(["run", str(cfg), "--run-dir", str(run), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "failed with reason exception: RuntimeError: the model is misconfigured" in err
    first = list(iter_jsonl(run / "results.jsonl"))
    assert all(r["status"] == "failed" for r in first)  # the jobs in flight: cancelled, recorded
    assert {r["epoch"] for r in first} == {0} and len(first) >= 4  # an epoch never replayed
    (tmp_path / "broken").unlink()
    assert main(["resume", str(run), "--no-progress"]) == 0
    rows = list(iter_jsonl(run / "results.jsonl"))
    epoch1 = [r for r in rows if r.get("epoch") == 1]
    assert len(epoch1) == BUDGET and all(r["status"] == "ok" for r in epoch1)
    assert sorted(r["tell_seq"] for r in epoch1) == list(range(BUDGET))
    # the new epoch asks the same first points again (the optimizer's initial state)
    g0 = min(r["generation"] for r in epoch1)
    assert g0 > max(r["generation"] for r in rows if r.get("epoch") == 0)
    old = {(r["individual"]): r["parameters"]["a"] for r in rows
           if r.get("epoch") == 0 and r["generation"] == 0}
    new = {(r["individual"]): r["parameters"]["a"] for r in epoch1 if r["generation"] == g0}
    assert all(old[i] == new[i] for i in old if i in new and i < SLOTS)
