"""A command-line simulator for tests: echoes what it received, then writes a data store.

Usage: python echo_sim.py [--params-file P --seed N --out STORE] [extra args...]
Writes ``received.json`` (argv, the params file's content, the SIMTUNE_* environment) beside the
store, and a rate_sheet store built from parameters whose names contain "a", "b", "c" keys.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.helpers.sims import rate_sheet


def main() -> None:
    params_file = os.environ["SIMTUNE_PARAMS_FILE"]
    with open(params_file) as fh:
        payload = json.load(fh)
    out = Path(os.environ["SIMTUNE_OUT_DIR"])
    received = {"argv": sys.argv[1:], "payload": payload,
                "env": {k: v for k, v in os.environ.items() if k.startswith("SIMTUNE_")}}
    (out / "received.json").write_text(json.dumps(received))
    p = payload["parameters"]
    values = list(p.values())
    rate_sheet({"a": values[0], "b": values[1], "c": 0.8}, out, payload["seed"])


if __name__ == "__main__":
    main()
