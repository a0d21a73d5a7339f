"""The in-flight table's snapshot + journal: what is loaded is what was last saved."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from orchestrator.checkpoint import (
    COMPACT_MIN,
    INFLIGHT_FILE,
    INFLIGHT_LOG,
    InflightWriter,
    clear_inflight,
    load_inflight,
)


def _table(n: int) -> dict:
    return {"mode": "async", "epoch": 0, "started_at": 1.0,
            "tasks": {f"0/{i}": {"point": [0.1 * i, 0.2], "asked_at": 2.0 + i} for i in range(n)},
            "jobs": {}}


def test_every_save_is_loaded_back_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    w, data = InflightWriter(tmp_path), _table(50)
    w.save(data)
    for step in range(300):  # the changes a controller makes, in place, as it runs
        k = f"0/{int(rng.integers(0, 400))}"
        op = rng.integers(0, 5)
        if op == 0:
            data["tasks"][k] = {"point": rng.random(3).tolist(), "asked_at": float(step)}
        elif op == 1:
            data["tasks"].pop(k, None)
            data["jobs"].pop(k, None)
        elif op == 2:
            data["jobs"][k] = {"job_id": f"9_{step}", "submitted_at": float(step), "resubmits": 0}
        elif op == 3 and data["jobs"]:
            job = data["jobs"][next(iter(data["jobs"]))]
            job["started_at"] = float(step)  # an entry changed in place
        else:
            data["first_submit_at"] = float(step)
        w.save(data)
        assert load_inflight(tmp_path) == data, step
    assert (tmp_path / INFLIGHT_LOG).exists()


def test_a_save_appends_only_what_changed_and_the_journal_is_folded(tmp_path: Path) -> None:
    w, data = InflightWriter(tmp_path), _table(200)
    w.save(data)
    snapshot = (tmp_path / INFLIGHT_FILE).read_bytes()
    data["jobs"]["0/3"] = {"job_id": "7_3", "submitted_at": 5.0}
    w.save(data)
    assert (tmp_path / INFLIGHT_FILE).read_bytes() == snapshot  # not rewritten
    line = json.loads((tmp_path / INFLIGHT_LOG).read_text())
    assert line == {"upd": {"jobs": {"0/3": {"job_id": "7_3", "submitted_at": 5.0}}}}
    w.save(data)  # nothing changed: nothing written
    assert len((tmp_path / INFLIGHT_LOG).read_text().splitlines()) == 1
    entries = len(data["tasks"]) + len(data["jobs"]) - 1  # (in the snapshot)
    lines, folded_at = 1, None
    for i in range(1000):  # once the journal has as many lines as the snapshot entries: folded
        data["tasks"][f"1/{i}"] = {"point": [0.5], "asked_at": 1.0}
        w.save(data)
        lines += 1
        if (tmp_path / INFLIGHT_LOG).stat().st_size == 0:
            folded_at = lines
            break
    assert folded_at == max(COMPACT_MIN, entries)
    assert "1/0" in json.loads((tmp_path / INFLIGHT_FILE).read_text())["tasks"]
    assert load_inflight(tmp_path) == data


def test_a_torn_last_line_is_a_save_that_never_happened(tmp_path: Path) -> None:
    w, data = InflightWriter(tmp_path), _table(3)
    w.save(data)
    data["jobs"]["0/1"] = {"job_id": "5_1"}
    w.save(data)
    before = copy.deepcopy(data)
    data["jobs"]["0/2"] = {"job_id": "5_2"}
    w.save(data)
    log = tmp_path / INFLIGHT_LOG
    log.write_bytes(log.read_bytes()[:-7])  # a crash in the middle of the last append
    assert load_inflight(tmp_path) == before


def test_a_crash_between_snapshot_and_emptying_the_journal_changes_nothing(
        tmp_path: Path) -> None:
    w, data = InflightWriter(tmp_path), _table(2)
    w.save(data)
    for i in range(COMPACT_MIN - 1):
        data["jobs"]["0/0"] = {"job_id": "1", "started_at": float(i)}
        w.save(data)
    journal = (tmp_path / INFLIGHT_LOG).read_bytes()
    data["jobs"]["0/0"]["started_at"] = 99.0  # this save folds the journal
    w.save(data)
    assert (tmp_path / INFLIGHT_LOG).read_bytes() == b""
    last = json.dumps({"upd": {"jobs": {"0/0": {"job_id": "1", "started_at": 99.0}}}})
    (tmp_path / INFLIGHT_LOG).write_bytes(journal + last.encode() + b"\n")  # not emptied
    assert load_inflight(tmp_path) == data


def test_clear_removes_both_files(tmp_path: Path) -> None:
    w, data = InflightWriter(tmp_path), _table(2)
    w.save(data)
    data["epoch"] = 1
    w.save(data)
    clear_inflight(tmp_path)
    assert load_inflight(tmp_path) is None and not (tmp_path / INFLIGHT_LOG).exists()
