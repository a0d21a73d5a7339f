"""The job entry point: a terminated job writes no result, so the scheduler's state decides."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _task(tmp_path: Path, evaluator: dict) -> Path:
    d = tmp_path / "eval"
    d.mkdir()
    task = {"generation": 0, "individual": 0, "eval_dir": str(d), "parameters": {"a": 0.9},
            "seeds": [0], "evaluator": evaluator,
            "targets": [{"name": "r", "class": "SpontActivityTarget", "kind": "range",
                         "target_value": [1, 2], "norm": 1.0, "max_score": 20,
                         "sheet_name": "exc", "options": {}}],
            "sys_path": [str(REPO)]}
    (d / "task.json").write_text(json.dumps(task))
    return d / "task.json"


@pytest.mark.parametrize("evaluator", [
    {"kind": "python", "function": "tests.helpers.sims:misbehave", "options": {"mode": "sleep"}},
    # a subprocess simulator dies of the same SIGTERM first: still no "exception" record
    {"kind": "command", "command": [sys.executable, "-c", "import time; time.sleep(3600)"]},
], ids=["python", "command"])
def test_sigterm_leaves_no_result(tmp_path: Path, evaluator: dict) -> None:
    task = _task(tmp_path, evaluator)
    p = subprocess.Popen([sys.executable, "-m", "evaluators.evaluate", str(task)], cwd=REPO,
                         env=dict(os.environ, PYTHONPATH=str(REPO)), start_new_session=True,
                         stdout=subprocess.PIPE, text=True)
    time.sleep(2.0)
    os.killpg(p.pid, signal.SIGTERM)  # the scheduler signals every process of the job
    out, _ = p.communicate(timeout=30)
    assert "terminated" in out
    assert not (task.parent / "result.json").exists()


def test_exception_writes_a_failed_record(tmp_path: Path) -> None:
    from evaluators.evaluate import run_task

    task = _task(tmp_path, {"kind": "python", "function": "tests.helpers.sims:misbehave",
                            "options": {"mode": "exception"}})
    rec = run_task(task)
    on_disk = json.loads((task.parent / "result.json").read_text())
    assert rec is not None and on_disk["status"] == "failed" and on_disk["reason"] == "exception"
    assert on_disk["scores"] == {"r": 20.0} and "diverged" in on_disk["detail"]


def test_a_target_that_raises_fails_alone(tmp_path: Path) -> None:
    """An exception inside one target's computation or scoring is that target's
    ``scoring_error`` (with the frame it came from); the evaluation and the other targets stand."""
    from evaluators.evaluate import run_task

    task = _task(tmp_path, {"kind": "python", "function": "tests.helpers.sims:rate_sheet"})
    data = json.loads(task.read_text())
    base = {"kind": "exact", "target_value": 1.0, "norm": 1.0, "max_score": 20,
            "sheet_name": None, "options": {}}
    data["targets"] += [
        {**base, "name": "broken", "class": "tests.helpers.targets:Broken"},
        # a range kind with a single number: scoring itself raises
        {**base, "name": "misfit", "class": "SpontActivityTarget", "kind": "range",
         "sheet_name": "exc"},
    ]
    task.write_text(json.dumps(data))
    rec = run_task(task)
    assert rec is not None and rec.status == "ok", rec
    assert rec.values["r"] is not None and rec.scores["r"] < 20  # the good target is scored
    why = rec.target_reasons["broken"]
    assert why.startswith("scoring_error: ZeroDivisionError: the user's formula divided by zero")
    assert "targets.py:" in why  # the traceback's last frame
    assert rec.scores["broken"] == 20 and rec.values["broken"] is None
    assert rec.target_reasons["misfit"].startswith("scoring_error: TypeError")
    assert rec.scores["misfit"] == 20
