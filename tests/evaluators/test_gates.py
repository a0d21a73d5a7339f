"""Early-abort gates on the worker: published segments, the in-process and the command path."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from evaluators.datastore import DataStore, DataStoreWriter
from evaluators.evaluate import build_targets, run_task
from evaluators.gates import Gate, GateMonitor, GateStop
from orchestrator.optimizer.failure import Kind, kind_of
from simtune_core.record import Reason
from tests.helpers.staged import gone

REPO = Path(__file__).resolve().parents[2]
RATE = {"name": "rate", "class": "SpontActivityTarget", "kind": "range",
        "target_value": [1.0, 3.0], "norm": 0.2, "max_score": 20.0, "sheet_name": "exc",
        "options": {}}
#: the rate of the last grating: undefined until a grating is published
GRATING = {**RATE, "name": "grating_rate", "options": {"segment_kind": "grating"}}
ABOVE_50 = {"after": "spontaneous", "target": "rate", "above": 50.0}


def _task(tmp: Path, a: float, gates: list[dict[str, Any]], evaluator: dict[str, Any] | None = None,
          targets: list[dict[str, Any]] | None = None, seeds: tuple[int, ...] = (3,)) -> Path:
    d = tmp / f"eval_{a}"
    d.mkdir()
    task = {"generation": 0, "individual": 0, "eval_dir": str(d), "parameters": {"a": a},
            "seeds": list(seeds), "sys_path": [str(REPO)],
            "evaluator": evaluator or {"kind": "python", "function": "tests.helpers.staged:staged"},
            "targets": targets or [RATE, GRATING], "gates": gates}
    (d / "task.json").write_text(json.dumps(task))
    return d / "task.json"


def _done(task: Path) -> list[str]:
    return sorted(p.name for p in task.parent.glob("done_*"))


def test_flush_outside_a_gated_evaluation_publishes_nothing(tmp_path: Path) -> None:
    with DataStoreWriter(tmp_path / "s.h5") as w:
        w.add_sheet("exc", ids=[0], x=[0.0], y=[0.0])
        k = w.add_segment(kind="spontaneous", duration_ms=100.0)
        w.add_spikes(k, "exc", [[1.0]])
        w.flush()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5"]


def test_a_gate_stops_the_simulation_after_the_segment_it_reads(tmp_path: Path) -> None:
    rec = run_task(_task(tmp_path, 0.8, [ABOVE_50]))  # 80 Hz > 50
    assert rec is not None
    assert (rec.status, rec.reason) == ("failed", Reason.ABORTED.value)
    assert "rate > 50" in rec.detail and "after segment 0" in rec.detail
    assert rec.values["rate"] == pytest.approx(80.0, rel=0.15)  # computed from segment 0
    assert rec.values["grating_rate"] is None  # needs a segment that never came
    assert set(rec.scores.values()) == {20.0}
    assert _done(Path(rec.eval_dir) / "task.json") == []  # stopped inside the first flush
    left = sorted(p.name for p in Path(rec.eval_dir).iterdir())
    assert left == ["result.json", "task.json"]  # no store, no temp file, no progress folder
    assert kind_of(rec.total_score, Reason(rec.reason), 40.0) is Kind.RUNAWAY


def test_a_gate_that_does_not_fire_costs_nothing_but_its_check(tmp_path: Path) -> None:
    rec = run_task(_task(tmp_path, 0.2, [ABOVE_50]))  # 20 Hz
    assert rec is not None and rec.status == "ok", rec.detail
    assert _done(Path(rec.eval_dir) / "task.json") == ["done_0", "done_1", "done_2"]
    assert "gate_warnings" not in rec.extra
    assert not list(Path(rec.eval_dir).glob("*.progress"))
    with DataStore(Path(rec.eval_dir) / "datastore.h5") as store:  # the full store is intact
        assert [s.kind for s in store.segments()] == ["spontaneous", "grating", "grating"]


def test_a_gate_on_a_later_segment_waits_for_it(tmp_path: Path) -> None:
    gate = {"after": "grating", "target": "grating_rate", "above": 50.0}
    rec = run_task(_task(tmp_path, 0.8, [gate]))
    assert rec is not None and rec.reason == "aborted"
    assert "after segment 1" in rec.detail
    assert _done(Path(rec.eval_dir) / "task.json") == ["done_0"]


def test_below_bound(tmp_path: Path) -> None:
    gate = {"after": "spontaneous", "target": "rate", "below": 30.0}
    assert run_task(_task(tmp_path, 0.1, [gate])).reason == "aborted"  # type: ignore[union-attr]
    assert run_task(_task(tmp_path, 0.6, [gate])).status == "ok"  # type: ignore[union-attr]


def test_explosion_gate_reads_the_flag_of_the_published_store(tmp_path: Path) -> None:
    ev = {"kind": "python", "function": "tests.helpers.staged:staged",
          "options": {"explode_at": 1}}
    rec = run_task(_task(tmp_path, 0.2, [{"after": "spontaneous", "explosion": True}], ev))
    assert rec is not None and rec.reason == "aborted"
    assert "explosion" in rec.detail and "after segment 1" in rec.detail
    assert _done(Path(rec.eval_dir) / "task.json") == ["done_0"]


def test_a_model_that_catches_exception_cannot_swallow_the_stop(tmp_path: Path) -> None:
    ev = {"kind": "python", "function": "tests.helpers.staged:staged",
          "options": {"swallow": True}}
    rec = run_task(_task(tmp_path, 0.8, [ABOVE_50], ev))
    assert rec is not None and rec.reason == "aborted"
    assert _done(Path(rec.eval_dir) / "task.json") == []


@pytest.mark.parametrize(("options", "gate", "why"), [
    ({"flush": False}, ABOVE_50, "published no segment while it ran"),
    ({"kinds": ["spontaneous"]}, {"after": "disk", "explosion": True},
     "no published segment of kind 'disk'"),
    ({"kinds": ["spontaneous"]}, {"after": "spontaneous", "target": "grating_rate",
                                  "above": 1.0}, "grating_rate was undefined on every"),
])
def test_a_gate_never_evaluated_is_reported_in_the_record(tmp_path: Path, options: dict[str, Any],
                                                          gate: dict[str, Any], why: str) -> None:
    ev = {"kind": "python", "function": "tests.helpers.staged:staged", "options": options}
    rec = run_task(_task(tmp_path, 0.8, [gate], ev))
    assert rec is not None and rec.status == "ok", rec.detail
    (warning,) = rec.extra["gate_warnings"]
    assert warning.startswith("gate 0 (") and why in warning


def test_with_repeats_a_gate_on_any_seed_aborts_the_evaluation(tmp_path: Path) -> None:
    rec = run_task(_task(tmp_path, 0.8, [ABOVE_50], seeds=(1, 2)))
    assert rec is not None and rec.reason == "aborted"
    assert not (Path(rec.eval_dir) / "seed_2").exists()  # the second seed never ran


# -- the command evaluator ---------------------------------------------------------------------
def _command(**options: Any) -> dict[str, Any]:
    return {"kind": "command", "command": [sys.executable, str(REPO / "tests/helpers/staged.py")],
            "env": {"STAGED_OPTIONS": json.dumps({"pause_s": 1.0, **options})}}


def test_command_gate_terminates_the_simulator_and_its_children(tmp_path: Path) -> None:
    rec = run_task(_task(tmp_path, 0.8, [ABOVE_50], _command()))
    assert rec is not None and rec.reason == "aborted", rec.detail
    d = Path(rec.eval_dir)
    assert _done(d / "task.json") == ["done_0"]  # segment 0 written, then stopped in its pause
    for name in ("sim.pid", "child.pid"):
        pid = int((d / name).read_text())
        assert gone(pid, timeout_s=5), f"{name} {pid} survived the gate"
    assert not list(d.glob("*.progress"))
    assert rec.values["rate"] == pytest.approx(80.0, rel=0.15)


def test_command_ungated_run_is_unchanged(tmp_path: Path) -> None:
    rec = run_task(_task(tmp_path, 0.2, [ABOVE_50], _command(pause_s=0.0)))
    assert rec is not None and rec.status == "ok", rec.detail
    assert _done(Path(rec.eval_dir) / "task.json") == ["done_0", "done_1", "done_2"]


def test_command_corrupt_published_segment_is_invalid_datastore(tmp_path: Path) -> None:
    rec = run_task(_task(tmp_path, 0.2, [ABOVE_50], _command(corrupt_at=0)))
    assert rec is not None and rec.reason == Reason.INVALID_DATASTORE.value, rec.detail
    assert "0.h5" in rec.detail or "published" in rec.detail
    assert "Traceback" not in rec.detail


def test_published_segment_that_breaks_a_store_rule_is_invalid_datastore(tmp_path: Path) -> None:
    """A segment whose spikes lie outside it is refused before any gate reads a number."""
    progress = tmp_path / "p"
    progress.mkdir()
    with DataStoreWriter(tmp_path / "x.h5") as w:
        w.add_sheet("exc", ids=[0, 1], x=[0.0, 0.0], y=[0.0, 0.0])
        k = w.add_segment(kind="spontaneous", duration_ms=100.0)
        w.add_spikes(k, "exc", [[5.0, 500.0], []])  # 500 ms in a 100 ms segment
        w._publish(progress, k)
    monitor = GateMonitor([Gate("spontaneous", "rate", above=1e9)], build_targets([RATE]), {})
    with pytest.raises(GateStop) as info:
        monitor.check_dir(progress)
    assert info.value.reason is Reason.INVALID_DATASTORE
    assert "spike-range" in info.value.detail
    assert not any(p.name.startswith(".view") for p in progress.iterdir())
