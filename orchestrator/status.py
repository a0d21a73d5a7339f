"""``simtune status RUN_DIR``: a run's state from what is on disk (no lock; works while it runs).

It reads the results table, the generation rows and the checkpoint, and adds the evaluations of
the generation in flight that already have a ``result.json`` -- so the best it shows is the best
the controller knows, and a run stopped by ``kill -9`` is shown as stopped, with the command that
resumes it.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from orchestrator.checkpoint import load_checkpoint, load_inflight
from orchestrator.report.data import aborted_savings, load_run, utilisation
from orchestrator.results import ok_mask
from orchestrator.rundir import lock_holder, read_meta
from simtune_core.record import is_ok

__all__ = ["collect_status", "disk_use", "run_status"]


def disk_use(run_dir: Path) -> dict[str, int]:
    """Bytes on disk: the whole run, its data stores (``*.h5``) and how many stores exist."""
    total = stores = n = 0
    for root, _dirs, files in os.walk(run_dir):
        for f in files:
            try:
                size = os.lstat(os.path.join(root, f)).st_size
            except OSError:
                continue  # removed meanwhile
            total += size
            if f.endswith((".h5", ".hdf5")):
                stores += size
                n += 1
    return {"bytes": total, "datastore_bytes": stores, "datastores": n}


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n < 10**10 else f"{n / 1e9:.1f} GB"


def collect_status(run_dir: Path) -> dict[str, Any]:
    """Everything ``simtune status`` shows, as a dict."""
    run_dir = Path(run_dir)
    meta = read_meta(run_dir)
    cp = load_checkpoint(run_dir)
    data = load_run(run_dir)
    df, gens = data.results, data.generations
    holder = lock_holder(run_dir)
    done = df[df["generation"] != data.inflight_generation] if len(df) else df
    failed = ~ok_mask(done) if len(done) else None
    out: dict[str, Any] = {
        "name": meta.get("name"), "run_dir": str(run_dir.resolve()),
        "controller": holder,
        "state": ("finished" if cp and cp.finished else "running" if holder else "stopped"),
        "generations_done": cp.next_generation if cp else 0,
        "max_ngen": cp.max_ngen if cp else None,
        "finished": bool(cp and cp.finished), "stop_reason": cp.stop_reason if cp else "",
        "evaluations": int(len(done)),
        "budget": _budget(run_dir, cp.max_ngen if cp else None),
        "failed": int(failed.sum()) if failed is not None else 0,
        "failures_by_reason": (done.loc[failed, "reason"].fillna("unknown").value_counts()
                               .to_dict() if failed is not None else {}),
        "disk": disk_use(run_dir),
        "gate_warnings": list(meta.get("gate_warnings") or []),
    }
    saved = aborted_savings(done)
    if saved is not None:
        out["aborted"] = saved
    ok = df[ok_mask(df)] if len(df) else df
    if len(ok):  # the generation in flight included: the best the controller knows
        best = ok.loc[ok["total_score"].idxmin()]
        out["best"] = {
            "total_score": float(best["total_score"]), "generation": int(best["generation"]),
            "individual": int(best["individual"]),
            "parameters": {c[6:]: best[c] for c in ok.columns if c.startswith("param.")},
        }
        undefined = []
        for t in data.info.targets:
            col = f"value.{t.name}"
            if col in ok.columns and ok[col].isna().all():
                why = ok.get(f"why.{t.name}")
                undefined.append({"target": t.name, "reason": str(why.dropna().iloc[0])
                                  if why is not None and why.notna().any() else "no value"})
        if undefined:
            out["undefined_targets"] = undefined
    if len(gens):
        out["best_trend"] = gens["min"].cummin().tolist()[-5:]
        durations = gens["duration_s"].tolist()
        out["seconds_per_generation"] = float(sum(durations[-5:]) / len(durations[-5:]))
        if cp and not cp.finished and holder:
            out["eta_s"] = (cp.max_ngen - cp.next_generation) * out["seconds_per_generation"]
    inflight = load_inflight(run_dir)
    if inflight is not None and cp is not None and inflight.get("mode") == "async":
        out["async"] = _async(inflight, done, cp, slots=_slots(run_dir))
    elif inflight is not None and cp is not None and \
            inflight.get("generation") == cp.next_generation:
        out["current_generation"] = _inflight(run_dir, inflight, holder is not None)
    if len(done) and "submitted_at" in done.columns and done["submitted_at"].notna().any():
        slots = _slots(run_dir)
        if slots:
            out["utilisation"] = utilisation(done, slots)
    return out


def _raw(run_dir: Path) -> dict[str, Any]:
    try:
        import yaml

        raw = yaml.safe_load((run_dir / "config.yaml").read_text())
        return raw if isinstance(raw, dict) else {}
    except (OSError, ValueError):
        return {}


def _slots(run_dir: Path) -> int | None:
    """The run's parallel slots (executor.max_parallel), None where unknown."""
    value = (_raw(run_dir).get("executor") or {}).get("max_parallel")
    return int(value) if isinstance(value, int) and value > 0 else None


def _budget(run_dir: Path, max_ngen: int | None) -> int | None:
    """An asynchronous run's evaluation budget (None for a generational run)."""
    opt = _raw(run_dir).get("optimizer") or {}
    if opt.get("mode") != "async":
        return None
    from orchestrator.config import OptimizerConfig
    from orchestrator.steady import budget

    keys = {k: v for k, v in opt.items() if k in ("max_evaluations", "max_ngen",
                                                  "offspring_size")}
    return budget(OptimizerConfig(**keys), max_ngen)


def _async(inflight: dict[str, Any], done: Any, cp: Any, slots: int | None) -> dict[str, Any]:
    jobs = inflight.get("jobs", {})
    return {"in_flight": len(inflight.get("tasks", {})), "slots": slots,
            "running": sum(1 for j in jobs.values() if "started_at" in j),
            "pending": sum(1 for j in jobs.values() if "started_at" not in j),
            "told": cp.n_evaluations, "asked": cp.n_asked, "cma_updates": cp.next_generation}


def _inflight(run_dir: Path, inflight: dict[str, Any], live: bool) -> dict[str, Any]:
    from orchestrator.executors.watcher import read_result
    from orchestrator.rundir import eval_dir

    g = inflight["generation"]
    n = len(inflight["points"])
    done = failed = running = pending = 0
    for i in range(n):
        rec = read_result({"eval_dir": str(eval_dir(run_dir, g, i)), "generation": g,
                           "individual": i})
        job = inflight["jobs"].get(str(i))
        if rec is not None:
            done += is_ok(rec.status)
            failed += not is_ok(rec.status)
        elif job is not None and "started_at" in job:
            running += 1
        elif job is not None:
            pending += 1
    submitted = len(inflight["jobs"])
    return {
        "generation": g, "size": n, "submitted": submitted, "done": done, "failed": failed,
        "running" if live else "running_when_stopped": running,
        "pending" if live else "pending_when_stopped": pending,
        "not_submitted": n - submitted,
        "running_for_s": time.time() - inflight.get("started_at", time.time()),
    }


def run_status(run_dir: Path, as_json: bool = False) -> int:
    """Print the status of ``run_dir`` (a run directory); returns the exit code."""
    s = collect_status(run_dir)
    if as_json:
        print(json.dumps(s, indent=1, default=str))
        return 0
    state = s["state"] + (f" ({s['stop_reason']})" if s["finished"] else "")
    print(f"run {s['name']} at {s['run_dir']}: {state}"
          + (f" — controller {s['controller']}" if s["controller"] else ""))
    if s["budget"] is not None:
        print(f"evaluations: {s['evaluations']} of {s['budget']} ({s['failed']} failed); "
              f"{s['generations_done']} CMA updates")
    else:
        print(f"generations: {s['generations_done']} of {s['max_ngen']}; evaluations: "
              f"{s['evaluations']} ({s['failed']} failed)")
    if s["failures_by_reason"]:
        print("failures: " + ", ".join(f"{k} {v}" for k, v in s["failures_by_reason"].items()))
    if "aborted" in s:
        ab = s["aborted"]
        print(f"aborted by gates: {ab['aborted']:.0f} evaluations, {ab['runtime_s']:.0f} s of "
              "simulation" + ("" if not math.isfinite(ab["saved_s"]) else
                              f"; ~{ab['saved_s']:.0f} s saved (median finished evaluation "
                              f"{ab['median_ok_runtime_s']:.1f} s)"))
    for w in s["gate_warnings"]:
        print(f"warning: {w}")
    a = s.get("async")
    if a:
        print(f"asynchronous: {a['in_flight']} in flight of {a['slots']} slots ({a['running']} "
              f"running, {a['pending']} pending); {a['told']} told, {a['cma_updates']} CMA "
              "updates" + ("" if s["controller"] else " (when the controller stopped)"))
    if "utilisation" in s:
        print(f"slots busy so far: {s['utilisation']:.0%} (summed run time / slots x span)")
    c = s.get("current_generation")
    if c and s["controller"]:
        print(f"generation {c['generation']} in flight for {c['running_for_s']:.0f} s: "
              f"{c['done']} done, {c['failed']} failed, {c['running']} running, "
              f"{c['pending']} pending, {c['not_submitted']} not submitted (of {c['size']})")
    elif c:
        print(f"generation {c['generation']} was in flight when the controller stopped: "
              f"{c['done']} done, {c['failed']} failed, "
              f"{c['running_when_stopped'] + c['pending_when_stopped']} jobs submitted "
              f"(a resume re-attaches to those still running), {c['not_submitted']} not "
              f"submitted (of {c['size']})")
    if "best" in s:
        b = s["best"]
        trend = ", ".join(f"{v:.4g}" for v in s.get("best_trend", []))
        print(f"best total score: {b['total_score']:.6g} (generation {b['generation']}, "
              f"individual {b['individual']})"
              + (f"; best so far, last generations: {trend}" if trend else ""))
        print("best parameters: " + ", ".join(f"{k}={v:.6g}" if isinstance(v, float) and
                                              math.isfinite(v) else f"{k}={v}"
                                              for k, v in b["parameters"].items()))
    for u in s.get("undefined_targets", []):
        print(f"warning: target {u['target']} is undefined in every successful evaluation: "
              f"{u['reason']} (check one data store with 'simtune score')")
    if "seconds_per_generation" in s:
        line = f"time per generation: {s['seconds_per_generation']:.1f} s"
        if "eta_s" in s:
            line += f"; estimated time to max_ngen: {s['eta_s'] / 60:.1f} min"
        print(line)
    d = s["disk"]
    print(f"disk: {_mb(d['bytes'])} in the run directory, {d['datastores']} data stores "
          f"({_mb(d['datastore_bytes'])})")
    if s["state"] == "stopped":
        print(f"stopped: continue with  simtune resume {run_dir}")
    return 0
