"""Import the user's own modules (targets, evaluator functions) that live beside a config.

The mozaik tool keeps ``targets.py``, ``evaluator.py`` and ``utils.py`` in the optimisation
folder, and users of simtune do the same. Two rules keep them from clashing with simtune's own
top-level packages (``targets``, ``evaluators``, ``orchestrator``, ``simtune_core``):

1. A config's folder is **appended** to ``sys.path`` (:func:`add_user_dir`), never put first: a
   user's ``targets.py`` that says ``from targets import Target`` gets simtune's package, and its
   other imports (``import utils``) find the user's files.
2. A ``"module:Name"`` reference whose top-level module is one of simtune's package names *and*
   exists as a file or package in a user folder (``class: targets:MyTarget`` with a ``targets.py``
   beside the config) is loaded **from that file**, under the private name ``simtune_user.<module>``
   (:func:`import_object`), so simtune's package is never shadowed and the user's file is never
   hidden.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import Any

__all__ = ["RESERVED", "USER_PACKAGE", "add_user_dir", "demote_cwd", "import_module",
           "import_object", "user_dirs"]

#: simtune's own top-level package names
RESERVED = frozenset({"targets", "evaluators", "orchestrator", "simtune_core"})
#: the package user modules with a reserved name are loaded under
USER_PACKAGE = "simtune_user"

_DIRS: list[str] = []


def add_user_dir(path: str | Path) -> None:
    """Make the modules in ``path`` importable (appended to ``sys.path``; see rule 1)."""
    p = str(Path(path).resolve())
    if p not in _DIRS:
        _DIRS.append(p)
    if p not in sys.path:
        sys.path.append(p)


def demote_cwd() -> None:
    """Move the working directory from the front of ``sys.path`` to its end.

    ``python -m ...`` (a job process started by submitit, ``python -m orchestrator``) puts the
    working directory first; run from a model's folder, its ``targets.py`` would then hide
    simtune's ``targets`` package. Called before anything of simtune beyond this module is
    imported; the folder stays importable, after simtune's packages.
    """
    here = {"", os.getcwd()}
    try:
        here.add(os.path.realpath(os.getcwd()))
    except OSError:  # pragma: no cover - a removed working directory
        pass
    moved = [p for p in sys.path[:1] if p in here or os.path.realpath(p or ".") in here]
    for p in moved:
        sys.path.remove(p)
        sys.path.append(p)


def user_dirs() -> list[str]:
    """The folders added by :func:`add_user_dir`, first added first."""
    return list(_DIRS)


def _user_file(top: str) -> tuple[Path, bool] | None:
    """The user's file or package called ``top``, if a user folder has one that is not
    simtune's own package (a config at the repository's root sees simtune's ``targets/``)."""
    own = Path(importlib.import_module(top).__file__ or "").resolve()
    for d in _DIRS:
        pkg = Path(d) / top / "__init__.py"
        if pkg.is_file():
            found = pkg, True
        elif (Path(d) / f"{top}.py").is_file():
            found = Path(d) / f"{top}.py", False
        else:
            continue
        if found[0].resolve() != own:
            return found
    return None


def _load_by_path(top: str, path: Path, is_package: bool) -> types.ModuleType:
    name = f"{USER_PACKAGE}.{top}"
    if name in sys.modules:
        return sys.modules[name]
    if USER_PACKAGE not in sys.modules:
        parent = types.ModuleType(USER_PACKAGE, "user modules whose names are simtune's own")
        parent.__path__ = []
        sys.modules[USER_PACKAGE] = parent
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[str(path.parent)] if is_package else None)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def import_module(name: str) -> types.ModuleType:
    """Import ``name``; a reserved top-level name found in a user folder loads the user's file."""
    top, _, rest = name.partition(".")
    if top in RESERVED:
        found = _user_file(top)
        if found is not None:
            module = _load_by_path(top, *found)
            if not rest:
                return module
            return importlib.import_module(f"{USER_PACKAGE}.{name}")
    return importlib.import_module(name)


def import_object(ref: str) -> Any:
    """The object ``"module.path:Name"`` refers to.

    Raises
    ------
    ImportError
        ``ref`` is not ``module:Name``, the module cannot be imported (the message names the
        module and the error), or it has no ``Name``.
    """
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ImportError(f"expected 'module:name', found {ref!r}")
    try:
        module = import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is reported the same way
        raise ImportError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    if not hasattr(module, attr):
        raise ImportError(f"{module_name!r} ({getattr(module, '__file__', '?')}) has no "
                          f"{attr!r}")
    return getattr(module, attr)
