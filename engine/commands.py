"""Commands that change a running simulation, checked before they are applied.

A command is a small dict: ``{"cmd": "create-order", "amount": 100}``. The normalized form
(defaults filled in, nothing extra) is what the command log records, so a replay applies
exactly what the original run applied.
"""

from __future__ import annotations

from .config import MAX_AMOUNT, check_float, check_int, check_point
from .errors import CommandError
from .names import MODES

COMMANDS = {
    "create-order": "send a new order: {amount?: integer 1..10^12}",
    "set-failure": "switch a failure point: {point, mode?: off|next|on, probability?: 0..1}",
    "set-credit-limit": "set the customer's credit limit: {credit_limit: integer 0..10^12}",
}

_FIELDS = {
    "create-order": {"amount"},
    "set-failure": {"point", "mode", "probability"},
    "set-credit-limit": {"credit_limit"},
}


def normalize_command(command: object) -> dict:
    """Validate a command and return its normalized form, or raise CommandError."""
    if not isinstance(command, dict):
        raise CommandError("command", command, 'an object like {"cmd": "create-order"}')
    name = command.get("cmd")
    if not isinstance(name, str) or name not in COMMANDS:  # a list or dict is unhashable
        raise CommandError("cmd", name, "one of " + ", ".join(COMMANDS))
    for key in command:
        if key != "cmd" and key not in _FIELDS[name]:
            raise CommandError(str(key)[:40], command[key],
                               f"fields of {name}: " + (", ".join(sorted(_FIELDS[name]))
                                                        or "none"))
    if name == "create-order":
        result: dict = {"cmd": name}
        if "amount" in command:
            result["amount"] = check_int("amount", command["amount"], 1, MAX_AMOUNT, CommandError)
        return result
    if name == "set-failure":
        point = check_point("point", command.get("point"), CommandError)
        result = {"cmd": name, "point": point}
        if "mode" not in command and "probability" not in command:
            raise CommandError("mode", None, "mode (off|next|on) and/or probability (0..1)")
        if "mode" in command:
            if command["mode"] not in MODES:
                raise CommandError("mode", command["mode"], "one of " + ", ".join(MODES))
            result["mode"] = command["mode"]
        if "probability" in command:
            result["probability"] = check_float("probability", command["probability"], 0.0,
                                                1.0, CommandError)
        return result
    # set-credit-limit
    if "credit_limit" not in command:
        raise CommandError("credit_limit", None, f"an integer from 0 to {MAX_AMOUNT}")
    return {"cmd": name, "credit_limit": check_int("credit_limit", command["credit_limit"], 0,
                                                   MAX_AMOUNT, CommandError)}
