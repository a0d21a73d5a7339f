"""The one error a config can give: ``key.path: expected ..., found ...``."""

from __future__ import annotations

from typing import Any

__all__ = ["ConfigError", "found"]


class ConfigError(Exception):
    """A configuration error: ``path: expected ..., found ...`` (the CLI exits 2 on it).

    ``found`` is shown with ``repr`` unless it is a description made by :func:`found`.
    """

    def __init__(self, path: str, expected: str, found: Any) -> None:
        self.path, self.expected, self.found = path, expected, found
        described = isinstance(found, str) and found.startswith("<") and found.endswith(">")
        shown = found[1:-1] if described else repr(found)
        super().__init__(f"{path or 'config'}: expected {expected}, found {shown}")


def found(text: str) -> str:
    """Mark a description (not a value) for :class:`ConfigError`'s ``found``."""
    return f"<{text}>"
