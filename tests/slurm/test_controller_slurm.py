"""The controller on the real local SLURM cluster: end to end, faults, re-attach, sbatch, load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from orchestrator import load_results
from orchestrator.checkpoint import load_inflight
from orchestrator.cli import main
from tests.conftest import BASE_CONFIG, deep_update

pytestmark = pytest.mark.slurm
REPO = Path(__file__).resolve().parents[2]


def _cfg(tmp_path: Path, name: str = "cfg", **upd) -> Path:
    data = deep_update(BASE_CONFIG, {"executor": {"kind": "slurm", "poll_interval_s": 0.5,
                                                  "time_limit_s": 300}})
    data = deep_update(data, upd)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), **extra)
    env.pop("SIMTUNE_FAILPOINT", None)
    return env


def _wait(pred, timeout: float, what: str) -> None:
    end = time.time() + timeout
    while not pred():
        assert time.time() < end, f"timed out waiting for {what}"
        time.sleep(0.2)


def _inflight_jobs(run: Path) -> dict:
    try:
        return (load_inflight(run) or {})["jobs"]
    except (OSError, ValueError, KeyError):
        return {}


def _squeue_state(job_id: str) -> str:
    out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True,
                         text=True)
    return out.stdout.strip()


def test_example_optimisation_end_to_end(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, optimizer={"offspring_size": 4, "max_ngen": 2})
    assert main(["run", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    df = load_results(tmp_path / "run")
    assert len(df) == 8 and (df.status == "ok").all()
    # one job array per generation: ids ARRAY_TASK, one array id per generation
    arrays = df.groupby("generation").job_id.apply(lambda s: {j.split("_")[0] for j in s})
    assert all(len(a) == 1 for a in arrays) and arrays[0] != arrays[1]
    assert sorted(int(j.split("_")[1]) for j in df[df.generation == 0].job_id) == [0, 1, 2, 3]


@pytest.mark.timeout(600)
def test_job_faults_each_recorded_while_the_run_goes_on(tmp_path: Path) -> None:
    modes = ["ok", "exception", "abort", "sigkill", "sleep", "memory", "sleep"]
    expected = ["ok", "exception", "crashed", "crashed", "timeout", "out_of_memory", "cancelled"]
    cfg = _cfg(tmp_path,
               optimizer={"offspring_size": len(modes), "max_ngen": 2},
               executor={"time_limit_s": 60, "slurm": {"mem_gb": 0.5}},
               evaluator={"kind": "python", "function": "tests.helpers.sims:by_array_task",
                          "options": {"modes": modes}})
    run = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-m", "orchestrator", "run", str(cfg), "--run-dir",
                          str(run), "--no-progress"], cwd=REPO, env=_env(),
                         stderr=subprocess.PIPE, text=True)
    # cancel individual 6 from outside once it runs
    _wait(lambda: "6" in _inflight_jobs(run), 120, "submission")
    victim = _inflight_jobs(run)["6"]["job_id"]
    _wait(lambda: _squeue_state(victim) == "RUNNING", 240, "the victim to start")
    subprocess.run(["scancel", victim], check=True)
    _, err = p.communicate(timeout=480)
    assert p.returncode == 0, err[-3000:]
    df = load_results(run)
    assert len(df) == 14, "both generations complete"
    g0 = df[df.generation == 0].sort_values("individual")
    got = [r.status if r.status == "ok" else r.reason for r in g0.itertuples()]
    assert got == expected, g0[["reason", "detail"]].to_string()
    assert (df[df.generation == 1].status == "ok").all()
    assert (g0[g0.status == "failed"].total_score == 40.0).all()


def test_never_started_is_cancelled_and_recorded(tmp_path: Path, capsys) -> None:
    # the partition "maint" is down: SLURM keeps the jobs pending forever
    cfg = _cfg(tmp_path, optimizer={"offspring_size": 3, "max_ngen": 1},
               executor={"pending_limit_s": 4, "slurm": {"partition": "maint"}})
    t0 = time.time()
    # every evaluation of the first generation failed for one reason: the run stops (exit 1)
    assert main(["run", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 1
    assert time.time() - t0 < 120
    assert "failed with reason never_started" in capsys.readouterr().err
    df = load_results(tmp_path / "run")
    assert list(df.reason) == ["never_started"] * 3
    assert df.detail.str.contains("pending limit").all()
    for jid in df.job_id:
        assert _squeue_state(jid) in ("", "CANCELLED"), "cancelled, not left pending"


@pytest.mark.timeout(600)
def test_kill9_while_array_runs_then_resume_reattaches(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, optimizer={"offspring_size": 4, "max_ngen": 2},
               evaluator={"kind": "python", "function": "tests.helpers.sims:rate_sheet",
                          "options": {"sleep_s": 8}})
    run, counter = tmp_path / "run", tmp_path / "count"
    env = _env(SIMTUNE_TEST_COUNTER=str(counter))
    p = subprocess.Popen([sys.executable, "-m", "orchestrator", "run", str(cfg), "--run-dir",
                          str(run), "--no-progress"], cwd=REPO, env=env)
    _wait(lambda: len(_inflight_jobs(run)) == 4, 120, "the array to be submitted")
    before = {i: j["job_id"] for i, j in _inflight_jobs(run).items()}
    _wait(lambda: any(_squeue_state(j) == "RUNNING" for j in before.values()), 120, "a start")
    p.send_signal(signal.SIGKILL)
    p.wait()
    r = subprocess.run([sys.executable, "-m", "orchestrator", "resume", str(run),
                        "--no-progress"], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=480)
    assert r.returncode == 0, r.stderr[-3000:]
    df = load_results(run)
    assert len(df) == 8 and (df.status == "ok").all()
    g0 = df[df.generation == 0].sort_values("individual")
    assert list(g0.job_id) == [before[str(i)] for i in range(4)], "re-attached, not resubmitted"
    calls = Counter(counter.read_text().splitlines())
    assert sum(calls.values()) == 8 and max(calls.values()) == 1, "no simulation ran twice"


@pytest.mark.timeout(900)
def test_sbatch_controller_runs_to_completion_and_requeues(tmp_path: Path) -> None:
    simtune = Path(sys.executable).parent / "simtune"
    assert simtune.exists(), "make test installs the simtune command into the venv"
    cfg = _cfg(tmp_path, optimizer={"offspring_size": 2, "max_ngen": 3},
               executor={"max_parallel": 1},
               evaluator={"kind": "python", "function": "tests.helpers.sims:rate_sheet",
                          "options": {"sleep_s": 3}})
    run = tmp_path / "run"
    out = subprocess.run(
        ["sbatch", "--parsable", f"--chdir={tmp_path}", f"--output={tmp_path}/ctl-%j.out",
         str(REPO / "sbatch" / "optimisation.sbatch"), str(cfg), str(run)],
        env=_env(SIMTUNE=str(simtune)), capture_output=True, text=True, check=True)
    ctl = out.stdout.strip().split(";")[0]
    # once generation 1 runs, send the pre-timeout warning: checkpoint, requeue, resume
    _wait(lambda: (run / "inflight.json").exists() and "g0001" in str(
        list((run / "evals").glob("g0001"))), 300, "generation 1")
    subprocess.run(["scancel", "--batch", "--signal=USR1", ctl], check=True)
    _wait(lambda: _squeue_state(ctl) == "" and len(load_results(run)) == 6, 600,
          "the controller job to finish")
    log = "".join(f.read_text() for f in tmp_path.glob("ctl-*.out"))
    assert "requeueing job" in log and "resuming" in log, log[-3000:]
    df = load_results(run)
    assert len(df) == 6 and (df.status == "ok").all()
    assert not df.duplicated(["generation", "individual"]).any()


@pytest.mark.timeout(1200)
def test_generation_of_1000_evaluations_memory_flat(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path,
               optimizer={"offspring_size": 1000, "max_ngen": 1},
               targets=[{"class": "tests.helpers.targets:SeriesMean", "target_value": 1.0,
                         "norm": 1.0, "name": "signal"}],
               executor={"poll_interval_s": 1.0},
               evaluator={"kind": "python", "function": "tests.helpers.sims:trivial"},
               cleanup={"keep_best": 1})
    run = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-m", "orchestrator", "run", str(cfg), "--run-dir",
                          str(run), "--no-progress"], cwd=REPO, env=_env(),
                         stderr=subprocess.PIPE, text=True)
    samples: list[tuple[int, float]] = []

    def sample() -> None:
        g = run / "evals" / "g0000"
        while p.poll() is None:
            try:
                with open(f"/proc/{p.pid}/status") as fh:
                    rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))
            except (OSError, StopIteration):
                break
            done = len(list(g.glob("i*/result.json"))) if g.exists() else 0
            samples.append((done, rss / 1024))
            time.sleep(2)

    t = threading.Thread(target=sample)
    t.start()
    _, err = p.communicate(timeout=1100)
    t.join()
    assert p.returncode == 0, err[-3000:]
    df = load_results(run)
    assert len(df) == 1000 and (df.status == "ok").all()
    early = [m for d, m in samples if 50 <= d <= 300]
    late = [m for d, m in samples if d >= 700]
    assert early and late, samples[-5:]
    growth = max(late) - min(early)
    print(f"controller RSS {min(early):.0f} MB at 50-300 done, max {max(late):.0f} MB at 700+")
    assert growth < 30, f"controller RSS grew by {growth:.0f} MB over the generation"
