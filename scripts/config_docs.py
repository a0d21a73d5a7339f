#!/usr/bin/env python3
"""Write the key tables of docs/config.md from the config's dataclasses (the one source of truth).

Each table sits between two markers in docs/config.md::

    <!-- generated: OptimizerConfig -->
    | key | type | default | meaning |
    ...
    <!-- end generated -->

and so does the example of an unknown-key error (``<!-- generated: example-error -->``), which is
produced by validating a config with a typo. ``python scripts/config_docs.py`` rewrites the
tables; ``--check`` exits 1 (naming the section) when docs/config.md and the code differ, which
``tests/test_docs.py`` asserts never happens.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "config.md"
sys.path.insert(0, str(ROOT))

_BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)",
                    re.DOTALL)


def _example_error() -> list[str]:
    from orchestrator.config import ConfigError, config_from_dict

    raw = {"parameters": {"a": [0.0, 1.0], "b": [0.0, 1.0]},
           "targets": [{"class": "ValueTarget", "value": "x", "target_value": 1.0, "norm": 1.0}],
           "evaluator": {"kind": "v1_sheet"}, "optimizer": {"sigma0": 0.2}}
    try:
        config_from_dict(raw)
    except ConfigError as exc:
        text = f"simtune: {exc}"
    else:  # pragma: no cover - the typo must be refused
        raise AssertionError("a config with optimizer.sigma0 validated")
    head, _, tail = text.partition(", found ")
    keys = head.split(", ")
    short = ", ".join(keys[:2]) + ", ..., found " + tail  # two keys, then the rest elided
    return ["```", short, "```"]


def tables() -> dict[str, list[str]]:
    """Section name -> the lines between its markers."""
    from orchestrator import config
    from orchestrator.config.schema import key_table

    out = {name: key_table(getattr(config, name)) for name in (
        "TopLevel", "TargetEntry", "OptimizerConfig", "ExecutorConfig", "SlurmConfig",
        "GateEntry", "CleanupConfig")}
    out["example-error"] = _example_error()
    return out


def render(text: str) -> tuple[str, list[str]]:
    """``text`` with every generated block replaced; the names of the blocks that changed."""
    want = tables()
    changed: list[str] = []
    seen: set[str] = set()

    def sub(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in want:
            raise SystemExit(f"docs/config.md: unknown generated block {name!r}")
        seen.add(name)
        body = "\n".join(want[name]) + "\n"
        if body != m.group("body"):
            changed.append(name)
        return m.group(1) + body + m.group(4)

    new = _BLOCK.sub(sub, text)
    missing = sorted(set(want) - seen)
    if missing:
        raise SystemExit(f"docs/config.md: no generated block for {', '.join(missing)}")
    return new, changed


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    new, changed = render(text)
    if "--check" in argv:
        if changed:
            print(f"docs/config.md differs from the code in: {', '.join(changed)} "
                  "(run: python scripts/config_docs.py)")
            return 1
        print("docs/config.md: the key tables match the code")
        return 0
    DOC.write_text(new, encoding="utf-8")
    print(f"docs/config.md: {len(changed)} table(s) rewritten" + (
        f" ({', '.join(changed)})" if changed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
