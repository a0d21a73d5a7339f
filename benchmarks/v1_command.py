"""The embedded V1 model as an external simulator (``evaluator: {kind: command}``), for
benchmarks/bench_gates.py: it reads ``$SIMTUNE_PARAMS_FILE`` and runs
:func:`evaluators.models.v1_sheet.simulate` with ``spontaneous_first`` (it publishes its check and
spontaneous segments as it goes and never stops itself on an explosion, like a user's NEST or
NEURON script that writes its store segment by segment).

    python benchmarks/v1_command.py          # inside a simtune evaluation
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from evaluators.models import v1_sheet


def main() -> None:
    payload = json.loads(Path(os.environ["SIMTUNE_PARAMS_FILE"]).read_text())
    protocol = json.loads(os.environ.get("V1_PROTOCOL", "{}"))
    v1_sheet.simulate(payload["parameters"], payload["datastore"], seed=int(payload["seed"]),
                      protocol={"spontaneous_first": True, **protocol})


if __name__ == "__main__":
    main()
