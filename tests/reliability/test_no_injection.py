"""Nothing let in: hostile names, values and paths reach the simulator literally, never a shell."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import yaml

from orchestrator import load_results
from orchestrator.cli import main

REPO = Path(__file__).resolve().parents[2]
HOSTILE = [
    "a b",                       # space
    "q'uote\"d",                 # quotes
    "semi;colon && touch PWNED",  # command separators
    "$(touch PWNED)",            # command substitution
    "`touch PWNED`",             # backticks
    "new\nline",                 # newline
]


def test_hostile_strings_reach_the_simulator_literally(tmp_path: Path, monkeypatch) -> None:
    weird = tmp_path / "run dir 'x' $(touch PWNED) `y`; z"
    monkeypatch.chdir(tmp_path)
    params = {HOSTILE[0]: [0.0, 1.0], HOSTILE[1]: [0.0, 2.0]}
    params.update({h: 1.5 for h in HOSTILE[2:]})
    cfg = {
        "name": "hostile",
        "parameters": params,
        "targets": [{"class": "SpontActivityTarget", "target_value": [4.0, 5.0],
                     "sheet_name": "exc", "norm": 0.2, "name": "rate; rm -rf / $(x)"}],
        "optimizer": {"offspring_size": 3, "max_ngen": 1, "seed": 1},
        "executor": {"kind": "local", "time_limit_s": 60},
        "evaluator": {"kind": "command", "pass_as": "both",
                      "command": [sys.executable, str(REPO / "tests/helpers/echo_sim.py"),
                                  "--label", HOSTILE[3], HOSTILE[5]]},
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert main(["run", str(path), "--run-dir", str(weird), "--no-progress"]) == 0
    df = load_results(weird)
    assert len(df) == 3 and (df.status == "ok").all(), df[["reason", "detail"]].to_string()
    for h in HOSTILE:
        assert f"param.{h}" in df.columns
    assert "value.rate; rm -rf / $(x)" in df.columns
    for d in df.eval_dir:
        got = json.loads((Path(d) / "received.json").read_text())
        assert list(got["payload"]["parameters"]) == HOSTILE
        assert got["argv"][:3] == ["--label", HOSTILE[3], HOSTILE[5]]
        assert got["argv"][3:5] == ["--params-file", str(Path(d) / "params.json")]
        assert got["env"]["SIMTUNE_OUT_DIR"] == str(Path(d))
    # nothing was executed by a shell
    assert not list(tmp_path.rglob("PWNED")) and not (REPO / "PWNED").exists()


def test_run_and_eval_dirs_have_safe_permissions(write_config, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["run", str(write_config()), "--run-dir", str(run), "--no-progress"]) == 0
    dirs = [run, run / "evals"] + sorted((run / "evals").glob("g*")) + sorted(
        (run / "evals").glob("g*/i*"))
    for d in dirs:
        mode = stat.S_IMODE(d.stat().st_mode)
        assert not mode & stat.S_IWOTH, f"{d} is world-writable ({oct(mode)})"
    for f in [run / "results.jsonl", run / "checkpoint.pkl"]:
        assert not stat.S_IMODE(f.stat().st_mode) & (stat.S_IWOTH | stat.S_IROTH)


def test_config_cannot_name_paths_outside_the_run(tmp_path: Path, write_config, capsys,
                                                   monkeypatch) -> None:
    # the run name decides the default run directory: no '..' or '/'
    from tests.conftest import BASE_CONFIG, deep_update

    cfg = write_config("escape", raw=deep_update(BASE_CONFIG, {"name": "../../escape"}))
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(cfg)]) == 2
    assert not (tmp_path / "runs").exists()
    assert "name: expected a non-empty name without '/'" in capsys.readouterr().err
    # an evaluator's output file names stay inside the evaluation directory
    for key in ("params_file", "datastore", "log_file"):
        for bad in ("../../outside.txt", "/tmp/outside.txt"):
            raw = {**BASE_CONFIG, "evaluator": {
                "kind": "command", "command": [sys.executable, "x.py"], key: bad}}
            cfg = write_config(f"c_{key}", raw=raw)
            assert main(["validate", str(cfg)]) == 2
            err = capsys.readouterr().err
            assert "evaluator" in err and "inside the evaluation directory" in err, err
