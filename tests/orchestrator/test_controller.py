"""The controller end to end on the local executor: determinism, failures, cleanup, resume."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orchestrator import load_generations, load_results
from orchestrator.cli import main
from simtune_core.record import RESULT_FILE


def run_cli(*args: str) -> int:
    return main([*args, "--no-progress"] if args[0] in ("run", "resume") else list(args))


def test_run_records_every_evaluation(write_config, tmp_path: Path, capsys) -> None:
    cfg = write_config(optimizer={"max_ngen": 3})
    assert run_cli("run", str(cfg), "--run-dir", str(tmp_path / "run")) == 0
    out = capsys.readouterr().out
    df = load_results(tmp_path / "run")
    assert len(df) == 12
    assert sorted(zip(df.generation, df.individual)) == [(g, i) for g in range(3) for i in range(4)]
    assert (df.status == "ok").all()
    # every parameter (free, constant, derived), every target value and score
    for col in ("param.a", "param.b", "param.c", "param.k", "param.d",
                "value.SpontActivityTarget[exc]", "score.IrregularityTarget[exc]"):
        assert col in df.columns
    assert np.allclose(df["param.d"], df["param.a"] + 3.0)
    assert (df["param.k"] == 3.0).all()
    scores = df[[c for c in df.columns if c.startswith("score.")]].sum(axis=1)
    assert np.allclose(scores, df.total_score)
    assert df.runtime_s.gt(0).all() and df.host.notna().all() and df.job_id.notna().all()
    best = df.total_score.min()
    assert f"best total score: {best:.6g}" in out
    gens = load_generations(tmp_path / "run")
    assert list(gens.generation) == [0, 1, 2] and (gens.sigma > 0).all()


def test_same_seed_same_sequence(write_config, tmp_path: Path) -> None:
    cfg = write_config()
    for name in ("r1", "r2"):
        assert run_cli("run", str(cfg), "--run-dir", str(tmp_path / name)) == 0
    a, b = load_results(tmp_path / "r1"), load_results(tmp_path / "r2")
    cols = [c for c in a.columns if c.startswith(("param.", "score.", "value."))] + ["total_score"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    other = write_config("other", optimizer={"seed": 4})
    assert run_cli("run", str(other), "--run-dir", str(tmp_path / "r3")) == 0
    c = load_results(tmp_path / "r3")
    assert not np.allclose(a["param.a"], c["param.a"])


def test_resume_extends_max_ngen(write_config, tmp_path: Path) -> None:
    cfg = write_config(optimizer={"max_ngen": 2})
    assert run_cli("run", str(cfg), "--run-dir", str(tmp_path / "a")) == 0
    assert run_cli("resume", str(tmp_path / "a"), "--max-ngen", "4") == 0
    full = write_config("full", optimizer={"max_ngen": 4})
    assert run_cli("run", str(full), "--run-dir", str(tmp_path / "b")) == 0
    a, b = load_results(tmp_path / "a"), load_results(tmp_path / "b")
    assert len(a) == 16
    cols = [c for c in a.columns if c.startswith("param.")] + ["total_score"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_cleanup_keeps_best_k_datastores(write_config, tmp_path: Path) -> None:
    cfg = write_config(optimizer={"max_ngen": 3}, cleanup={"keep_best": 2})
    assert run_cli("run", str(cfg), "--run-dir", str(tmp_path / "run")) == 0
    df = load_results(tmp_path / "run")
    stores = sorted((tmp_path / "run" / "evals").glob("g*/i*/datastore.h5"))
    best2 = df.nsmallest(2, "total_score").eval_dir.map(lambda d: str(Path(d) / "datastore.h5"))
    assert sorted(map(str, stores)) == sorted(best2)
    # the small records stay for every evaluation
    assert len(list((tmp_path / "run" / "evals").glob(f"g*/i*/{RESULT_FILE}"))) == 12


def test_run_dir_refuses_existing_run(write_config, tmp_path: Path, capsys) -> None:
    cfg = write_config(optimizer={"max_ngen": 1})
    assert run_cli("run", str(cfg), "--run-dir", str(tmp_path / "run")) == 0
    assert run_cli("run", str(cfg), "--run-dir", str(tmp_path / "run")) == 2
    assert "simtune resume" in capsys.readouterr().err


def test_validate_and_score(write_config, tmp_path: Path, capsys) -> None:
    from tests.helpers.sims import rate_sheet

    cfg = write_config()
    assert main(["validate", str(cfg)]) == 0
    assert "3 free parameters" in capsys.readouterr().out
    store = rate_sheet({"a": 0.4, "b": 0.5, "c": 0.8}, tmp_path, seed=0)
    assert main(["score", str(cfg), str(store), "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    names = [t["name"] for t in out["targets"]]
    assert names == ["SpontActivityTarget[exc]", "IrregularityTarget[exc]"]
    assert math.isclose(out["total_score"], sum(t["score"] for t in out["targets"]))
    # the same code path the evaluations use: the worker's record gives the same scores
    from evaluators.datastore import DataStore
    from evaluators.evaluate import build_targets, score_store
    from orchestrator.config import load_config

    c = load_config(cfg)
    with DataStore(store) as ds:
        again = score_store(build_targets([t.spec() for t in c.targets]), ds, {})
    assert [o.score for o in again] == [t["score"] for t in out["targets"]]


@pytest.mark.parametrize("path", ["missing.h5", "garbage"])
def test_score_bad_datastore_is_a_clear_error(write_config, tmp_path: Path, capsys, path) -> None:
    cfg = write_config()
    p = tmp_path / path
    if path == "garbage":
        p.write_bytes(b"not hdf5 at all")
    assert main(["score", str(cfg), str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("simtune: datastore:") and "Traceback" not in err


BROKEN_MODEL = '''
from pathlib import Path
from tests.helpers.sims import rate_sheet

FLAG = Path(__file__).with_name("broken")

def simulate(params, out_dir, seed):
    if FLAG.exists():
        raise RuntimeError("the model is misconfigured: " + FLAG.read_text())
    return rate_sheet(params, out_dir, seed, n=20, duration_ms=1000.0)
'''


def test_first_generation_that_all_fails_stops_and_resumes_after_the_fix(
        write_config, tmp_path: Path, capsys) -> None:
    (tmp_path / "model.py").write_text(BROKEN_MODEL)
    (tmp_path / "broken").write_text("no such file params.yaml")
    cfg = write_config(optimizer={"max_ngen": 3}, evaluator={"function": "model:simulate"})
    run = tmp_path / "run"
    assert run_cli("run", str(cfg), "--run-dir", str(run)) == 1
    err = capsys.readouterr().err
    assert "every evaluation of the first generation (4) failed with reason exception" in err
    assert "the model is misconfigured: no such file params.yaml" in err
    assert f"simtune resume {run.resolve()}" in err
    df = load_results(run)
    assert len(df) == 4 and (df.reason == "exception").all()  # recorded, only one generation
    (tmp_path / "broken").unlink()  # the fix
    assert run_cli("resume", str(run)) == 0
    df = load_results(run)
    assert list(df.groupby("generation").size()) == [4, 4, 4]
    assert (df[df.generation > 0].status == "ok").all()
    # nothing was told for the failed generation: its points are asked again
    g0 = df[df.generation == 0][["param.a", "param.b", "param.c"]].to_numpy()
    g1 = df[df.generation == 1][["param.a", "param.b", "param.c"]].to_numpy()
    np.testing.assert_array_equal(g0, g1)


def test_nothing_measured_in_the_first_generation_stops_the_run(write_config, tmp_path: Path,
                                                                capsys) -> None:
    # every target reads a sheet the model does not have: every value undefined
    cfg = write_config(targets=[
        {"class": "SpontActivityTarget", "target_value": [4.0, 5.0], "sheet_name": "inh",
         "norm": 0.2},
        {"class": "IrregularityTarget", "target_value": 1.0, "sheet_name": "inh", "norm": 0.1}])
    assert run_cli("run", str(cfg), "--run-dir", str(tmp_path / "run")) == 1
    captured = capsys.readouterr()
    assert "every target of every evaluation of the first generation is undefined" in \
        captured.err
    # one warning per target, with the reason and where to look
    warnings = [ln for ln in captured.out.splitlines() if "warning" in ln]
    assert len(warnings) == 2 and all("simtune score" in w for w in warnings)
    assert all("inh" in w for w in warnings)


@pytest.mark.parametrize("keep", [1, 3])
def test_cleanup_bounds_the_stores_on_disk(write_config, tmp_path: Path, keep: int) -> None:
    """At most keep_best data stores exist after each generation, whatever the batch: with
    every generation better than the last, each one pushes all earlier stores out."""
    cfg = write_config(targets=[{"class": "ValueTarget", "value": "loss", "target_value": 0.0,
                                 "norm": 1.0, "max_score": 1000}],
                       optimizer={"offspring_size": 12, "max_ngen": 4},
                       executor={"kind": "debug"},
                       evaluator={"function": "tests.helpers.sims:improving"},
                       cleanup={"keep_best": keep})
    seen = []

    def count(g, _records) -> None:
        seen.append(len(list((tmp_path / "run" / "evals").rglob("*.h5"))))

    from orchestrator.config import load_config
    from orchestrator.controller import Controller
    from orchestrator.rundir import create_run

    c = load_config(cfg)
    ctl = Controller(c, create_run(c, tmp_path / "run"), progress=False)
    ctl.on_generation = count
    ctl.run()
    assert seen == [keep] * 4
    df = load_results(tmp_path / "run")
    best = df.nsmallest(keep, "total_score")
    left = sorted(str(p.parent) for p in (tmp_path / "run" / "evals").rglob("*.h5"))
    assert left == sorted(best.eval_dir)  # exactly the best
