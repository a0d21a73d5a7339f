"""The ``simtune`` command: one small function per subcommand, each returning an exit code.

Exit codes: 0 success; 1 the run failed; 2 bad input (config, arguments, data store) — nothing
written; 3 stopped by a signal (state saved: ``simtune resume`` continues); 4 the run directory
is locked by another controller.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_STOPPED, EXIT_LOCKED = 0, 1, 2, 3, 4


def _err(msg: str) -> None:
    print(f"simtune: {msg}", file=sys.stderr)


def _load(path: str) -> Any:
    from orchestrator.config import load_config

    return load_config(path)


# -- subcommands ------------------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    cfg = _load(args.config)
    print(f"{args.config}: valid — {cfg.space.dim} free parameters "
          f"({', '.join(cfg.space.free_names)}), {len(cfg.targets)} targets, "
          f"executor {cfg.executor.kind}, evaluator {cfg.evaluator.kind}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    import dataclasses

    cfg = _load(args.config)
    if args.executor:
        cfg = dataclasses.replace(
            cfg, executor=dataclasses.replace(cfg.executor, kind=args.executor))
        cfg.raw.setdefault("executor", {})
        cfg.raw["executor"] = {**(cfg.raw.get("executor") or {}), "kind": args.executor}
    if args.max_ngen is not None:
        if args.max_ngen < 1:
            _err(f"--max-ngen: expected an integer >= 1, found {args.max_ngen}")
            return EXIT_INPUT
        cfg = dataclasses.replace(
            cfg, optimizer=dataclasses.replace(cfg.optimizer, max_ngen=args.max_ngen))
        cfg.raw["optimizer"] = {**(cfg.raw.get("optimizer") or {}), "max_ngen": args.max_ngen}
    run_dir = Path(args.run_dir or Path("runs") / cfg.name)
    from orchestrator.rundir import create_run, new_run_problem

    problem = new_run_problem(run_dir)
    if problem:
        _err(problem)
        return EXIT_INPUT
    from orchestrator.controller import Controller

    create_run(cfg, run_dir)
    return _drive(Controller(cfg, run_dir, progress=not args.no_progress), run_dir)


def cmd_resume(args: argparse.Namespace) -> int:
    from orchestrator.controller import Controller
    from orchestrator.rundir import NotARunError, open_run

    run_dir = Path(args.run_dir)
    try:
        cfg, _ = open_run(run_dir)
    except NotARunError as exc:
        _err(str(exc))
        return EXIT_INPUT
    if args.max_ngen is not None and args.max_ngen < 1:
        _err(f"--max-ngen: expected an integer >= 1, found {args.max_ngen}")
        return EXIT_INPUT
    ctl = Controller(cfg, run_dir, progress=not args.no_progress, max_ngen=args.max_ngen)
    return _drive(ctl, run_dir)


def _drive(ctl: Any, run_dir: Path) -> int:
    from orchestrator.controller import Interrupted, RunFailed
    from orchestrator.rundir import LockedError

    try:
        cp = ctl.run()
    except LockedError as exc:
        _err(str(exc))
        return EXIT_LOCKED
    except Interrupted as exc:
        _err(f"{exc}; state saved — continue with: simtune resume {run_dir}")
        return EXIT_STOPPED
    except RunFailed as exc:
        _err(str(exc))
        return EXIT_FAILED
    except OSError as exc:
        _err(f"stopped: {exc} (the last checkpoint in {run_dir} is intact; "
             f"fix the cause, then: simtune resume {run_dir})")
        return EXIT_FAILED
    best = cp.best[0] if cp.best else None
    print(f"results: {Path(run_dir).resolve()}")
    print(f"evaluations: {cp.n_evaluations} in {cp.next_generation} generations "
          f"({cp.stop_reason or 'running'})")
    if best:
        print(f"best total score: {best['total_score']:.6g} "
              f"(generation {best['generation']}, individual {best['individual']})")
        print("best parameters: " + json.dumps(best["parameters"]))
    else:
        print("best total score: none (every evaluation failed; see simtune status)")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from orchestrator.status import run_status

    return run_status(Path(args.run_dir), as_json=args.json)


def cmd_score(args: argparse.Namespace) -> int:
    from evaluators.datastore import DataStore, DataStoreError
    from evaluators.evaluate import build_targets, score_store

    cfg = _load(args.config)
    try:
        store = DataStore(args.datastore)
    except DataStoreError as exc:
        _err(f"datastore: {exc}")
        return EXIT_INPUT
    with store:
        try:
            params = store.metadata.get("params", {})
            outcomes = score_store(build_targets([t.spec() for t in cfg.targets]), store, params)
            exploded = store.exploded
        except Exception as exc:  # noqa: BLE001 - a corrupt store fails anywhere
            _err(f"datastore: {args.datastore} is unreadable: {type(exc).__name__}: {exc}")
            return EXIT_INPUT
    total = sum(o.score for o in outcomes)
    if args.json:
        print(json.dumps({"total_score": total, "explosion": exploded, "targets": [
            {"name": o.name, "value": o.value, "score": o.score, "reason": o.reason}
            for o in outcomes]}, indent=1))
        return EXIT_OK
    width = max(len(o.name) for o in outcomes)
    for o in outcomes:
        value = "—" if o.value is None else f"{o.value:.6g}"
        print(f"{o.name:<{width}}  value {value:>12}  score {o.score:8.4g}"
              + (f"  ({o.reason})" if o.reason else ""))
    print(f"{'total':<{width}}  {'':>18}  score {total:8.4g}"
          + ("  [the store is flagged as exploded]" if exploded else ""))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from orchestrator.report import write_report

    out = write_report(Path(args.run_dir), log_scale=args.log)
    print(f"report: {out}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from orchestrator.export import export

    return export(Path(args.run_dir), top=args.top, fmt=args.format,
                  optuna_journal=args.optuna_journal, pareto=args.pareto)


# -- parser -------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    import orchestrator

    p = argparse.ArgumentParser(prog="simtune", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"simtune {orchestrator.__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(fn=fn)
        return sp

    r = add("run", cmd_run, "start an optimisation from a config")
    r.add_argument("config")
    r.add_argument("--run-dir", help="where to keep the run (default: runs/<name>)")
    r.add_argument("--executor", choices=["local", "debug", "slurm"],
                   help="override executor.kind (e.g. a local dry run of a SLURM config)")
    r.add_argument("--max-ngen", type=int, help="override optimizer.max_ngen")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")

    rs = add("resume", cmd_resume, "continue a run from its checkpoint, re-attaching to jobs")
    rs.add_argument("run_dir")
    rs.add_argument("--max-ngen", type=int, help="raise (or lower) the generation budget")
    rs.add_argument("--no-progress", action="store_true")

    st = add("status", cmd_status, "show a run's progress (works while it runs)")
    st.add_argument("run_dir")
    st.add_argument("--json", action="store_true")

    v = add("validate", cmd_validate, "check a config without running anything")
    v.add_argument("config")

    sc = add("score", cmd_score, "score a data store against a config's targets")
    sc.add_argument("config")
    sc.add_argument("datastore")
    sc.add_argument("--json", action="store_true")

    rp = add("report", cmd_report, "write figures and a summary into RUN_DIR/report/")
    rp.add_argument("run_dir")
    rp.add_argument("--log", action="store_true", help="log-scale score axes")

    ex = add("export", cmd_export, "write the best parameter set(s) with values and scores")
    ex.add_argument("run_dir")
    g = ex.add_mutually_exclusive_group()
    g.add_argument("--best", action="store_true", help="the best evaluation (default)")
    g.add_argument("--top", type=int, default=1, metavar="K", help="the best K evaluations")
    g.add_argument("--pareto", action="store_true", help="the Pareto front over the targets")
    ex.add_argument("--format", choices=["json", "yaml"], default="json")
    ex.add_argument("--optuna-journal", metavar="FILE",
                    help="write every evaluation as an Optuna journal file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from orchestrator.config import ConfigError

    args = _parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_INPUT
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_STOPPED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
