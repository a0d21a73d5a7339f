"""The job watcher finds results through the run's inbox, and without it when a marker is missing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import config_from_dict
from orchestrator.controller import Controller
from orchestrator.executors import Executor, JobInfo, JobState, JobWatcher, Limits
from orchestrator.executors import watcher as watcher_mod
from orchestrator.rundir import create_run
from simtune_core.record import INBOX_DIR, inbox_name
from tests.conftest import BASE_CONFIG, REPO, deep_update


class RunAtSubmit(Executor):
    """Runs each task in this process when it is submitted; counts the polls."""

    kind = "test"

    def __init__(self, folder: Path, options: Any) -> None:
        super().__init__(folder, options)
        self.polls = 0
        self._n = 0

    def _submit(self, task_paths: list[Path], label: str) -> list[str]:
        from evaluators.worker import run_task

        for p in task_paths:
            run_task(str(p))
        self._n += len(task_paths)
        return [f"j{self._n - len(task_paths) + k}" for k in range(len(task_paths))]

    def _poll(self, job_ids: list[str]) -> dict[str, JobInfo]:
        self.polls += 1
        return {j: JobInfo(JobState.COMPLETED, time.time()) for j in job_ids}

    def _cancel(self, job_ids: list[str]) -> None:
        pass


def _setup(tmp_path: Path, poll_s: float) -> tuple[Controller, RunAtSubmit]:
    raw = deep_update(BASE_CONFIG, {
        "targets": [{"class": "tests.helpers.targets:SeriesMean", "target_value": 1.0,
                     "norm": 1.0, "name": "signal"}],
        "evaluator": {"function": "tests.helpers.sims:trivial"},
        "executor": {"poll_interval_s": poll_s}})
    cfg = config_from_dict(raw, REPO)
    run = create_run(cfg, tmp_path / "run")
    (run / INBOX_DIR).mkdir()
    ex = RunAtSubmit(run / "jobs", cfg.executor)
    return Controller(cfg, run, executor=ex, progress=False), ex


def _tasks(ctl: Controller, n: int, inbox: bool, first: int = 0) -> list[Any]:
    out = []
    for i in range(first, first + n):
        task = ctl._task(0, i, {"a": 0.5, "b": 1.0, "c": 1.0, "k": 3.0, "d": 3.5})
        if not inbox:
            del task["inbox"]  # a task written by a version without the inbox
        out.append(ctl._write_task(task))
    return out


def test_results_are_found_through_the_inbox_without_asking_the_scheduler(
        tmp_path: Path) -> None:
    ctl, ex = _setup(tmp_path, poll_s=60.0)
    inbox = ctl.run_dir / INBOX_DIR
    (inbox / inbox_name(7, 3)).touch()  # a marker of a task nobody watches: removed
    w = JobWatcher(ex, Limits.of(ctl.cfg.executor), {}, lambda: None, inbox=inbox)
    assert w.add(_tasks(ctl, 5, inbox=True) + _tasks(ctl, 1, inbox=False, first=5)) == []
    w._last_poll = time.time()  # the next poll is a minute away
    recs = w.step() + w.step() + w.step()  # submit (the jobs run), read what the inbox names
    assert sorted(r.individual for r in recs) == [0, 1, 2, 3, 4]
    assert all(r.ok for r in recs) and ex.polls == 0
    assert len(w) == 1  # no marker: its result is not looked for until the next poll
    assert list(inbox.iterdir()) == []  # every marker consumed, the stray one removed


def test_without_a_marker_the_result_is_read_when_the_scheduler_says_finished(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watcher_mod, "RESULT_GRACE_S", 0.0)
    ctl, ex = _setup(tmp_path, poll_s=0.01)
    w = JobWatcher(ex, Limits.of(ctl.cfg.executor), {}, lambda: None,
                   inbox=ctl.run_dir / INBOX_DIR)
    w.add(_tasks(ctl, 3, inbox=False))
    recs: list[Any] = []
    for _ in range(50):
        recs += w.step()
        if len(recs) == 3:
            break
        time.sleep(0.02)
    assert sorted(r.individual for r in recs) == [0, 1, 2] and all(r.ok for r in recs)
    assert ex.polls >= 1 and not len(w)
