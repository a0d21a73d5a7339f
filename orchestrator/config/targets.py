"""The ``targets`` section: one entry per target, each checked as far as it can be at load."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from orchestrator.config.errors import ConfigError, found
from orchestrator.config.sections import TargetConfig, TargetEntry

__all__ = ["MAX_SCORE", "TARGET_KEYS", "number", "parse_targets"]

#: the keys of a target entry that are not options of its class
TARGET_KEYS = TargetEntry.keys()
#: the default cap of a target's score
MAX_SCORE = float(next(f.default for f in dataclasses.fields(TargetEntry)
                       if f.name == "max_score"))  # type: ignore[arg-type]


def number(value: Any, path: str, expected: str = "a number") -> float:
    """``value`` as a finite float, or a :class:`ConfigError` at ``path``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(path, expected, value)
    return float(value)


def parse_targets(data: Any, base_dir: Path, has_reference: bool = False
                  ) -> tuple[TargetConfig, ...]:
    """Validate the ``targets`` list: each entry's class, options (checked by building the
    target once), kind against the shape of its target value, norm, cap, sheet and name."""
    import targets as targets_pkg
    from simtune_core.options import option_names

    if not isinstance(data, list) or not data:
        raise ConfigError("targets", "a non-empty list of targets", data)
    out: list[TargetConfig] = []
    names: set[str] = set()
    for i, entry in enumerate(data):
        p = f"targets[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(p, "a mapping with class, target_value, norm", entry)
        if "class" not in entry:
            raise ConfigError(f"{p}.class", "a target class name (required)", found("nothing"))
        if not isinstance(entry["class"], str):
            raise ConfigError(f"{p}.class", "a target class name", entry["class"])
        try:
            cls = targets_pkg.resolve_target_class(entry["class"])
        except LookupError as exc:
            raise ConfigError(f"{p}.class", str(exc).split(", found")[0],
                              entry["class"]) from None
        allowed = {k: v for k, v in option_names(cls).items() if k != "sheet_name"}
        options = {k: v for k, v in entry.items() if k not in TARGET_KEYS}
        for k in options:
            if k not in allowed:
                valid = ", ".join(list(TARGET_KEYS) + [f"{n} (default {d!r})"
                                                      for n, d in allowed.items()])
                raise ConfigError(f"{p}.{k}", f"one of the keys of {cls.__name__}: {valid}",
                                  found("an unknown key"))
        if "base_dir" in allowed and "base_dir" not in options:
            options["base_dir"] = str(base_dir)
        tv = entry.get("target_value")
        if isinstance(tv, list):
            if len(tv) != 2:
                raise ConfigError(f"{p}.target_value", "a number or [low, high]", tv)
            lo = number(tv[0], f"{p}.target_value[0]")
            hi = number(tv[1], f"{p}.target_value[1]")
            if lo > hi:
                raise ConfigError(f"{p}.target_value", "[low, high] with low <= high", tv)
            target_value: float | tuple[float, float] = (lo, hi)
            kind = "range"
        elif "target_value" not in entry:
            if not (cls.uses_parameters or has_reference):
                raise ConfigError(f"{p}.target_value", "a number or [low, high] (required "
                                  "unless a reference run sets it)", found("nothing"))
            target_value, kind = 0.0, str(entry.get("kind", cls.kind))
        else:
            target_value = number(tv, f"{p}.target_value", "a number or [low, high]")
            kind = entry.get("kind", cls.kind)
        if "kind" in entry and isinstance(tv, list) and entry["kind"] != "range":
            raise ConfigError(f"{p}.kind", "'range' for a [low, high] target value", entry["kind"])
        if kind not in targets_pkg.KINDS:
            raise ConfigError(f"{p}.kind", f"one of {list(targets_pkg.KINDS)}", kind)
        if kind == "range" and not isinstance(target_value, tuple) and "target_value" in entry:
            how = "kind: range" if "kind" in entry else f"{cls.__name__}'s default kind range"
            raise ConfigError(f"{p}.target_value", f"[low, high] for {how} (or give another "
                              f"kind: {', '.join(k for k in targets_pkg.KINDS if k != 'range')})",
                              tv)
        if "norm" not in entry:
            raise ConfigError(f"{p}.norm", "a number > 0 (required)", found("nothing"))
        norm = number(entry["norm"], f"{p}.norm", "a number > 0")
        if norm <= 0:
            raise ConfigError(f"{p}.norm", "a number > 0", entry["norm"])
        max_score = number(entry.get("max_score", MAX_SCORE), f"{p}.max_score", "a number > 0")
        if max_score <= 0:
            raise ConfigError(f"{p}.max_score", "a number > 0", entry["max_score"])
        sheet = entry.get("sheet_name")
        if sheet is not None and not isinstance(sheet, str):
            raise ConfigError(f"{p}.sheet_name", "a string", sheet)
        if cls.needs_sheet and not sheet:
            raise ConfigError(f"{p}.sheet_name", f"a sheet name ({cls.__name__} needs one)",
                              found("nothing"))
        name = entry.get("name") or (f"{cls.__name__}" + (f"[{sheet}]" if sheet else ""))
        if not isinstance(name, str):
            raise ConfigError(f"{p}.name", "a string", name)
        if name in names:
            if "name" in entry:
                raise ConfigError(f"{p}.name", "a name no other target has", name)
            k = 2
            while f"{name}#{k}" in names:
                k += 1
            name = f"{name}#{k}"
        names.add(name)
        try:  # construct once: bad option values and missing files fail here
            cls(**({"sheet_name": sheet} if "sheet_name" in option_names(cls) else {}), **options)
        except Exception as exc:  # noqa: BLE001 - any constructor error is a config error
            raise ConfigError(p, f"valid options for {cls.__name__}",
                              found(f"{type(exc).__name__}: {exc}")) from None
        out.append(TargetConfig(name, entry["class"], kind, target_value, norm, max_score,
                                sheet, options))
    return tuple(out)
