"""``simtune status RUN_DIR``: a run's state from what is on disk (no lock; works while it runs)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from orchestrator.checkpoint import load_checkpoint, load_inflight
from orchestrator.results import load_generations, load_results
from simtune_core.io import read_json
from simtune_core.record import RESULT_FILE

__all__ = ["collect_status", "run_status"]


def _lock_holder(run_dir: Path) -> str | None:
    import fcntl
    import os

    path = run_dir / "run.lock"
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # nobody holds it
    except BlockingIOError:
        return path.read_text().strip() or "unknown"
    finally:
        os.close(fd)


def collect_status(run_dir: Path) -> dict[str, Any]:
    """Everything ``simtune status`` shows, as a dict."""
    run_dir = Path(run_dir)
    meta = read_json(run_dir / "run.json")
    cp = load_checkpoint(run_dir)
    df = load_results(run_dir)
    gens = load_generations(run_dir)
    inflight = load_inflight(run_dir)
    out: dict[str, Any] = {
        "name": meta.get("name"), "run_dir": str(run_dir.resolve()),
        "controller": _lock_holder(run_dir),
        "generations_done": cp.next_generation if cp else 0,
        "max_ngen": cp.max_ngen if cp else None,
        "finished": bool(cp and cp.finished), "stop_reason": cp.stop_reason if cp else "",
        "evaluations": int(len(df)),
        "failed": int((df["status"] != "ok").sum()) if len(df) else 0,
        "failures_by_reason": (df.loc[df["status"] != "ok", "reason"].value_counts().to_dict()
                               if len(df) else {}),
    }
    ok = df[df["status"] == "ok"] if len(df) else df
    if len(ok):
        best = ok.loc[ok["total_score"].idxmin()]
        out["best"] = {
            "total_score": float(best["total_score"]), "generation": int(best["generation"]),
            "individual": int(best["individual"]),
            "parameters": {c[6:]: best[c] for c in ok.columns if c.startswith("param.")},
        }
    if len(gens):
        best_so_far = gens["min"].cummin().tolist()
        out["best_trend"] = best_so_far[-5:]
        durations = gens["duration_s"].tolist()
        out["seconds_per_generation"] = float(sum(durations[-5:]) / len(durations[-5:]))
        if cp and not cp.finished:
            left = cp.max_ngen - cp.next_generation
            out["eta_s"] = left * out["seconds_per_generation"]
    if inflight is not None and cp is not None and inflight.get("generation") == cp.next_generation:
        g = inflight["generation"]
        n = len(inflight["points"])
        done = failed = running = pending = 0
        for i in range(n):
            res = run_dir / "evals" / f"g{g:04d}" / f"i{i:03d}" / RESULT_FILE
            job = inflight["jobs"].get(str(i))
            if res.exists():
                try:
                    ok = read_json(res).get("status") == "ok"
                except (OSError, json.JSONDecodeError):
                    ok = True  # being written
                done += ok
                failed += not ok
            elif job is not None and "started_at" in job:
                running += 1
            elif job is not None:
                pending += 1
        submitted = len(inflight["jobs"])
        out["current_generation"] = {
            "generation": g, "size": n, "submitted": submitted, "done": done,
            "failed": failed, "running": running, "pending": pending,
            "not_submitted": n - submitted,
            "running_for_s": time.time() - inflight.get("started_at", time.time()),
        }
    return out


def run_status(run_dir: Path, as_json: bool = False) -> int:
    if not (Path(run_dir) / "run.json").exists():
        print(f"simtune: {run_dir} is not a simtune run directory", flush=True)
        return 2
    s = collect_status(run_dir)
    if as_json:
        print(json.dumps(s, indent=1, default=str))
        return 0
    state = "finished" if s["finished"] else ("running" if s["controller"] else "stopped")
    print(f"run {s['name']} at {s['run_dir']}: {state}"
          + (f" ({s['stop_reason']})" if s["finished"] else "")
          + (f" — controller {s['controller']}" if s["controller"] else ""))
    print(f"generations: {s['generations_done']} of {s['max_ngen']}; evaluations: "
          f"{s['evaluations']} ({s['failed']} failed)")
    if s["failures_by_reason"]:
        print("failures: " + ", ".join(f"{k} {v}" for k, v in s["failures_by_reason"].items()))
    if "current_generation" in s:
        c = s["current_generation"]
        print(f"generation {c['generation']} in flight for {c['running_for_s']:.0f} s: "
              f"{c['done']} done, {c['failed']} failed, {c['running']} running, "
              f"{c['pending']} pending, {c['not_submitted']} not submitted (of {c['size']})")
    if "best" in s:
        b = s["best"]
        trend = ", ".join(f"{v:.4g}" for v in s.get("best_trend", []))
        print(f"best total score: {b['total_score']:.6g} (generation {b['generation']}, "
              f"individual {b['individual']}); best so far, last generations: {trend}")
        print("best parameters: " + ", ".join(f"{k}={v:.6g}" if isinstance(v, float) and
                                              math.isfinite(v) else f"{k}={v}"
                                              for k, v in b["parameters"].items()))
    if "seconds_per_generation" in s:
        line = f"time per generation: {s['seconds_per_generation']:.1f} s"
        if "eta_s" in s:
            line += f"; estimated time to max_ngen: {s['eta_s'] / 60:.1f} min"
        print(line)
    return 0
