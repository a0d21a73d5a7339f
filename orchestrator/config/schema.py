"""Config sections as dataclasses: one declaration per option, read by the validator and the docs.

A section is a frozen dataclass. Each field declares, once, the option's type (its annotation),
its default, its documentation and, optionally, a value check::

    offspring_size: int = option(12, "evaluations per generation", check=(at_least(1), ...))

:func:`build` validates a mapping into a section -- unknown keys (listing the valid ones with
their defaults), types, checks -- and raises :class:`~orchestrator.config.errors.ConfigError`
with the key path; :func:`key_table` renders the section's rows of ``docs/config.md``
(``scripts/config_docs.py`` writes them, a test fails when docs and code differ).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Callable, Union

from orchestrator.config.errors import ConfigError, found

__all__ = ["Check", "build", "default_of", "key_table", "option", "type_name"]

#: a value check: (predicate, what was expected)
Check = tuple[Callable[[Any], bool], str]

_NO_DEFAULT = dataclasses.MISSING


def option(default: Any = _NO_DEFAULT, doc: str = "", *, check: Check | None = None,
           type_doc: str | None = None, default_doc: str | None = None,
           factory: Callable[[], Any] | None = None, key: str | None = None) -> Any:
    """A dataclass field for a config option.

    Parameters
    ----------
    default
        The default (omit for a required option; use ``factory`` for mappings and lists).
    doc
        What the option means (the docs' "meaning" column).
    check
        ``(predicate, expected)``: the value must satisfy ``predicate``; else the error says
        ``expected`` (also the docs' "type" column unless ``type_doc`` is given).
    type_doc, default_doc
        The docs' "type" / "default" text where the annotation or the value does not say it
        (a default computed at run time, say).
    key
        The YAML key, where it differs from the field's name (``class``, a Python keyword).
    """
    meta = {"doc": doc, "check": check, "type_doc": type_doc, "default_doc": default_doc,
            "key": key}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    if default is _NO_DEFAULT:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def type_name(tp: Any) -> str:
    """How an annotation reads in an error message (``"an integer or null"``)."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(type_name(a) for a in args) + " or null"
    if tp is float:
        return "a number"
    if tp is int:
        return "an integer"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    if origin is list:
        return "a list of strings"
    if origin is dict:
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], path)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin is list:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    elif origin is dict:
        if isinstance(value, dict):
            return dict(value)
    elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return build(tp, value, path)
    raise ConfigError(path, type_name(tp), value)


def default_of(f: dataclasses.Field[Any]) -> Any:
    """A field's default as the error message lists it (``"required"``, ``{}`` for a section)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        d = f.default_factory()
        return "{}" if dataclasses.is_dataclass(d) else d
    return "required"


def build(cls: type, data: Any, path: str) -> Any:
    """Build the section ``cls`` from the mapping ``data`` (``None``: every default): unknown
    keys, types and each field's check, every error a :class:`ConfigError` at ``path.key``."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, "a mapping", data)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            valid = ", ".join(f"{n} (default {default_of(f)})" for n, f in fields.items())
            raise ConfigError(f"{path}.{key}" if path else str(key),
                              f"one of the keys: {valid}", found("an unknown key"))
    kwargs = {}
    for name, f in fields.items():
        sub = f"{path}.{name}" if path else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(sub, f"{type_name(hints[name])} (required)", found("nothing"))
            continue
        value = _coerce(data[name], hints[name], sub)
        check = f.metadata.get("check")
        if check is not None and not check[0](value):
            raise ConfigError(sub, check[1], data[name])
        kwargs[name] = value
    return cls(**kwargs)


def _doc_default(f: dataclasses.Field[Any]) -> str:
    if f.metadata.get("default_doc"):
        return str(f.metadata["default_doc"])
    d = default_of(f)
    if d == "required":
        return "required"
    if d is None:
        return "null"
    if isinstance(d, bool):
        return str(d).lower()
    if isinstance(d, str):
        return f"`{d}`"
    if isinstance(d, (dict, list)) and not d:
        return "`{}`" if isinstance(d, dict) else "`[]`"
    return f"{d:g}" if isinstance(d, float) else str(d)


def key_table(cls: type) -> list[str]:
    """The Markdown table of a section's keys: key, type, default, meaning."""
    hints = typing.get_type_hints(cls)
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        meta = f.metadata
        check = meta.get("check")
        typ = meta.get("type_doc") or (check[1] if check else type_name(hints[f.name]))
        for article in ("an ", "a "):
            typ = typ.removeprefix(article)
        key = meta.get("key") or f.name
        rows.append(f"| `{key}` | {typ} | {_doc_default(f)} | {meta.get('doc', '')} |")
    return rows
