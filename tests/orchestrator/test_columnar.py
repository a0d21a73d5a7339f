"""The columnar cache of results.jsonl: equal to the log, checked against it, never trusted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orchestrator import columnar, load_results
from orchestrator.results import ResultsWriter, iter_jsonl, records_frame
from simtune_core.record import EvaluationRecord


def _records(g: int, n: int = 7) -> list[EvaluationRecord]:
    rng = np.random.default_rng(g)
    out = []
    for i in range(n):
        ok = (g + i) % 5 != 0
        vals = {"t0": float(rng.random()), "t1": None if i == 3 else float(rng.random())}
        out.append(EvaluationRecord(
            generation=g, individual=i, status="ok" if ok else "failed",
            reason=None if ok else "timeout", total_score=float(rng.random() * 10),
            parameters={"a": float(rng.random()), "b": float(rng.random())},
            eval_dir=f"/r/evals/g{g:04d}/i{i:03d}", values=vals,
            scores={"t0": 1.0, "t1": 20.0 if i == 3 else 2.0},
            target_reasons={"t1": "undefined: no spikes"} if i == 3 else {},
            job_id=f"{100 + g}_{i}", host="node1", runtime_s=1.5))
    return out


def _truth(run: Path) -> pd.DataFrame:
    return records_frame(list(iter_jsonl(run / "results.jsonl")))


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert sorted(a.columns) == sorted(b.columns)
    pd.testing.assert_frame_equal(a[sorted(a.columns)], b[sorted(b.columns)], check_dtype=False)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    (tmp_path / "run.json").write_text("{}")
    return tmp_path


def test_incremental_cache_equals_the_log_and_stays_logarithmic(run: Path) -> None:
    w = ResultsWriter(run)
    for g in range(40):
        w.append(_records(g))
        assert columnar.update(run)
        parts = json.loads((run / "results.cache" / "manifest.json").read_text())["parts"]
        sizes = [p["rows"] for p in parts]
        assert sizes == sorted(sizes, reverse=True) and len(sizes) <= 7  # a binary counter
        assert sum(sizes) == 7 * (g + 1)
    assert len(list((run / "results.cache").glob("part-*.arrow"))) == len(parts)  # no leftovers
    _same(load_results(run), _truth(run))


def test_the_tail_past_the_cache_is_read(run: Path) -> None:
    w = ResultsWriter(run)
    w.append(_records(0))
    columnar.update(run)
    w.append(_records(1))  # not yet in the cache (a live run between updates)
    df = load_results(run)
    assert len(df) == 14 and set(df.generation) == {0, 1}
    _same(df, _truth(run))


def test_a_torn_line_is_skipped_and_the_next_append_read(run: Path) -> None:
    w = ResultsWriter(run)
    w.append(_records(0))
    columnar.update(run)
    with open(run / "results.jsonl", "ab") as fh:
        fh.write(b'{"generation": 1, "individual": 0, "sta')  # a crash mid-append
    assert len(load_results(run)) == 7
    columnar.update(run)
    ResultsWriter(run).append(_records(1))
    columnar.update(run)
    _same(load_results(run), _truth(run))
    assert len(load_results(run)) == 14


@pytest.mark.parametrize("damage", ["replaced", "truncated", "corrupt_part", "bad_manifest"])
def test_a_stale_or_broken_cache_is_rebuilt_from_the_log(run: Path, damage: str) -> None:
    w = ResultsWriter(run)
    for g in range(3):
        w.append(_records(g))
        columnar.update(run)
    log = run / "results.jsonl"
    cache = run / "results.cache"
    if damage == "replaced":  # another run's log, same length: the check bytes differ
        lines = log.read_bytes().splitlines(keepends=True)
        log.write_bytes(b"".join(ln.replace(b"node1", b"node2") for ln in lines))
    elif damage == "truncated":
        lines = log.read_bytes().splitlines(keepends=True)
        log.write_bytes(b"".join(lines[:9]))
    elif damage == "corrupt_part":
        part = min(cache.glob("part-*.arrow"))
        part.write_bytes(b"PAR1 not really")
    else:
        (cache / "manifest.json").write_text("{not json")
    df = load_results(run)
    _same(df, _truth(run))
    if damage == "replaced":
        assert set(df.host) == {"node2"}
    assert columnar.update(run)
    _same(load_results(run), _truth(run))


def test_a_second_writer_skips_and_a_read_only_cache_still_reads(run: Path) -> None:
    w = ResultsWriter(run)
    w.append(_records(0))
    (run / "results.cache").mkdir()
    with columnar._Lock(run / "results.cache") as held:
        assert held.acquired
        assert not columnar.update(run)  # another writer holds the lock: skipped
    assert columnar.update(run)
    w.append(_records(1))
    cache = run / "results.cache"
    cache.chmod(0o500)
    try:
        _same(load_results(run), _truth(run))
    finally:
        cache.chmod(0o750)
