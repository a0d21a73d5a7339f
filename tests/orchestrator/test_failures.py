"""Every way an evaluation can fail, produced for real, recorded with its reason; the run goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import load_results
from orchestrator.cli import main

TARGETS = ["SpontActivityTarget[exc]", "IrregularityTarget[exc]"]

# mode of tests.helpers.sims:misbehave -> reason recorded
CASES = {
    "exception": "exception",
    "abort": "crashed",
    "segfault": "crashed",
    "sigkill": "crashed",
    "sleep": "timeout",
    "no_datastore": "no_datastore",
    "corrupt": "bad_datastore",
    "garbage": "bad_datastore",
    "invalid": "invalid_datastore",
    "nan": "nan",
    "explosion": "explosion",
}


@pytest.mark.parametrize("mode", sorted(CASES))
def test_failure_reason(mode: str, write_config, tmp_path: Path) -> None:
    # half of the population misbehaves (a > 0.5), the rest runs: the run must go on
    from tests.conftest import BASE_CONFIG

    targets = BASE_CONFIG["targets"] + ([{"class": "tests.helpers.targets:SeriesMean",
                                          "target_value": 5.0, "norm": 1.0, "name": "signal",
                                          "max_score": 20}] if mode == "nan" else [])
    cfg = write_config(
        targets=targets,
        optimizer={"offspring_size": 4, "max_ngen": 2, "seed": 5},
        # a short limit only where it is the point: a loaded machine is slow to start jobs
        executor={"time_limit_s": 6 if mode == "sleep" else 120},
        evaluator={"kind": "python", "function": "tests.helpers.sims:misbehave",
                   "options": {"mode": mode, "when": "a>0.5"}},
    )
    assert main(["run", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    df = load_results(tmp_path / "run")
    assert len(df) == 8, "every evaluation has exactly one record"
    bad = df[df["param.a"] > 0.5]
    good = df[df["param.a"] <= 0.5]
    assert len(bad) > 0 and len(good) > 0, "the seed must give both kinds"
    assert (bad.status == "failed").all()
    assert set(bad.reason) == {CASES[mode]}, bad[["reason", "detail"]].to_string()
    assert (good.status == "ok").all()
    for name in TARGETS:  # a failure scores max_score (20) on every target
        assert (bad[f"score.{name}"] == 20.0).all()
    assert (bad.total_score == 20.0 * (len(TARGETS) + (mode == "nan"))).all()
    assert bad.detail.str.len().gt(0).all()
    if mode == "exception":
        assert bad.detail.str.contains("the model diverged").all()
    if mode == "invalid":  # one line naming the dataset and the rule, never a traceback
        assert bad.detail.str.startswith("segments/0/exc/spike_offsets: expected").all()
        assert (bad.detail.str.count("\n") == 0).all()
    if mode == "sleep":
        assert (bad.runtime_s.dropna() < 60).all()
