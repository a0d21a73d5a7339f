"""Gates in a whole run: aborted evaluations recorded, warnings once per run, status."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.cli import main
from orchestrator.results import load_results

STAGED = {"kind": "python", "function": "tests.helpers.staged:staged"}
TARGETS = [{"class": "SpontActivityTarget", "target_value": [10.0, 20.0], "sheet_name": "exc",
            "norm": 2.0, "name": "rate"}]
GATES = [{"after": "spontaneous", "target": "rate", "above": 50.0},  # a > 0.5 is stopped
         {"after": "disk", "explosion": True}]  # staged writes no disk: never evaluated


def test_a_gated_run_end_to_end(write_config, tmp_path: Path, capsys) -> None:
    cfg = write_config(parameters={"a": [0.0, 1.0], "b": [0.0, 1.0]}, targets=TARGETS,
                       evaluator=STAGED, gates=GATES,
                       optimizer={"offspring_size": 6, "max_ngen": 3, "sigma": 0.3, "seed": 2},
                       centroid={"a": 0.5, "b": 0.5})
    run = tmp_path / "run"
    assert main(["run", str(cfg), "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    df = load_results(run)
    aborted = df[df["reason"] == "aborted"]
    assert len(aborted) > 0 and (df["status"] == "ok").any()
    # the measured rate of 20 Poisson neurons has a standard deviation of ~1.6 Hz at 50 Hz
    # (sqrt(50 / 20)), i.e. 0.016 in a: 0.45 and 0.55 are 3 of them away from the bound
    assert (aborted["param.a"] > 0.45).all()
    assert aborted["detail"].str.contains("rate > 50").all()
    assert aborted["value.rate"].notna().all()  # computed from the spontaneous segment
    ok = df[df["status"] == "ok"]
    assert (ok["param.a"] < 0.55).all()
    # the never-evaluated gate: reported once per run, on the terminal and in simtune.log
    assert out.count("gate 1 (after disk: explosion) was never evaluated") == 1
    rows = (run / "results.jsonl").read_text()
    assert "gate_warnings" not in rows  # one copy per run (run.json), not one per row
    log = (run / "simtune.log").read_text()
    assert log.count("gate 1 (after disk: explosion) was never evaluated") == 1
    assert main(["status", str(run)]) == 0
    status = capsys.readouterr().out
    assert f"aborted by gates: {len(aborted)} evaluations" in status
    assert "warning: gate 1 (after disk: explosion) was never evaluated" in status
    assert main(["status", str(run), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["aborted"]["aborted"] == len(aborted) and s["failures_by_reason"]["aborted"] == len(
        aborted)
    # resume keeps the warning once (run.json remembers it)
    assert main(["resume", str(run), "--max-ngen", "4"]) == 0
    assert "was never evaluated" not in capsys.readouterr().out
    assert (run / "simtune.log").read_text().count("was never evaluated") == 1
