"""``simtune export RUN_DIR``: the best parameter set(s) of a run, and an Optuna journal.

``--best`` (default) prints the evaluation with the minimal ``total_score`` among successful
ones, as one mapping; ``--top K`` prints the best K as a list (best first; ties: earlier
generation, then individual); ``--pareto`` prints the non-dominated successful evaluations over
the per-target scores as a list. Each entry holds every parameter (free, constant and derived,
in config order — ready to paste into a model's parameter file), the target values and scores,
and where it came from::

    {"generation": 2, "individual": 5, "total_score": 0.0, "eval_dir": "...",
     "parameters": {"a": 0.27, "k": 3.0, "d": 3.27}, "values": {...}, "scores": {...}}

``--optuna-journal FILE`` writes every evaluation as a trial of an Optuna study (named after the
run) in an Optuna journal file, through Optuna's own API, so ``optuna-dashboard`` and Optuna's
plots can read the run. Failed evaluations are ``FAIL`` trials. Optuna is optional.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from orchestrator.results import load_results, ok_mask
from simtune_core.io import commit_file
from simtune_core.record import is_ok

__all__ = ["entries", "export", "format_entries", "write_optuna_journal"]

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


def _clean(v: Any) -> Any:
    """A JSON/YAML-safe scalar: numpy -> Python, NaN -> None, integral floats stay floats."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def _names(df: pd.DataFrame, prefix: str, order: list[str] | None) -> list[str]:
    have = [c[len(prefix):] for c in df.columns if c.startswith(prefix)]
    if order is None:
        return have
    return [n for n in order if n in have] + [n for n in have if n not in order]


def entries(df: pd.DataFrame, rows: pd.DataFrame, param_order: list[str] | None = None,
            target_order: list[str] | None = None) -> list[dict[str, Any]]:
    """Export entries (plain dicts) of the rows ``rows`` of a results table ``df``."""
    pnames = _names(df, "param.", param_order)
    tnames = _names(df, "score.", target_order)
    out = []
    for _, r in rows.iterrows():
        out.append({
            "generation": int(r["generation"]),
            "individual": int(r["individual"]),
            "total_score": _clean(r["total_score"]),
            "eval_dir": _clean(r.get("eval_dir")),
            "parameters": {p: _clean(r.get(f"param.{p}")) for p in pnames},
            "values": {t: _clean(r.get(f"value.{t}")) for t in tnames},
            "scores": {t: _clean(r.get(f"score.{t}")) for t in tnames},
        })
    return out


def format_entries(obj: Any, fmt: str) -> str:
    """``obj`` as JSON (indented) or YAML (keys in insertion order)."""
    if fmt == "json":
        return json.dumps(obj, indent=2, allow_nan=False) + "\n"
    if fmt == "yaml":
        import yaml

        return str(yaml.safe_dump(obj, sort_keys=False, default_flow_style=False))
    raise ValueError(f"format: expected 'json' or 'yaml', found {fmt!r}")


def _orders(run_dir: Path) -> tuple[str, list[str] | None, list[str] | None, Any]:
    """Run name, parameter order and target order from the config (None where not loadable)."""
    try:
        from orchestrator.rundir import open_run

        cfg, _meta = open_run(run_dir)
        return cfg.name, cfg.space.names, [t.name for t in cfg.targets], cfg
    except Exception:  # noqa: BLE001 - export works from the results alone
        try:
            name = json.loads((run_dir / "run.json").read_text()).get("name") or run_dir.name
        except (OSError, ValueError):
            name = run_dir.name
        return str(name), None, None, None


def write_optuna_journal(run_dir: str | os.PathLike[str], path: str | os.PathLike[str],
                         df: pd.DataFrame | None = None) -> int:
    """Write every evaluation of a run as a trial of an Optuna journal file; returns the count.

    The study is created through Optuna's own API (``JournalStorage(JournalFileBackend(path))``),
    named after the run. Free parameters become trial parameters with their distributions
    (``FloatDistribution``/``IntDistribution``, ``log`` as configured); constants and derived
    parameters, per-target values and scores, generation, individual, reason and eval_dir become
    user attributes. ``value`` is the total score; failed evaluations are ``FAIL`` trials.
    The file is written beside ``path`` and renamed into place (an existing file is replaced).

    Raises
    ------
    ImportError
        Optuna is not installed.
    """
    import optuna
    from optuna.distributions import FloatDistribution, IntDistribution
    from optuna.trial import TrialState, create_trial

    try:
        from optuna.storages.journal import JournalFileBackend, JournalStorage
    except ImportError:  # Optuna < 4.0
        from optuna.storages import JournalFileStorage as JournalFileBackend  # type: ignore
        from optuna.storages import JournalStorage  # type: ignore

    run_dir = Path(run_dir)
    name, porder, torder, cfg = _orders(run_dir)
    if df is None:
        df = load_results(run_dir)
    dists: dict[str, Any] = {}
    if cfg is not None:
        for p in cfg.space.free:
            if p.integer:
                dists[p.name] = IntDistribution(math.ceil(p.low), math.floor(p.high), log=p.log)
            else:
                dists[p.name] = FloatDistribution(p.low, p.high, log=p.log)
    else:  # no config: observed ranges of the non-constant parameters
        for c in [c for c in df.columns if c.startswith("param.")]:
            x = pd.to_numeric(df[c], errors="coerce").dropna()
            if len(x) and x.max() > x.min():
                dists[c[6:]] = FloatDistribution(float(x.min()), float(x.max()))
    entries_ = entries(df, df, porder, torder)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(tmp)))
    study = optuna.create_study(storage=storage, study_name=name, direction="minimize")
    study.set_user_attr("simtune_run_dir", str(run_dir.resolve()))
    trials = []
    for e, (_, r) in zip(entries_, df.iterrows()):
        ok = is_ok(r["status"])
        params, attrs = {}, {}
        for k, v in e["parameters"].items():
            if k in dists and v is not None:
                params[k] = int(round(v)) if isinstance(dists[k], IntDistribution) else float(v)
            else:
                attrs[f"param.{k}"] = v
        attrs.update({"generation": e["generation"], "individual": e["individual"],
                      "status": r["status"], "reason": _clean(r.get("reason")),
                      "eval_dir": e["eval_dir"], "total_score": e["total_score"]})
        attrs.update({f"value.{k}": v for k, v in e["values"].items()})
        attrs.update({f"score.{k}": v for k, v in e["scores"].items()})
        value = e["total_score"] if ok and e["total_score"] is not None else None
        trials.append(create_trial(
            params=params, distributions={k: dists[k] for k in params},
            value=value, state=TrialState.COMPLETE if value is not None else TrialState.FAIL,
            user_attrs=attrs,
        ))
    study.add_trials(trials)
    commit_file(tmp, path)
    return len(trials)


def export(run_dir: str | os.PathLike[str], top: int | None = 1, fmt: str = "json",
           optuna_journal: str | os.PathLike[str] | None = None, pareto: bool = False,
           out: TextIO | None = None) -> int:
    """``simtune export``: print the best (``top=1``), the best ``top`` or the Pareto front.

    Returns an exit code: 0; 1 when the run has no successful evaluation (nothing printed);
    2 for bad input (not a run directory, ``top < 1``, Optuna missing for ``optuna_journal``).
    """
    from orchestrator.pareto import pareto_front

    out = out or sys.stdout
    run_dir = Path(run_dir)

    def err(msg: str) -> None:
        print(f"simtune: {msg}", file=sys.stderr)

    if not (run_dir / "results.jsonl").exists() and not (run_dir / "run.json").exists():
        err(f"{run_dir} is not a simtune run directory")
        return EXIT_INPUT
    top = 1 if top is None else top
    if top < 1:
        err(f"--top: expected an integer >= 1, found {top}")
        return EXIT_INPUT
    if fmt not in ("json", "yaml"):
        err(f"--format: expected 'json' or 'yaml', found {fmt!r}")
        return EXIT_INPUT
    df = load_results(run_dir)
    if optuna_journal:
        try:
            n = write_optuna_journal(run_dir, optuna_journal, df)
        except ImportError:
            err("--optuna-journal needs Optuna: pip install optuna (or simtune[test])")
            return EXIT_INPUT
        print(f"simtune: wrote {n} trials to the Optuna journal {optuna_journal}",
              file=sys.stderr)
    _, porder, torder, _ = _orders(run_dir)
    ok = df[ok_mask(df)] if len(df) else df
    ok = ok[np.isfinite(pd.to_numeric(ok["total_score"], errors="coerce"))] if len(ok) else ok
    if ok.empty:
        err(f"{run_dir}: no successful evaluation to export")
        return EXIT_OK if optuna_journal else EXIT_FAILED
    if pareto:
        rows = pareto_front(ok, [c for c in ok.columns if c.startswith("score.")])
        rows = rows.sort_values(["total_score", "generation", "individual"], kind="stable")
        obj: Any = entries(df, rows, porder, torder)
    else:
        rows = ok.sort_values(["total_score", "generation", "individual"], kind="stable")
        obj = entries(df, rows.head(top), porder, torder)
        if top == 1:
            obj = obj[0]
    out.write(format_entries(obj, fmt))
    return EXIT_OK
