"""The run configuration: YAML validated into frozen dataclasses (docs/config.md).

* :mod:`.sections` -- every option, declared once (type, default, meaning, check);
* :mod:`.schema` -- the generic validation of a section and the docs' key tables;
* :mod:`.targets` -- the ``targets`` entries; :mod:`.load` -- the YAML file and the rest;
* :mod:`.errors` -- :class:`ConfigError`: ``key.path: expected ..., found ...``.

The validator is hand-written on purpose: the product's promise is one line naming the key
path, what was expected and what was found (a 75-config corpus pins the messages:
``tests/reliability/test_bad_input.py``). pydantic v2 reports ``Input should be ...`` per error
location; translating its error types back into these lines would cost as much code as the
validator itself, and would still need the checks pydantic cannot express (a target's class
options from its signature, a pycma ES built once, expressions evaluated at the centroid).
"""

from __future__ import annotations

from orchestrator.config.errors import ConfigError
from orchestrator.config.load import Config, config_from_dict, load_config
from orchestrator.config.sections import (
    CleanupConfig,
    EvaluatorConfig,
    ExecutorConfig,
    GateEntry,
    OptimizerConfig,
    ReferenceConfig,
    SlurmConfig,
    TargetConfig,
    TargetEntry,
    TopLevel,
)
from orchestrator.config.targets import MAX_SCORE, TARGET_KEYS

__all__ = [
    "MAX_SCORE",
    "TARGET_KEYS",
    "CleanupConfig",
    "Config",
    "ConfigError",
    "EvaluatorConfig",
    "ExecutorConfig",
    "GateEntry",
    "OptimizerConfig",
    "ReferenceConfig",
    "SlurmConfig",
    "TargetConfig",
    "TargetEntry",
    "TopLevel",
    "config_from_dict",
    "load_config",
]
