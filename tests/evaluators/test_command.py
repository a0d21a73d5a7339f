"""CommandEvaluator: argument lists reach the simulator literally; failures become exceptions."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from evaluators import build_evaluator
from evaluators.command import CommandEvaluator
from evaluators.evaluate import run_task

REPO = Path(__file__).resolve().parents[2]

#: a tiny simulator: echoes what it got, optionally writes a data store, fails or sleeps
SIMULATOR = r'''
import json, os, sys, time
sys.path.insert(0, os.environ["SIMTUNE_TEST_REPO"])
params = json.load(open(os.environ["SIMTUNE_PARAMS_FILE"]))
p = params["parameters"]
echo = {"argv": sys.argv[1:], "cwd": os.getcwd(), "params": params,
        "env": {k: v for k, v in os.environ.items() if k.startswith(("SIMTUNE_", "WEIRD"))}}
out = os.environ["SIMTUNE_OUT_DIR"]
with open(os.path.join(out, "echo.json"), "w") as fh:
    json.dump(echo, fh)
print("simulator says hello")
print("to stderr", file=sys.stderr)
if p.get("sleep"):
    time.sleep(p["sleep"])
if p.get("exit_code"):
    print("last words before exit", flush=True)
    sys.exit(int(p["exit_code"]))
if p.get("store"):
    from evaluators.datastore import DataStoreWriter
    with DataStoreWriter(os.environ["SIMTUNE_DATASTORE"], simulator="echo",
                         seed=params["seed"]) as w:
        w.add_sheet("exc", ids=[0, 1], x=[0.0, 0.0], y=[0.0, 0.0])
        k = w.add_segment(kind="spontaneous", duration_ms=1000.0)
        w.add_spikes(k, "exc", [[10.0, 20.0, 30.0], [15.0]])
'''

WEIRD = ["a b", "it's", 'say "hi"', "; touch pwned", "$(touch pwned)", "`touch pwned`",
         "line1\nline2", "--seed", "*", "$HOME", "back\\slash", "tab\there", "é ü"]


@pytest.fixture
def weird_dir(tmp_path: Path) -> Path:
    d = tmp_path / "we ird 'dir' $(x) `y`;"
    d.mkdir()
    return d


@pytest.fixture
def sim(weird_dir: Path) -> Path:
    path = weird_dir / "sim ulator.py"
    path.write_text(SIMULATOR)
    return path


def _ev(sim: Path, **kw: object) -> CommandEvaluator:
    env = {"SIMTUNE_TEST_REPO": str(REPO), **dict(kw.pop("env", {}) or {})}  # type: ignore[call-overload]
    return CommandEvaluator(command=[sys.executable, str(sim), *kw.pop("extra", [])],  # type: ignore[misc]
                            env=env, **kw)  # type: ignore[arg-type]


def test_string_command_rejected() -> None:
    with pytest.raises(TypeError, match="list of arguments"):
        CommandEvaluator(command="python model.py")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pass_as"):
        CommandEvaluator(command=["x"], pass_as="shell")
    with pytest.raises(ValueError, match="empty"):
        CommandEvaluator(command=[])
    with pytest.raises(TypeError, match="strings"):
        CommandEvaluator(command=["python", 3])  # type: ignore[list-item]


def test_check_finds_executables(tmp_path: Path) -> None:
    CommandEvaluator(command=["python3"]).check()
    CommandEvaluator(command=[sys.executable]).check()
    with pytest.raises(FileNotFoundError, match="no-such-simulator"):
        CommandEvaluator(command=["no-such-simulator-xyz"]).check()
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(FileNotFoundError):  # not executable
        CommandEvaluator(command=[str(script)]).check()
    script.chmod(0o755)
    CommandEvaluator(command=[str(script)]).check()


def test_weird_values_reach_simulator_literally(sim: Path, weird_dir: Path) -> None:
    out = weird_dir / "out $(touch pwned) ;`id`"
    params = {"g_exc": 0.5, "name with 'quote' and ;$(x)": 1.25}
    ev = _ev(sim, extra=WEIRD, pass_as="both", env={"WEIRD": "v $(touch pwned) `x` ;\n'\""})
    store = ev.run(params, out, 7)
    echo = json.loads((out / "echo.json").read_text())
    assert echo["argv"] == WEIRD + ["--params-file", str(out.resolve() / "params.json"),
                                    "--seed", "7", "--out", str(out.resolve() / "datastore.h5")]
    assert echo["params"]["parameters"] == params
    assert echo["params"]["seed"] == 7
    assert echo["env"]["WEIRD"] == "v $(touch pwned) `x` ;\n'\""
    assert echo["env"]["SIMTUNE_SEED"] == "7"
    assert echo["cwd"] == str(out.resolve())  # default cwd: the output directory
    assert store == out.resolve() / "datastore.h5"
    assert not list(weird_dir.rglob("pwned")) and not Path("pwned").exists()
    log = (out / "simulator.log").read_text()
    assert "simulator says hello" in log and "to stderr" in log


def test_pass_as_file_adds_no_args(sim: Path, tmp_path: Path) -> None:
    _ev(sim, params_file="p.json").run({"a": 1.0}, tmp_path / "o", 3)
    echo = json.loads((tmp_path / "o" / "echo.json").read_text())
    assert echo["argv"] == []
    assert json.loads((tmp_path / "o" / "p.json").read_text())["parameters"] == {"a": 1.0}


def test_nonzero_exit_raises_with_code_and_log_tail(sim: Path, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"exit code 3[\s\S]*last words before exit"):
        _ev(sim).run({"exit_code": 3.0}, tmp_path / "o", 1)


def test_timeout_kills_and_raises(sim: Path, tmp_path: Path) -> None:
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match="timeout_s=0.5"):
        _ev(sim, timeout_s=0.5).run({"sleep": 30.0}, tmp_path / "o", 1)
    assert time.monotonic() - t0 < 10


def test_cwd_option(sim: Path, tmp_path: Path) -> None:
    cwd = tmp_path / "c w d"
    cwd.mkdir()
    _ev(sim, cwd=str(cwd)).run({}, tmp_path / "o", 1)
    assert json.loads((tmp_path / "o" / "echo.json").read_text())["cwd"] == str(cwd)


def _task(tmp: Path, sim: Path, parameters: dict[str, float]) -> Path:
    eval_dir = tmp / "gen 0" / "ind '1'"
    eval_dir.mkdir(parents=True)
    task = {"generation": 0, "individual": 1, "eval_dir": str(eval_dir),
            "parameters": parameters, "seeds": [5],
            "evaluator": {"kind": "command", "command": [sys.executable, str(sim)],
                          "env": {"SIMTUNE_TEST_REPO": str(REPO)}},
            "targets": [{"name": "rate", "class": "SpontActivityTarget", "kind": "range",
                         "target_value": [1.0, 3.0], "norm": 0.2, "max_score": 20.0,
                         "sheet_name": "exc", "options": {}}]}
    path = eval_dir / "task.json"
    path.write_text(json.dumps(task))
    return path


def test_run_task_end_to_end(sim: Path, tmp_path: Path) -> None:
    rec = run_task(_task(tmp_path, sim, {"store": 1.0}))
    assert rec.status == "ok", rec
    assert rec.values["rate"] == pytest.approx(2.0)  # 4 spikes, 2 neurons, 1 s
    assert rec.scores["rate"] == 0.0


def test_own_timeout_is_recorded_as_timeout(sim: Path, tmp_path: Path) -> None:
    """The command evaluator's timeout_s is a time limit like the scheduler's: reason timeout."""
    path = _task(tmp_path, sim, {"sleep": 30.0})
    task = json.loads(path.read_text())
    task["evaluator"]["timeout_s"] = 0.5
    path.write_text(json.dumps(task))
    t0 = time.time()
    rec = run_task(path)
    assert time.time() - t0 < 20
    assert rec is not None and rec.status == "failed" and rec.reason == "timeout", rec
    assert "timeout_s=0.5" in rec.detail


def test_run_task_records_simulator_failure(sim: Path, tmp_path: Path) -> None:
    rec = run_task(_task(tmp_path, sim, {"exit_code": 2.0}))
    assert rec.status == "failed" and rec.reason == "exception"
    assert "exit code 2" in rec.detail
    rec2 = run_task(_task(tmp_path / "b", sim, {}))  # exits 0 without a store
    assert rec2.reason == "no_datastore"


def test_registered_as_command_kind(sim: Path) -> None:
    ev = build_evaluator({"kind": "command", "command": [sys.executable, str(sim)]})
    assert isinstance(ev, CommandEvaluator)
    assert os.path.basename(ev.command[0]).startswith("python")
