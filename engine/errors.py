"""Errors raised for bad configuration values and bad commands.

Every error names the field, the value that was given and what is allowed, so a CLI user,
a socket client or a test can tell at once what to fix.
"""

from __future__ import annotations

import math
import reprlib

_SHORT = reprlib.Repr()
_SHORT.maxstring = 60
_SHORT.maxother = 60
_SHORT.maxlong = 40
_SHORT.maxlevel = 3


def brief(value: object) -> object:
    """``value`` made short and safe for any JSON parser: the one value shortener.

    Scalars stay themselves (a string cut to 60 characters); NaN and infinities, which
    Python's JSON accepts and browsers do not, become strings; a huge integer, a
    container or any other object becomes a short repr (never fails: a list nested
    thousands deep or an integer too long to print are described, not printed).
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**64 else _short_repr(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value[:60]
    return _short_repr(value)


def _short_repr(value: object) -> str:
    try:
        text = _SHORT.repr(value)
    except (RecursionError, ValueError):  # ValueError: an int too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(text: str) -> str:
    """``text`` with control characters escaped, so a message is always one line (a
    field name can be any key a client sent)."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


class EngineError(ValueError):
    """Base of every error the engine raises for bad input."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        shown = brief(value)
        shown = shown if isinstance(shown, str) and not isinstance(value, str) else repr(shown)
        super().__init__(f"{_one_line(str(field))}: got {shown}; allowed: {allowed}")

    def as_dict(self) -> dict:
        """The one error shape of the CLI, the socket and the tests, safe for any JSON
        parser; an empty field name (an empty key) is shown as ``""``."""
        return {"field": self.field or '""', "value": brief(self.value),
                "allowed": self.allowed, "message": str(self)}


class ConfigError(EngineError):
    """A configuration value is missing, of the wrong type or out of range."""


class CommandError(EngineError):
    """A command (or one of its fields) is unknown or out of range."""
