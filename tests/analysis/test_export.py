"""simtune export: best, top K, Pareto front, JSON/YAML, Optuna journal."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from orchestrator import load_results
from orchestrator.cli import main
from orchestrator.export import export
from orchestrator.pareto import non_dominated_mask


def _run_export(run: Path, **kw) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    rc = export(run, out=buf, **kw)
    return rc, buf.getvalue()


def test_best_is_min_total_score(finished_run: Path) -> None:
    rc, text = _run_export(finished_run)
    assert rc == 0
    best = json.loads(text)
    df = load_results(finished_run)
    row = df.loc[df[df.status == "ok"].total_score.idxmin()]
    assert best["total_score"] == row.total_score
    assert (best["generation"], best["individual"]) == (row.generation, row.individual)
    assert best["eval_dir"] == row.eval_dir
    # every parameter, in config order, constants and derived included
    assert list(best["parameters"]) == ["a", "b", "c", "n_syn", "tau", "k", "d"]
    for k, v in best["parameters"].items():
        assert v == row[f"param.{k}"]
    assert best["parameters"]["k"] == 3.0
    assert best["parameters"]["d"] == pytest.approx(best["parameters"]["a"] + 3.0)
    assert set(best["values"]) == set(best["scores"]) == {
        "SpontActivityTarget[exc]", "IrregularityTarget[exc]"}
    assert sum(best["scores"].values()) == pytest.approx(best["total_score"])


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_top_k_order_and_parse_back(finished_run: Path, fmt: str) -> None:
    rc, text = _run_export(finished_run, top=5, fmt=fmt)
    assert rc == 0
    top = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    assert isinstance(top, list) and len(top) == 5
    df = load_results(finished_run)
    exp = df[df.status == "ok"].sort_values(["total_score", "generation", "individual"]).head(5)
    assert [(e["generation"], e["individual"]) for e in top] == list(
        zip(exp.generation, exp.individual))
    totals = [e["total_score"] for e in top]
    assert totals == sorted(totals)


def test_cli_prints_to_stdout(finished_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(finished_run), "--best", "--format", "yaml"]) == 0
    best = yaml.safe_load(capsys.readouterr().out)
    assert isinstance(best, dict) and "parameters" in best
    assert main(["export", str(finished_run), "--top", "0"]) == 2


def test_pareto(finished_run: Path) -> None:
    rc, text = _run_export(finished_run, pareto=True)
    assert rc == 0
    front = json.loads(text)
    df = load_results(finished_run)
    ok = df[df.status == "ok"]
    cols = [c for c in df.columns if c.startswith("score.")]
    s = ok[cols].to_numpy()
    keys = {(e["generation"], e["individual"]) for e in front}
    assert [e["total_score"] for e in front] == sorted(e["total_score"] for e in front)
    for (g, i), row in zip(zip(ok.generation, ok.individual), s):
        dominated = bool(np.any(np.all(s <= row, axis=1) & np.any(s < row, axis=1)))
        assert ((g, i) in keys) == (not dominated)


def test_non_dominated_brute_force() -> None:
    rng = np.random.default_rng(1)
    s = rng.integers(0, 5, size=(300, 3)).astype(float)
    brute = np.array([not np.any(np.all(s <= r, axis=1) & np.any(s < r, axis=1)) for r in s])
    np.testing.assert_array_equal(non_dominated_mask(s), brute)


def test_pareto_of_failed_run(failed_run: Path) -> None:
    rc, text = _run_export(failed_run, pareto=True)
    assert rc == 1 and text == ""


def test_failed_only_run(failed_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(failed_run)]) == 1
    assert "no successful evaluation" in capsys.readouterr().err


def test_not_a_run(tmp_path: Path) -> None:
    assert main(["export", str(tmp_path)]) == 2


def _load_study(path: Path, name: str):  # type: ignore[no-untyped-def]
    optuna = pytest.importorskip("optuna")
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(path)))
    return optuna.load_study(study_name=name, storage=storage)


def test_optuna_journal_round_trip(finished_run: Path, tmp_path: Path) -> None:
    from optuna.distributions import FloatDistribution, IntDistribution
    from optuna.trial import TrialState

    journal = tmp_path / "run.journal"
    assert main(["export", str(finished_run), "--optuna-journal", str(journal)]) == 0
    study = _load_study(journal, "analysis")
    df = load_results(finished_run)
    assert len(study.trials) == len(df)
    by_key = {(t.user_attrs["generation"], t.user_attrs["individual"]): t for t in study.trials}
    for _, row in df.iterrows():
        t = by_key[(row.generation, row.individual)]
        assert t.state == TrialState.COMPLETE
        assert t.value == row.total_score
        assert set(t.params) == {"a", "b", "c", "n_syn", "tau"}
        for k in ("a", "b", "c", "tau"):
            assert t.params[k] == row[f"param.{k}"]
        assert t.params["n_syn"] == int(row["param.n_syn"])
        assert t.user_attrs["param.k"] == 3.0
        assert t.user_attrs["score.IrregularityTarget[exc]"] == row["score.IrregularityTarget[exc]"]
    t0 = study.trials[0]
    assert isinstance(t0.distributions["n_syn"], IntDistribution)
    assert t0.distributions["tau"] == FloatDistribution(0.1, 10.0, log=True)
    assert study.best_value == df[df.status == "ok"].total_score.min()
    # exporting again replaces the file instead of failing on the existing study
    assert main(["export", str(finished_run), "--optuna-journal", str(journal)]) == 0
    assert len(_load_study(journal, "analysis").trials) == len(df)


def test_optuna_journal_failed_trials(failed_run: Path, tmp_path: Path) -> None:
    from optuna.trial import TrialState

    journal = tmp_path / "failed.journal"
    assert main(["export", str(failed_run), "--optuna-journal", str(journal)]) == 0
    study = _load_study(journal, "failing")
    assert len(study.trials) == 4  # the run stopped after its first generation
    assert all(t.state == TrialState.FAIL and t.value is None for t in study.trials)
    assert {t.user_attrs["reason"] for t in study.trials} == {"exception"}
    assert all(not math.isnan(t.params["a"]) for t in study.trials)


def test_optuna_missing(finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna -> ImportError
    assert main(["export", str(finished_run), "--optuna-journal",
                 str(tmp_path / "x.journal")]) == 2
    assert "pip install optuna" in capsys.readouterr().err
