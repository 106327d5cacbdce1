"""Errors raised for bad configuration values and bad commands.

Every error names the field, the value that was given and what is allowed, so a CLI user,
a socket client or a test can tell at once what to fix.
"""


class EngineError(ValueError):
    """Base of every error the engine raises for bad input."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        shown = _short_repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        super().__init__(f"{field}: got {shown}; allowed: {allowed}")

    def as_dict(self) -> dict:
        value = self.value
        if not isinstance(value, (int, float, str, bool, type(None))) or (
                isinstance(value, int) and abs(value) > 2**64):  # JSON-safe, and short
            value = _short_repr(value)[:60]
        elif isinstance(value, str):
            value = value[:60]
        return {"field": self.field, "value": value, "allowed": self.allowed,
                "message": str(self)}


class ConfigError(EngineError):
    """A configuration value is missing, of the wrong type or out of range."""


class CommandError(EngineError):
    """A command (or one of its fields) is unknown or out of range."""


def _short_repr(value: object) -> str:
    """repr() that cannot fail: a payload nested thousands deep overflows repr's recursion."""
    try:
        return repr(value)
    except (RecursionError, ValueError):  # ValueError: an int too long to print
        return f"<{type(value).__name__}>"
