"""Bad input: every malformed config exits 2 with one line naming the key path; nothing written."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.cli import main
from tests.conftest import BASE_CONFIG, deep_update

DELETE = object()


def _without(path: str) -> dict[str, Any]:
    cfg = copy.deepcopy(BASE_CONFIG)
    keys = path.split(".")
    node = cfg
    for k in keys[:-1]:
        node = node[k]
    del node[keys[-1]]
    return cfg


def _target(i: int, **upd: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(BASE_CONFIG)
    for k, v in upd.items():
        if v is DELETE:
            cfg["targets"][i].pop(k, None)
        else:
            cfg["targets"][i][k] = v
    return cfg


# (id, config mapping or raw YAML text, substring the error line must contain)
CASES: list[tuple[str, Any, str]] = [
    ("yaml-syntax", "parameters: [a: 1\n  b", "config: expected valid YAML"),
    ("yaml-tabs", "parameters:\n\ta: [0, 1]\n", "config: expected valid YAML"),
    # PyYAML notices the unclosed bracket a line late: the message names where it was opened
    ("yaml-unclosed-bracket", "name: x\nparameters: {a: [0, 1], b: [0, 1]\ntargets: []\n",
     ("config: expected valid YAML (error at line 3, column 1), found expected ',' or '}', "
      "but got '<scalar>' (is the '{' opened on line 2, column 13 closed?)")),
    ("top-not-mapping", "- a\n- b\n", "expected a YAML mapping"),
    ("empty-file", "", "expected a YAML mapping"),
    ("unknown-top-key", deep_update(BASE_CONFIG, {"paramters": {}}), "paramters: expected one of"),
    ("missing-parameters", _without("parameters"), "parameters: expected"),
    ("parameters-list", deep_update(BASE_CONFIG, {"parameters": [1, 2]}), "parameters: expected"),
    ("parameters-empty", {**BASE_CONFIG, "parameters": {}}, "parameters: expected"),
    ("inverted-bounds", deep_update(BASE_CONFIG, {"parameters": {"a": [1.0, 0.0]}}),
     "parameters.a: expected [low, high] with low < high"),
    ("equal-bounds", deep_update(BASE_CONFIG, {"parameters": {"a": [1.0, 1.0]}}),
     "parameters.a: expected [low, high]"),
    ("bound-string", deep_update(BASE_CONFIG, {"parameters": {"a": ["x", 1.0]}}),
     "parameters.a.low: expected a number"),
    ("bound-three", deep_update(BASE_CONFIG, {"parameters": {"a": [0, 1, 2]}}),
     "parameters.a: expected [low, high]"),
    ("bound-nan", deep_update(BASE_CONFIG, {"parameters": {"a": [0, float("nan")]}}),
     "parameters.a.high: expected a number"),
    ("param-bool", deep_update(BASE_CONFIG, {"parameters": {"a": True}}),
     "parameters.a: expected [low, high], a number, or an expression"),
    ("param-unknown-key", deep_update(BASE_CONFIG, {"parameters": {"a": {"low": 0, "high": 1,
                                                                         "step": 2}}}),
     "parameters.a.step: expected one of the keys"),
    ("log-nonpositive", deep_update(BASE_CONFIG, {"parameters": {"a": {"low": 0, "high": 1,
                                                                       "log": True}}}),
     "parameters.a.low: expected a number > 0"),
    ("expr-injection", deep_update(BASE_CONFIG, {"parameters": {"d": "__import__('os').system('x')"}}),
     "parameters.d: expected an arithmetic expression"),
    ("expr-attribute", deep_update(BASE_CONFIG, {"parameters": {"d": "a.__class__"}}),
     "parameters.d: expected an arithmetic expression"),
    ("expr-unknown-name", deep_update(BASE_CONFIG, {"parameters": {"d": "a + zz"}}),
     "parameters.d: expected names of parameters"),
    ("expr-cycle", deep_update(BASE_CONFIG, {"parameters": {"d": "e + 1", "e": "d * 2"}}),
     "expected expressions without cycles"),
    ("duplicate-parameter", "parameters:\n  a: [0, 1]\n  a: [0, 2]\ntargets: []\n",
     "config: expected unique keys in every mapping, found 'a' twice (lines 2 and 3)"),
    ("only-constants", deep_update(BASE_CONFIG, {"parameters": {"a": 1.0, "b": 1.0, "c": 1.0}}),
     "parameters: expected at least one free parameter"),
    ("centroid-out-of-bounds", deep_update(BASE_CONFIG, {"centroid": {"a": 2.0}}),
     "centroid.a: expected a value within [0.0, 1.0]"),
    ("centroid-unknown", deep_update(BASE_CONFIG, {"centroid": {"zz": 0.5}}),
     "centroid.zz: expected a free parameter"),
    ("centroid-constant", deep_update(BASE_CONFIG, {"centroid": {"k": 3.0}}),
     "centroid.k: expected a free parameter"),
    ("centroid-string", deep_update(BASE_CONFIG, {"centroid": {"a": "half"}}),
     "centroid.a: expected a number"),
    ("missing-targets", _without("targets"), "targets: expected a non-empty list"),
    ("empty-targets", {**BASE_CONFIG, "targets": []}, "targets: expected a non-empty list"),
    ("target-not-mapping", {**BASE_CONFIG, "targets": ["SpontActivityTarget"]},
     "targets[0]: expected a mapping"),
    ("target-no-class", _target(0, **{"class": DELETE}), "targets[0].class: expected"),
    ("unknown-target-class", _target(1, **{"class": "NoSuchTarget"}),
     "targets[1].class: expected a built-in target class"),
    ("bad-import-path", _target(0, **{"class": "no_such_module_xyz:Target"}),
     "targets[0].class: expected an importable module"),
    ("import-not-target", _target(0, **{"class": "os.path:join"}),
     "targets[0].class: expected a subclass of targets.Target"),
    ("norm-zero", _target(0, norm=0), "targets[0].norm: expected a number > 0, found 0"),
    ("norm-negative", _target(1, norm=-1), "targets[1].norm: expected a number > 0, found -1"),
    ("norm-missing", _target(0, norm=DELETE), "targets[0].norm: expected a number > 0"),
    ("norm-string", _target(0, norm="small"), "targets[0].norm: expected a number > 0"),
    ("max-score-negative", _target(0, max_score=-5), "targets[0].max_score: expected a number > 0"),
    ("target-value-missing", _target(0, target_value=DELETE), "targets[0].target_value: expected"),
    ("target-value-three", _target(0, target_value=[1, 2, 3]),
     "targets[0].target_value: expected a number or [low, high]"),
    ("target-value-inverted", _target(0, target_value=[3, 1]),
     "targets[0].target_value: expected [low, high] with low <= high"),
    ("target-value-string", _target(1, target_value="high"),
     "targets[1].target_value: expected a number or [low, high]"),
    ("target-kind-unknown", _target(1, kind="roughly"), "targets[1].kind: expected one of"),
    ("target-unknown-option", _target(0, smoothing=3), "targets[0].smoothing: expected one of the keys"),
    ("target-sheet-missing", _target(0, sheet_name=DELETE), "targets[0].sheet_name: expected a sheet"),
    ("target-duplicate-name", deep_update(BASE_CONFIG, {"targets": [
        {"class": "SpontActivityTarget", "target_value": [1, 2], "sheet_name": "exc",
         "norm": 1, "name": "x"},
        {"class": "IrregularityTarget", "target_value": 1, "sheet_name": "exc", "norm": 1,
         "name": "x"}]}), "targets[1].name: expected a name no other target has"),
    ("negative-offspring", deep_update(BASE_CONFIG, {"optimizer": {"offspring_size": -4}}),
     "optimizer.offspring_size: expected an integer >= 1, found -4"),
    ("offspring-float", deep_update(BASE_CONFIG, {"optimizer": {"offspring_size": 4.5}}),
     "optimizer.offspring_size: expected an integer"),
    ("sigma-zero", deep_update(BASE_CONFIG, {"optimizer": {"sigma": 0}}),
     "optimizer.sigma: expected a number in (0, 1]"),
    ("max-ngen-zero", deep_update(BASE_CONFIG, {"optimizer": {"max_ngen": 0}}),
     "optimizer.max_ngen: expected an integer >= 1"),
    ("optimizer-unknown-key", deep_update(BASE_CONFIG, {"optimizer": {"sigma0": 0.2}}),
     "optimizer.sigma0: expected one of the keys"),
    ("cma-option-typo", deep_update(BASE_CONFIG, {"optimizer": {"cma_options": {"tolfunn": 1}}}),
     "optimizer.cma_options.tolfunn: expected a pycma option"),
    ("cma-option-reserved", deep_update(BASE_CONFIG, {"optimizer": {"cma_options": {"seed": 1}}}),
     "optimizer.cma_options.seed: expected no override"),
    ("seed-string", deep_update(BASE_CONFIG, {"optimizer": {"seed": "one"}}),
     "optimizer.seed: expected an integer"),
    ("executor-kind", deep_update(BASE_CONFIG, {"executor": {"kind": "kubernetes"}}),
     "executor.kind: expected one of 'local', 'debug', 'slurm'"),
    ("time-limit-negative", deep_update(BASE_CONFIG, {"executor": {"time_limit_s": -1}}),
     "executor.time_limit_s: expected a number > 0"),
    ("slurm-unknown-key", deep_update(BASE_CONFIG, {"executor": {"slurm": {"partitoin": "x"}}}),
     "executor.slurm.partitoin: expected one of the keys"),
    ("slurm-setup-not-list", deep_update(BASE_CONFIG, {"executor": {"slurm": {"setup": "module load x"}}}),
     "executor.slurm.setup: expected a list of strings"),
    ("slurm-cpus-zero", deep_update(BASE_CONFIG, {"executor": {"slurm": {"cpus_per_task": 0}}}),
     "executor.slurm.cpus_per_task: expected an integer >= 1"),
    ("slurm-max-array-size-one",
     deep_update(BASE_CONFIG, {"executor": {"slurm": {"max_array_size": 1}}}),
     "executor.slurm.max_array_size: expected an integer >= 2 or null"),
    ("slurm-max-submit-zero",
     deep_update(BASE_CONFIG, {"executor": {"slurm": {"max_submit_jobs": 0}}}),
     "executor.slurm.max_submit_jobs: expected an integer >= 1 or null"),
    ("slurm-retry-negative",
     deep_update(BASE_CONFIG, {"executor": {"slurm": {"scheduler_retry_s": -1}}}),
     "executor.slurm.scheduler_retry_s: expected a number >= 0"),
    ("pack-zero", deep_update(BASE_CONFIG, {"executor": {"kind": "slurm", "pack": 0}}),
     "executor.pack: expected an integer >= 1"),
    ("pack-local", deep_update(BASE_CONFIG, {"executor": {"kind": "local", "pack": 4}}),
     "executor.pack: expected 1 unless executor.kind is slurm"),
    ("pack-mpi", deep_update(BASE_CONFIG, {"executor": {"kind": "slurm", "pack": 4,
                                                        "slurm": {"tasks_per_node": 8}}}),
     "executor.pack: expected 1 for multi-node or MPI jobs"),
    ("evaluator-missing", _without("evaluator"), "evaluator: expected a mapping with 'kind'"),
    ("evaluator-kind", deep_update(BASE_CONFIG, {"evaluator": {"kind": "matlab"}}),
     "evaluator.kind: expected one of"),
    ("evaluator-unknown-option", deep_update(BASE_CONFIG, {"evaluator": {"functoin": "x:y"}}),
     "evaluator.functoin: expected one of the keys of python"),
    ("evaluator-bad-function", deep_update(BASE_CONFIG, {"evaluator": {"function": "nosuchmod_q:f"}}),
     "evaluator: expected a working python evaluator"),
    ("evaluator-function-format", deep_update(BASE_CONFIG, {"evaluator": {"function": "justaname"}}),
     "evaluator: expected a working python evaluator"),
    ("cleanup-negative", deep_update(BASE_CONFIG, {"cleanup": {"keep_best": -3}}),
     "cleanup.keep_best: expected an integer >= -1"),
    ("repeats-zero", {**BASE_CONFIG, "repeats": 0}, "repeats: expected an integer >= 1"),
    ("name-slash", {**BASE_CONFIG, "name": "../evil"}, "name: expected a non-empty name"),
    ("reference-unknown-param", {**BASE_CONFIG, "reference": {"parameters": {"zz": 1.0}}},
     "reference.parameters.zz: expected a parameter name"),
    # passed validation, then failed every evaluation while scoring (a range needs [lo, hi])
    ("range-class-single-number", deep_update(BASE_CONFIG, {"targets": [
        {"class": "ParameterExpression", "expression": "a", "target_value": 0.3, "norm": 0.1}]}),
     ("targets[0].target_value: expected [low, high] for ParameterExpression's default kind "
      "range (or give another kind: exact, at_least, at_most), found 0.3")),
    ("range-kind-single-number", deep_update(BASE_CONFIG, {"targets": [
        {"class": "IrregularityTarget", "kind": "range", "target_value": 1.0,
         "sheet_name": "exc", "norm": 0.1}]}),
     "targets[0].target_value: expected [low, high] for kind: range"),
    ("derived-overflow", deep_update(BASE_CONFIG, {"parameters": {"d": "9 ** 9 ** 9"}}),
     "parameters.d: expected an expression that can be evaluated at the centroid"),
    ("async-without-max-parallel", deep_update(BASE_CONFIG, {"optimizer": {"mode": "async"}}),
     ("executor.max_parallel: expected the number of evaluations kept in flight (required "
      "with optimizer.mode: async), found nothing")),
    ("async-nsga2", deep_update(BASE_CONFIG, {"optimizer": {"mode": "async",
                                                            "algorithm": "nsga2"},
                                              "executor": {"max_parallel": 4}}),
     "optimizer.algorithm: expected 'cma' with optimizer.mode: async"),
    ("async-prescreen", deep_update(BASE_CONFIG, {"optimizer": {"mode": "async",
                                                                "screen_factor": 2},
                                                  "executor": {"max_parallel": 4}}),
     "optimizer.screen_factor: expected 1 with optimizer.mode: async"),
    ("mode-unknown", deep_update(BASE_CONFIG, {"optimizer": {"mode": "steady"}}),
     "optimizer.mode: expected 'generational' or 'async', found 'steady'"),
    ("cma-option-bad-value", deep_update(BASE_CONFIG, {"optimizer": {
        "cma_options": {"tolx": "abc"}}}),
     "optimizer.cma_options.tolx: expected a value pycma accepts, found 'abc'"),
    ("one-free-parameter-cma", {**BASE_CONFIG, "parameters": {"a": [0.0, 1.0]}},
     "parameters: expected at least 2 free parameters for CMA-ES"),
    ("gates-not-list", {**BASE_CONFIG, "gates": {"after": "spontaneous"}},
     "gates: expected a list of gates"),
    ("gate-unknown-key", {**BASE_CONFIG, "gates": [{"after": "spontaneous", "explosion": True,
                                                     "abov": 3}]},
     "gates[0].abov: expected one of"),
    ("gate-no-after", {**BASE_CONFIG, "gates": [{"explosion": True}]},
     "gates[0].after: expected a string (required)"),
    ("gate-unknown-target", {**BASE_CONFIG, "gates": [
        {"after": "spontaneous", "target": "Rate[exc]", "above": 50}]},
     ("gates[0].target: expected the name of a target (SpontActivityTarget[exc], "
      "IrregularityTarget[exc]), found 'Rate[exc]'")),
    ("gate-no-bound", {**BASE_CONFIG, "gates": [
        {"after": "spontaneous", "target": "SpontActivityTarget[exc]"}]},
     "gates[0].above: expected a bound: above and/or below"),
    ("gate-no-condition", {**BASE_CONFIG, "gates": [{"after": "spontaneous"}]},
     "gates[0].target: expected the name of a target"),
    ("gate-target-and-explosion", {**BASE_CONFIG, "gates": [
        {"after": "spontaneous", "explosion": True, "target": "SpontActivityTarget[exc]",
         "above": 3}]},
     "gates[0].explosion: expected explosion: true alone"),
    ("gate-empty-range", {**BASE_CONFIG, "gates": [
        {"after": "spontaneous", "target": "SpontActivityTarget[exc]", "above": 3, "below": 5}]},
     "gates[0].below: expected a number < above (3)"),
    ("gate-bound-string", {**BASE_CONFIG, "gates": [
        {"after": "spontaneous", "target": "SpontActivityTarget[exc]", "above": "50 Hz"}]},
     "gates[0].above: expected a number"),
    ("gate-kind-never-written", {**BASE_CONFIG, "evaluator": {"kind": "v1_sheet", "protocol": {
        "spontaneous_first": True}}, "gates": [{"after": "spontanous", "explosion": True}]},
     ("gates[0].after: expected a segment kind the evaluator writes (disk, grating, "
      "spontaneous), found 'spontanous'")),
    ("gate-v1-not-streaming", {**BASE_CONFIG, "evaluator": {"kind": "v1_sheet"},
                               "gates": [{"after": "spontaneous", "explosion": True}]},
     "evaluator.protocol.spontaneous_first: expected true with gates"),
]


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40


def _snapshot(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


@pytest.mark.parametrize("case_id,config,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_config(case_id: str, config: Any, expected: str, tmp_path: Path, capsys,
                    monkeypatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    before = _snapshot(tmp_path)
    rc = main(["run", str(cfg), "--run-dir", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected in lines[0], lines[0]
    assert "Traceback" not in err
    assert _snapshot(tmp_path) == before, "nothing may be written"
    assert main(["validate", str(cfg)]) == 2


def test_missing_config_file(tmp_path: Path, capsys) -> None:
    assert main(["run", str(tmp_path / "nope.yaml"), "--run-dir", str(tmp_path / "r")]) == 2
    assert "config: expected an existing YAML file" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_run_dir(write_config, tmp_path: Path, capsys) -> None:
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    assert main(["run", str(write_config()), "--run-dir", str(ro / "run")]) == 2
    assert "run_dir: expected a writable directory" in capsys.readouterr().err


def test_unwritable_run_dir_file_in_the_way(write_config, tmp_path: Path, capsys) -> None:
    (tmp_path / "afile").write_text("x")
    assert main(["run", str(write_config()), "--run-dir", str(tmp_path / "afile" / "run")]) == 2
    assert "run_dir: expected a writable directory" in capsys.readouterr().err
