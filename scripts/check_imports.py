#!/usr/bin/env python3
"""The import contract (docs/architecture.md), checked over the code's ``ast`` by ``make lint``.

Data flows config -> optimizer -> executor -> evaluator -> targets -> results; imports run
against the flow:

* ``simtune_core`` imports nothing of simtune;
* ``targets`` imports only ``simtune_core``;
* ``evaluators`` imports only ``targets`` and ``simtune_core`` (never ``orchestrator``);
* only the CLI (``orchestrator.cli``, ``orchestrator.__main__``) imports the controller;
* no module imports a private (``_name``) module of another top-level package.

Every import that runs counts, also one inside a function (``if TYPE_CHECKING:`` imports are
annotations and do not). Exit status 1 and one line per violation
(``file:line: what``) when the contract is broken.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("simtune_core", "targets", "evaluators", "orchestrator")
#: top-level package -> the project's packages it may import (itself always)
ALLOWED = {
    "simtune_core": set(),
    "targets": {"simtune_core"},
    "evaluators": {"targets", "simtune_core"},
    "orchestrator": {"evaluators", "targets", "simtune_core"},
}
CONTROLLER = "orchestrator.controller"
CONTROLLER_USERS = {"orchestrator.cli", "orchestrator.__main__"}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _typing_only(tree: ast.AST) -> set[int]:
    """Line numbers of imports under ``if TYPE_CHECKING:`` (they never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            for sub in node.body:
                for inner in ast.walk(sub):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        lines.add(inner.lineno)
    return lines


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, imported module) for every import in ``tree`` that runs (relative ones resolved;
    imports under ``if TYPE_CHECKING:`` are annotations, not imports)."""
    skip = _typing_only(tree)
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append((node.lineno, name))
            out += [(node.lineno, f"{name}.{a.name}") for a in node.names]
    return out


def violations(root: Path = ROOT) -> list[str]:
    """Every breach of the contract under ``root``, one line each."""
    found = []
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            module = _module_name(path, root)
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for line, name in _imports(tree, module, path.name == "__init__.py"):
                top = name.split(".")[0]
                where = f"{path.relative_to(root)}:{line}"
                if top in PACKAGES and top != pkg and top not in ALLOWED[pkg]:
                    found.append(f"{where}: {pkg} must not import {top} ({name})")
                if top in PACKAGES and top != pkg and any(
                        p.startswith("_") and not p.startswith("__")
                        for p in name.split(".")[1:2]):
                    found.append(f"{where}: private module of another package ({name})")
                if (name == CONTROLLER or name.startswith(CONTROLLER + ".")) and \
                        module not in CONTROLLER_USERS and module != CONTROLLER:
                    found.append(f"{where}: only the CLI imports the controller ({module})")
    return sorted(set(found))


def main() -> int:
    bad = violations()
    for line in bad:
        print(line)
    if bad:
        print(f"import contract: {len(bad)} violation(s) (docs/architecture.md)")
        return 1
    print("import contract: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
