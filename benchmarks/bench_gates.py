"""What early-abort gates save: one run of the V1 model through the command evaluator with a
gate on the explosion flag, and the same run without it, side by side.

The simulator (benchmarks/v1_command.py) publishes a 200 ms check segment and the 5 s spontaneous
segment before the stimuli and never stops itself, as a user's simulator would not; exploding
parameter sets (mean E rate above 100 Hz) are slow -- tens of times a normal run. Both arms run
the mozaik targets and parameters of param_optim/v1_sheet.yaml with wider bounds on the three
parameters that make the sheet explode (:data:`WIDE`: ~45 % of CMA-ES's first samples explode;
with the example's own bounds ~5 % do and CMA-ES leaves them within two generations), batches of
20, same optimizer seed, ``--evals`` evaluations.
The gate ``{after: spontaneous, explosion: true}`` stops an exploding run after its check
segment (``aborted``); without it the run finishes and is recorded ``explosion``. Both reasons
are runaways told to CMA-ES the same way, so both arms ask the same points and reach the same
best score (checked).

Measured per arm: CPU seconds of everything the run started (``os.wait4`` on ``simtune run``:
the controller, every job process and every simulator), wall time, and from the record the
median run time of the evaluations stopped by the gate and of the finished ones.

    .venv/bin/python -m benchmarks.bench_gates [--evals 100] [--slots 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
#: bounds wider than the example's, where a user's guess would reach into runaway activity
WIDE = {"w_ee": [1.0, 4.0], "w_ie": [0.0, 4.0], "bg_rate_exc": [3000.0, 8000.0]}


def config(evals: int, slots: int, gated: bool) -> dict[str, Any]:
    base = yaml.safe_load((REPO / "param_optim" / "v1_sheet.yaml").read_text())
    params = {**base["parameters"], **WIDE}
    batch = 20
    cfg: dict[str, Any] = {
        "name": "gated" if gated else "ungated", "parameters": params,
        "targets": base["targets"],
        "optimizer": {"offspring_size": batch, "max_ngen": -(-evals // batch),
                      "max_evaluations": evals, "sigma": 0.3, "seed": 1},
        "executor": {"kind": "local", "max_parallel": slots, "time_limit_s": 1800},
        "evaluator": {"kind": "command",
                      "command": [sys.executable, str(REPO / "benchmarks" / "v1_command.py")],
                      "env": {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}},
        "cleanup": {"keep_best": 1},
    }
    if gated:
        cfg["gates"] = [{"after": "spontaneous", "explosion": True}]
    return cfg


def run_arm(work: Path, evals: int, slots: int, gated: bool) -> dict[str, Any]:
    from orchestrator.results import load_results

    cfg = config(evals, slots, gated)
    path = work / f"{cfg['name']}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    run_dir = work / cfg["name"]
    t0 = time.time()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("simtune")), "run", str(path),
                             "--run-dir", str(run_dir), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cfg['name']}: simtune run exited {status}")
    df = load_results(run_dir)
    ok = df[df["status"] == "ok"]
    stopped = df[df["reason"].isin(["aborted", "explosion"])]
    return {
        "arm": cfg["name"], "evaluations": len(df), "cpu_s": usage.ru_utime + usage.ru_stime,
        "wall_s": wall, "ok": len(ok), "exploding": len(stopped),
        "reasons": df["reason"].fillna("ok").value_counts().to_dict(),
        "median_ok_runtime_s": float(ok["runtime_s"].median()),
        "median_exploding_runtime_s": float(stopped["runtime_s"].median()),
        "sum_runtime_s": float(df["runtime_s"].sum()),
        "best": float(ok["total_score"].min()),
        "points": df[[c for c in df.columns if c.startswith("param.")]].round(12).values.tolist(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evals", type=int, default=100)
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_gates_") as tmp:
        arms = [run_arm(Path(tmp), args.evals, args.slots, gated) for gated in (True, False)]
    gated, ungated = arms
    same = gated["points"] == ungated["points"] and gated["best"] == ungated["best"]
    for a in arms:
        a.pop("points")
    summary = {
        "command": "python -m benchmarks.bench_gates " + " ".join(argv or sys.argv[1:]),
        "load_before": load, "load_after": os.getloadavg(), "arms": arms,
        "same_points_and_best": same,
        "exploding_fraction": ungated["exploding"] / max(ungated["evaluations"], 1),
        "aborted_cost_vs_finished": (gated["median_exploding_runtime_s"]
                                     / gated["median_ok_runtime_s"]),
        "cpu_ratio_gated_vs_ungated": gated["cpu_s"] / ungated["cpu_s"],
    }
    text = json.dumps(summary, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
