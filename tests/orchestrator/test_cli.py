"""One convention for every command: errors are one line on stderr, bad input exits 2; the help
is written for users; a stopped run says how to resume, a finished one how to extend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.cli import main

REPO = Path(__file__).resolve().parents[2]
COMMANDS_WITH_RUN_DIR = [["status"], ["report"], ["export"], ["resume"], ["status", "--json"]]


@pytest.mark.parametrize("command", COMMANDS_WITH_RUN_DIR, ids=lambda c: " ".join(c))
def test_not_a_run_directory_is_one_line_and_exit_2(command, tmp_path: Path, capsys) -> None:
    (tmp_path / "notes.txt").write_text("not a run")
    assert main([command[0], str(tmp_path), *command[1:]]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("simtune: ")
    assert "is not a simtune run directory" in err


def test_run_refuses_a_directory_that_holds_something_else(write_config, tmp_path: Path,
                                                           capsys) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "thesis.tex").write_text("precious")
    assert main(["run", str(write_config()), "--run-dir", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "entries that are not a run" in err and "thesis.tex" in err
    assert sorted(p.name for p in target.iterdir()) == ["thesis.tex"]  # nothing written


def test_resume_of_a_finished_run_and_max_ngen_below_what_is_done(write_config, tmp_path: Path,
                                                                   capsys) -> None:
    run = tmp_path / "run"
    assert main(["run", str(write_config(optimizer={"max_ngen": 3})), "--run-dir", str(run),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    # --no-progress still shows the run moving: a line per generation start and end
    lines = [ln for ln in out.splitlines() if ln.startswith("generation")]
    assert [ln.split(" done in ")[0].split(":")[0] for ln in lines] == \
        ["generation 0", "generation 0", "generation 1", "generation 1", "generation 2",
         "generation 2"]
    assert all(" done in " in ln and "4 ok, 0 failed" in ln for ln in lines[1::2])
    assert main(["resume", str(run)]) == 0
    err = capsys.readouterr().err
    assert "is finished (max_ngen: 3 of 3 generations)" in err
    assert f"simtune resume {run} --max-ngen 13" in err
    assert main(["resume", str(run), "--max-ngen", "2"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("simtune: --max-ngen: expected an integer >= 3 (the generations "
                           "done), found 2")
    assert main(["resume", str(run), "--max-ngen", "4", "--no-progress"]) == 0
    assert "evaluations: 16 in 4 generations" in capsys.readouterr().out


def test_help_is_for_users() -> None:
    res = subprocess.run([sys.executable, "-m", "orchestrator", "--help"], cwd=REPO,
                         capture_output=True, text=True)
    assert res.returncode == 0
    text = res.stdout
    assert text.splitlines()[2].startswith("simtune tunes the parameters of a simulation")
    for cmd in ("run", "resume", "status", "validate", "score", "check-store",
                "convert-mozaik", "report", "export"):
        assert f"    {cmd}" in text
    assert "a first run, step by step" in text
    for cmd in ("run", "resume", "status", "score", "export", "report"):
        sub = subprocess.run([sys.executable, "-m", "orchestrator", cmd, "--help"], cwd=REPO,
                             capture_output=True, text=True).stdout
        assert "example:\n  simtune " + cmd in sub
        # every argument has a help text: no bare names in the argument list
        args = [ln for ln in sub.split("options:")[0].splitlines()[3:] if ln.startswith("  ")]
        assert all(len(ln.split()) > 1 for ln in args if not ln.strip().startswith("-")), sub


def test_a_local_dry_run_of_a_packing_slurm_config(write_config, tmp_path: Path) -> None:
    """``--executor local`` on a config with ``executor.pack`` runs one evaluation per process
    (packing is a SLURM matter), and the run's saved config says so, so it resumes."""
    from orchestrator import load_results

    cfg = write_config(executor={"kind": "slurm", "pack": 4, "time_limit_s": 60},
                       optimizer={"offspring_size": 4, "max_ngen": 1})
    run = tmp_path / "run"
    assert main(["run", str(cfg), "--run-dir", str(run), "--executor", "local",
                 "--no-progress"]) == 0
    df = load_results(run)
    assert len(df) == 4 and (df.status == "ok").all() and df.job_id.nunique() == 4
    assert main(["resume", str(run), "--max-ngen", "2", "--no-progress"]) == 0
    assert len(load_results(run)) == 8
