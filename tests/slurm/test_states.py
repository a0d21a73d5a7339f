"""SLURM strings -> JobState, job id parsing (pure functions; marked slurm like the whole dir)."""

from __future__ import annotations

import pytest

from orchestrator.executors import JobState
from orchestrator.executors.slurm_client import compress_ids
from orchestrator.executors.slurm_states import exit_code, map_state, parse_job_ids

pytestmark = pytest.mark.slurm


@pytest.mark.parametrize("raw, state", [
    ("COMPLETED", JobState.COMPLETED), ("FAILED", JobState.FAILED),
    ("TIMEOUT", JobState.TIMEOUT), ("OUT_OF_MEMORY", JobState.OUT_OF_MEMORY),
    ("CANCELLED by 0", JobState.CANCELLED), ("CANCELLED+", JobState.CANCELLED),
    ("NODE_FAIL", JobState.NODE_FAIL), ("PREEMPTED", JobState.PREEMPTED),
    ("PENDING", JobState.PENDING), ("REQUEUED", JobState.PENDING),
    ("RUNNING", JobState.RUNNING), ("COMPLETING", JobState.RUNNING),
    ("BOOT_FAIL", JobState.NODE_FAIL), ("DEADLINE", JobState.TIMEOUT),
    ("SOMETHING_NEW", JobState.UNKNOWN), ("", JobState.UNKNOWN),
])
def test_map_state(raw: str, state: JobState) -> None:
    assert map_state(raw) is state


@pytest.mark.parametrize("field, ids, step", [
    ("1234_5", ["1234_5"], None),
    ("1234_5.batch", ["1234_5"], "batch"),
    ("1234_5.0", ["1234_5"], "0"),
    ("1234_[3-5]", ["1234_3", "1234_4", "1234_5"], None),
    ("1234_[1,4-5%2]", ["1234_1", "1234_4", "1234_5"], None),
    ("1234_[0-6:3]", ["1234_0", "1234_3", "1234_6"], None),
    ("77", ["77"], None), ("77.extern", ["77"], "extern"), ("garbage", [], None),
])
def test_parse_job_ids(field: str, ids: list[str], step: str | None) -> None:
    assert parse_job_ids(field) == (ids, step)


def test_compress_round_trips() -> None:
    ids = [f"9_{i}" for i in (0, 1, 2, 5, 7, 8)] + ["10_3", "11"]
    packed = compress_ids(ids)
    assert packed == ["9_[0-2,5,7-8]", "10_[3]", "11"]
    assert sorted(j for p in packed for j in parse_job_ids(p)[0]) == sorted(ids)


def testexit_code() -> None:
    assert exit_code("0:0") == 0 and exit_code("1:0") == 1
    assert exit_code("0:9") == 137 and exit_code("x") is None
