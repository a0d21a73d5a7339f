"""The ``simtune`` command: one small function per subcommand, each returning an exit code.

Exit codes: 0 success; 1 the run failed (or a figure could not be drawn); 2 bad input (config,
arguments, run directory, data store) -- one line on stderr, nothing written; 3 stopped by a
signal (state saved: ``simtune resume`` continues); 4 the run directory is locked by another
controller.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_STOPPED, EXIT_LOCKED = 0, 1, 2, 3, 4

DESCRIPTION = """\
simtune tunes the parameters of a simulation against targets with CMA-ES: it submits every
simulation as a job (locally or on SLURM), scores what each one wrote, records every evaluation,
checkpoints every generation, and gives you the best parameters and plots."""

EPILOG = """\
a first run, step by step:
  simtune validate model.yaml               check the config (exit 2 + the key path on error)
  simtune run model.yaml --run-dir runs/m1  optimise (--executor local: a dry run of a SLURM config)
  simtune status runs/m1                    progress, best so far, failures, disk use (live)
  simtune report runs/m1                    figures and a summary in runs/m1/report/index.md
  simtune export runs/m1 --top 5            the best parameter sets as JSON or YAML
  simtune resume runs/m1 --max-ngen 80      continue after a stop, or extend the budget

docs/config.md documents every config key; `simtune COMMAND --help` every option."""


class _NotARun(Exception):
    """The given path is not a run directory (one line, exit 2)."""


def _err(msg: str) -> None:
    print(f"simtune: {msg}", file=sys.stderr)


def _load(path: str) -> Any:
    from orchestrator.config import load_config

    return load_config(path)


def _run_dir(path: str) -> Path:
    from orchestrator.rundir import is_run

    p = Path(path)
    if not is_run(p):
        raise _NotARun(f"{path} is not a simtune run directory (no run.json)")
    return p


# -- subcommands ------------------------------------------------------------------------------
def _run_quietly(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    """A scheduler query for a check before the run (at most 30 s)."""
    try:
        return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 1, "", "timed out")


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
        # packing is a SLURM matter: a local dry run runs one evaluation per process
        pack = cfg.executor.pack if args.executor == "slurm" else 1
        cfg = dataclasses.replace(
            cfg, executor=dataclasses.replace(cfg.executor, kind=args.executor, pack=pack))
        cfg.raw["executor"] = {**(cfg.raw.get("executor") or {}), "kind": args.executor}
        if "pack" in cfg.raw["executor"]:
            cfg.raw["executor"]["pack"] = pack
    if args.max_ngen is not None:
        if args.max_ngen < 1:
            _err(f"--max-ngen: expected an integer >= 1, found {args.max_ngen}")
            return EXIT_INPUT
        cfg = dataclasses.replace(
            cfg, optimizer=dataclasses.replace(cfg.optimizer, max_ngen=args.max_ngen))
        cfg.raw["optimizer"] = {**(cfg.raw.get("optimizer") or {}), "max_ngen": args.max_ngen}
    if cfg.executor.kind == "slurm":  # before anything is written
        from orchestrator.executors.slurm_client import pack_problem

        why = pack_problem(_run_quietly, cfg.executor)
        if why:
            _err(why)
            return EXIT_INPUT
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
    from orchestrator.checkpoint import load_checkpoint
    from orchestrator.controller import Controller
    from orchestrator.rundir import open_run

    run_dir = _run_dir(args.run_dir)
    cfg, _ = open_run(run_dir)
    cp = load_checkpoint(run_dir)
    done = cp.next_generation if cp else 0
    if args.max_ngen is not None and args.max_ngen < max(done, 1):
        _err(f"--max-ngen: expected an integer >= {max(done, 1)} (the generations done), "
             f"found {args.max_ngen}")
        return EXIT_INPUT
    if cp is not None and cp.finished and args.max_ngen in (None, cp.max_ngen):
        why = cp.stop_reason or "done"
        _err(f"{run_dir} is finished ({why}: {done} of {cp.max_ngen} generations); to run "
             f"more: simtune resume {run_dir} --max-ngen {cp.max_ngen + 10}")
        return EXIT_OK
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

    return run_status(_run_dir(args.run_dir), as_json=args.json)


def _score_store(cfg: Any, path: Path, as_json: bool) -> int:
    from evaluators.datastore import DataStore, DataStoreError
    from evaluators.evaluate import build_targets, score_store
    from evaluators.store_check import check_store

    try:
        store = DataStore(path)
    except DataStoreError as exc:
        _err(f"datastore: {exc}")
        return EXIT_INPUT
    with store:
        try:
            check_store(store)
            params = store.metadata.get("params", {})
            outcomes = score_store(build_targets([t.spec() for t in cfg.targets]), store, params)
            exploded = store.exploded
        except DataStoreError as exc:
            _err(f"datastore: {path}: {exc}")
            return EXIT_INPUT
        except Exception as exc:  # noqa: BLE001 - a corrupt store fails anywhere
            _err(f"datastore: {path} is unreadable: {type(exc).__name__}: {exc}")
            return EXIT_INPUT
    total = sum(o.score for o in outcomes)
    if as_json:
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


def cmd_score(args: argparse.Namespace) -> int:
    from evaluators.datastore import DataStoreError
    from evaluators.mozaik import as_simtune_store

    cfg = _load(args.config)
    try:
        with as_simtune_store(args.datastore) as path:
            return _score_store(cfg, Path(path), args.json)
    except (ImportError, DataStoreError) as exc:  # a mozaik directory that cannot be read
        _err(f"datastore: {args.datastore}: {' '.join(str(exc).split())}")
        return EXIT_INPUT


def cmd_check_store(args: argparse.Namespace) -> int:
    from evaluators.datastore import DataStoreError
    from evaluators.store_check import check_store

    try:
        check_store(args.datastore)
    except DataStoreError as exc:
        _err(f"{args.datastore}: {exc}")
        return EXIT_INPUT
    print(f"{args.datastore}: valid")
    return EXIT_OK


def cmd_convert_mozaik(args: argparse.Namespace) -> int:
    from evaluators.datastore import DataStore, DataStoreError
    from evaluators.mozaik import convert_pickled_datastore

    try:
        out = convert_pickled_datastore(args.mozaik_dir, args.out)
    except (ImportError, DataStoreError, OSError) as exc:
        _err(f"{args.mozaik_dir}: {' '.join(str(exc).split())}")
        return EXIT_INPUT
    with DataStore(out) as store:
        sheets = ", ".join(f"{n} ({len(store.sheet(n))})" for n in store.sheet_names())
        n_seg = len(store.segments())
    print(f"{out}: {n_seg} segments; recorded neurons per sheet: {sheets or 'none'}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from orchestrator.report import write_report

    if args.jobs is not None and args.jobs < 1:
        _err(f"--jobs: expected an integer >= 1, found {args.jobs}")
        return EXIT_INPUT
    report = write_report(_run_dir(args.run_dir), log_scale=args.log, jobs=args.jobs)
    for name in report.failed:
        _err(f"report: {name} could not be drawn (a placeholder says why; see simtune.log)")
    print(f"report: {report.index}")
    return EXIT_FAILED if report.failed else EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from orchestrator.export import export

    return export(_run_dir(args.run_dir), top=args.top, fmt=args.format,
                  optuna_journal=args.optuna_journal, pareto=args.pareto)


# -- parser -------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    import orchestrator

    p = argparse.ArgumentParser(prog="simtune", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"simtune {orchestrator.__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help: str,
            example: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",
                            epilog=f"example:\n  {example}",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        sp.set_defaults(fn=fn)
        return sp

    config = "the run's YAML config (docs/config.md)"
    run_dir = "a run directory (made by simtune run)"
    no_progress = "no progress bars: one line when a generation starts and one when it ends"

    r = add("run", cmd_run, "start an optimisation from a config",
            "simtune run model.yaml --run-dir runs/m1")
    r.add_argument("config", help=config)
    r.add_argument("--run-dir", help="where to keep the run: a new or empty directory "
                                     "(default: runs/<name>)")
    r.add_argument("--executor", choices=["local", "debug", "slurm"],
                   help="override executor.kind (e.g. a local dry run of a SLURM config)")
    r.add_argument("--max-ngen", type=int, help="override optimizer.max_ngen")
    r.add_argument("--no-progress", action="store_true", help=no_progress)

    rs = add("resume", cmd_resume, "continue a run from its checkpoint, re-attaching to its "
             "jobs", "simtune resume runs/m1 --max-ngen 80")
    rs.add_argument("run_dir", help=run_dir)
    rs.add_argument("--max-ngen", type=int,
                    help="a new generation budget (at least the generations done)")
    rs.add_argument("--no-progress", action="store_true", help=no_progress)

    st = add("status", cmd_status, "show a run's progress, best, failures and disk use (works "
             "while it runs)", "simtune status runs/m1")
    st.add_argument("run_dir", help=run_dir)
    st.add_argument("--json", action="store_true", help="everything as one JSON object")

    v = add("validate", cmd_validate, "check a config without running anything",
            "simtune validate model.yaml")
    v.add_argument("config", help=config)

    sc = add("score", cmd_score, "score one data store (or a mozaik data-store directory) "
             "against a config's targets", "simtune score model.yaml runs/m1/evals/g0003/i007/"
             "datastore.h5")
    sc.add_argument("config", help=config)
    sc.add_argument("datastore", help="an HDF5 data store (docs/datastore.md) or a mozaik "
                                      "PickledDataStore directory")
    sc.add_argument("--json", action="store_true", help="values, scores and reasons as JSON")

    ck = add("check-store", cmd_check_store, "check a data store against the rules of "
             "docs/datastore.md", "simtune check-store my_simulation/datastore.h5")
    ck.add_argument("datastore", help="an HDF5 data store")

    cm = add("convert-mozaik", cmd_convert_mozaik, "write a mozaik PickledDataStore as a "
             "simtune data store (needs simtune[mozaik])",
             "simtune convert-mozaik results/SpontActivity out.h5")
    cm.add_argument("mozaik_dir", help="the mozaik data-store directory")
    cm.add_argument("out", help="the HDF5 data store to write")

    rp = add("report", cmd_report, "write figures and a summary into RUN_DIR/report/",
             "simtune report runs/m1")
    rp.add_argument("run_dir", help=run_dir)
    rp.add_argument("--log", action="store_true", help="log-scale score axes")
    rp.add_argument("--jobs", type=int, metavar="N",
                    help="processes drawing figures at once (default: the CPU count, at most 4)")

    ex = add("export", cmd_export, "print the best parameter set(s) with values and scores",
             "simtune export runs/m1 --top 5 --format yaml")
    ex.add_argument("run_dir", help=run_dir)
    g = ex.add_mutually_exclusive_group()
    g.add_argument("--best", action="store_true", help="the best evaluation (default)")
    g.add_argument("--top", type=int, default=1, metavar="K", help="the best K evaluations")
    g.add_argument("--pareto", action="store_true", help="the Pareto front over the targets")
    ex.add_argument("--format", choices=["json", "yaml"], default="json",
                    help="output format (default json)")
    ex.add_argument("--optuna-journal", metavar="FILE",
                    help="also write every evaluation as an Optuna journal file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from orchestrator.config import ConfigError
    from orchestrator.rundir import NotARunError

    args = _parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_INPUT
    except (_NotARun, NotARunError) as exc:
        _err(str(exc))
        return EXIT_INPUT
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_STOPPED
    except BrokenPipeError:  # `simtune status RUN | head`: the reader left; that is fine
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
