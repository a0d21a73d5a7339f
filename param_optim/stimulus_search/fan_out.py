"""One stimulus search per neuron group, as separate runs (``stimulus_search`` example).

Writes ``search_<mode>_<group>.yaml`` beside this file (where the configs find ``stimulus.py``
and ``stim_targets.py``) from ``stimulus_search.yaml`` — ``mode``
``mei`` (most exciting input: maximise the group's rate) or ``mds`` (most discriminative stimulus:
OpenRetina's ``-log((K + 1) softmax(z / tau)[0])`` of the group against the K others) — and, with
``--run``, runs them one after the other (each run evaluates its generation in parallel)::

    python param_optim/stimulus_search/fan_out.py --mode mds --tau 1.6 --run

On SLURM, write the configs and run one controller per group as an array job; each controller
then submits its own evaluation arrays (``executor.kind: slurm``) or runs them in its allocation
(``local``)::

    python param_optim/stimulus_search/fan_out.py --mode mds
    sbatch --array=0-3 --time=02:00:00 --cpus-per-task=8 \\
        --wrap 'simtune run param_optim/stimulus_search/search_mds_ori${SLURM_ARRAY_TASK_ID}.yaml'
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent


def group_config(base: dict[str, Any], mode: str, group: int, n_groups: int,
                 tau: float) -> dict[str, Any]:
    """The template config turned into the search for ``ori<group>``."""
    cfg = copy.deepcopy(base)
    name = f"ori{group}"
    cfg["name"] = f"stimulus_{mode}_{name}"
    cfg.setdefault("evaluator", {}).setdefault("options", {})["n_groups"] = n_groups
    if mode == "mei":
        cfg["targets"] = [{"name": f"rate_{name}", "class": "stim_targets:GroupRateTarget",
                           "sheet_name": name, "target_value": 100.0, "norm": 1.0,
                           "max_score": 1000}]
    else:
        others = [f"ori{k}" for k in range(n_groups) if k != group]
        cfg["targets"] = [{"name": f"mds_{name}", "class": "stim_targets:DiscriminationTarget",
                           "sheet_name": name, "others": others, "tau": tau,
                           # the best possible value: the group alone responds
                           "target_value": -math.log(len(others) + 1), "kind": "exact",
                           "norm": 0.1, "max_score": 1000}]
    return cfg


def write_configs(mode: str, n_groups: int, tau: float, out: Path,
                  base_path: Path = HERE / "stimulus_search.yaml",
                  updates: dict[str, Any] | None = None) -> list[Path]:
    """Write one config per group into ``out`` (the folder of ``stimulus.py``: a config's folder
    is where simtune finds its modules)."""
    base = yaml.safe_load(base_path.read_text())
    for key, value in (updates or {}).items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for g in range(n_groups):
        p = out / f"search_{mode}_ori{g}.yaml"
        p.write_text(yaml.safe_dump(group_config(base, mode, g, n_groups, tau), sort_keys=False))
        paths.append(p)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["mei", "mds"], default="mds")
    ap.add_argument("--groups", type=int, default=4, help="number of orientation groups")
    ap.add_argument("--tau", type=float, default=1.6, help="MDS softmax temperature (Hz)")
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--run", action="store_true", help="run the searches one after the other")
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    args = ap.parse_args(argv)
    paths = write_configs(args.mode, args.groups, args.tau, args.out)
    for p in paths:
        print(p)
    if not args.run:
        return 0
    sys.path.insert(0, str(HERE.parents[1]))  # the repository, for `orchestrator`
    from orchestrator.cli import main as simtune

    worst = 0
    for p in paths:
        worst = max(worst, simtune(["run", str(p), "--run-dir", str(args.runs_dir / p.stem)]))
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
