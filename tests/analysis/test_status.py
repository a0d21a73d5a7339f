"""simtune status: what is on disk, with the generation in flight, disk use and the next step."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.cli import main
from orchestrator.status import collect_status, disk_use


def test_stopped_run_in_the_middle_of_a_generation(live_run: Path, copy_run, capsys) -> None:
    run = copy_run(live_run)
    g2 = run / "evals" / "g0002" / "i000" / "result.json"
    rec = json.loads(g2.read_text())
    rec["total_score"] = -1.0  # the best so far is in the generation in flight
    g2.write_text(json.dumps(rec))
    assert main(["status", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"{run.resolve()}: stopped" in out
    assert "generation 2 was in flight when the controller stopped: 2 done" in out
    assert "estimated time" not in out  # nothing is running: no ETA
    assert "best total score: -1 (generation 2, individual 0)" in out  # what the bar showed
    assert out.strip().splitlines()[-1] == f"stopped: continue with  simtune resume {run}"
    s = collect_status(run)
    assert s["state"] == "stopped" and s["evaluations"] == 8  # finished generations only
    d = disk_use(run)
    assert s["disk"] == d and d["datastores"] == 8 and d["bytes"] > d["datastore_bytes"] > 0
    assert f"{d['datastores']} data stores" in out


def test_finished_run(finished_run: Path, capsys) -> None:
    assert main(["status", str(finished_run)]) == 0
    out = capsys.readouterr().out
    assert ": finished (max_ngen)" in out and "resume" not in out
    assert "generations: 3 of 3; evaluations: 12 (0 failed)" in out
    assert main(["status", str(finished_run), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["state"] == "finished" and s["disk"]["datastores"] == 12


def test_failed_run_lists_failures(failed_run: Path, capsys) -> None:
    assert main(["status", str(failed_run)]) == 0
    out = capsys.readouterr().out
    assert "failures: exception 4" in out and "best total score" not in out
