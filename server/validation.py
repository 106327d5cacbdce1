"""Inbound validation: event names, payload types, ranges and sizes of what a client sends.

Pure: no Flask, no sockets, no clock. Each ``validate_*`` function returns a normalized
dict (defaults filled in, nothing extra) or raises ``CommandError`` naming the field, the
value given and what is allowed. The engine's own commands are checked once, by the engine
as it applies them: here they only pass the size and shape checks every payload passes.
"""

from __future__ import annotations

import json
import math
import re

from engine import COMMANDS as ENGINE_COMMANDS
from engine import Config, normalize_command, preset_config
from engine.config import MAX_SEED, check_int
from engine.errors import CommandError, EngineError
from engine.history import MAX_HISTORY_EVENTS
from engine.names import FAILURE_POINTS
from engine.presets import PRESETS
from engine.runfile import load_run

# Inbound events a client may send, with the payload each one takes.
EVENTS = {
    "join": '{"session": token or null, "last_seq": integer or null, "run": integer or null}',
    "command": '{"cmd": NAME, ...fields}',
    "ack": '{"seq": integer, "run": integer or null}',
}

# Commands of the ``command`` event: the session's own, then the engine's (checked by it).
SESSION_COMMANDS = ("scenario", "seed", "play", "pause", "step", "speed", "reset",
                    # Time (issue 10): history, seek, forks, run files.
                    "seek", "live", "step-back", "fork", "export", "import", "history")
COMMAND_NAMES = (*SESSION_COMMANDS[:2], *ENGINE_COMMANDS, *SESSION_COMMANDS[2:])

SPEED_MIN = 0.05
SPEED_MAX = 200.0
MAX_SEQ = 2**53 - 1  # JavaScript's largest exact integer: seqs and runs travel as JSON numbers
MAX_PAYLOAD_BYTES = 4096  # JSON size of one inbound payload; no command needs more
# ... but import, which carries a run file: what fits in one engine.io message (16 KB,
# server/factory.py MAX_HTTP_BUFFER) with room for the frame around it.
MAX_IMPORT_BYTES = 15 * 1024
MAX_FORK_COMMANDS = 16  # engine commands a fork may apply at its moment
# A run on the server keeps per-order columns in memory: cap what one config may ask for.
SERVER_MAX_ORDERS = 1_000_000
SERVER_MAX_SAMPLES = 1_000_000

_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,64}")
_TOKEN_ALLOWED = "null or a session token (8 to 64 of A-Z a-z 0-9 _ -)"


def payload_size(payload: object) -> int:
    """Bytes of ``payload`` as compact JSON; raises CommandError if it is not JSON data."""
    try:
        text = json.dumps(payload, separators=(",", ":"), allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        raise CommandError("payload", payload, "JSON data (objects, arrays, strings, "
                                                      "numbers, true, false, null)") from None
    return len(text.encode("utf-8"))


def check_size(payload: object, limit: int = MAX_PAYLOAD_BYTES) -> None:
    size = payload_size(payload)
    if size > limit:
        raise CommandError("payload", f"{size} bytes", f"at most {limit} bytes of JSON")


def validate_event(name: object) -> str:
    """The name of a known inbound event, or CommandError naming the ones there are."""
    if not isinstance(name, str) or name not in EVENTS:
        raise CommandError("event", name, "one of " + ", ".join(EVENTS))
    return name


def _object(name: str, payload: object, allowed_keys: tuple[str, ...], shape: str) -> dict:
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise CommandError(name, payload, "an object " + shape)
    for key in payload:
        if key not in allowed_keys:
            raise CommandError(str(key)[:40], payload[key],
                               f"fields of {name}: " + ", ".join(allowed_keys))
    return payload


def _optional_int(name: str, value: object, low: int, high: int) -> int | None:
    return None if value is None else check_int(name, value, low, high, CommandError)


def validate_join(payload: object) -> dict:
    """``join``: which session to join (null: a new one) and the last seq the client has."""
    check_size(payload)
    data = _object("join", payload, ("session", "last_seq", "run"), EVENTS["join"])
    token = data.get("session")
    if token is not None and (not isinstance(token, str) or not _TOKEN.fullmatch(token)):
        raise CommandError("session", token, _TOKEN_ALLOWED)
    return {
        "session": token,
        "last_seq": _optional_int("last_seq", data.get("last_seq"), 0, MAX_SEQ),
        "run": _optional_int("run", data.get("run"), 1, MAX_SEQ),
    }


def validate_ack(payload: object) -> dict:
    """``ack``: the highest seq the client has applied (of run ``run``, if given)."""
    check_size(payload)
    if payload is None:
        raise CommandError("ack", payload, "an object " + EVENTS["ack"])
    data = _object("ack", payload, ("seq", "run"), EVENTS["ack"])
    if "seq" not in data:
        raise CommandError("seq", None, f"an integer from 0 to {MAX_SEQ}")
    return {"seq": check_int("seq", data["seq"], 0, MAX_SEQ, CommandError),
            "run": _optional_int("run", data.get("run"), 1, MAX_SEQ)}


def _speed(value: object) -> float:
    allowed = f"a number from {SPEED_MIN:g} to {SPEED_MAX:g} (virtual seconds per wall second)"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CommandError("speed", value, allowed)
    value = float(value)
    if not math.isfinite(value) or not SPEED_MIN <= value <= SPEED_MAX:
        raise CommandError("speed", value, allowed)
    return value


def _no_fields(name: str, command: dict) -> dict:
    for key in command:
        if key != "cmd":
            raise CommandError(str(key)[:40], command[key], f"fields of {name}: none")
    return {"cmd": name}


def _scenario(command: dict) -> dict:
    for key in command:
        if key not in ("cmd", "name", "seed", "config", "script"):
            raise CommandError(str(key)[:40], command[key],
                               "fields of scenario: name, seed, config, script")
    name = command.get("name")
    if not isinstance(name, str) or name not in PRESETS:
        raise CommandError("name", name, "one of " + ", ".join(PRESETS))
    seed = command.get("seed")
    if seed is not None:
        seed = check_int("seed", seed, 0, MAX_SEED, CommandError)
    overrides = command.get("config")
    if overrides is not None:
        if not isinstance(overrides, dict):
            raise CommandError("config", overrides, "an object of config fields "
                                                    "(docs/protocol.md)")
    config = build_config(name, overrides)
    if seed is None and overrides and "seed" in overrides:
        seed = config.seed  # a seed given among the config fields
    script = command.get("script", True)
    if not isinstance(script, bool):
        raise CommandError("script", script, "true (run the preset's scripted "
                                                    "commands, e.g. its first order) or false")
    return {"cmd": "scenario", "name": name, "seed": seed, "config": config,
            "script": script}


def build_config(scenario: str, overrides: dict | None) -> Config:
    """The scenario's config with ``overrides``, built once: the engine's rules plus the
    server's caps."""
    try:
        config = preset_config(scenario, overrides)
    except EngineError as error:  # ConfigError: re-raise as a command error, same fields
        raise CommandError(error.field, error.value, error.allowed) from None
    if config.orders > SERVER_MAX_ORDERS:
        raise CommandError("config.orders", config.orders,
                           f"an integer from 0 to {SERVER_MAX_ORDERS} on this server")
    if config.samples > SERVER_MAX_SAMPLES:
        raise CommandError("config.samples", config.samples,
                           f"an integer from 0 to {SERVER_MAX_SAMPLES} on this server")
    return config


def validate_command(payload: object) -> dict:
    """``command``: a session command or one of the engine's, normalized."""
    if isinstance(payload, dict) and payload.get("cmd") == "import":
        check_size(payload, MAX_IMPORT_BYTES)
        return _import(payload)
    check_size(payload)
    if not isinstance(payload, dict):
        raise CommandError("command", payload, 'an object like {"cmd": "play"}')
    name = payload.get("cmd")
    if not isinstance(name, str) or name not in COMMAND_NAMES:
        raise CommandError("cmd", name, "one of " + ", ".join(COMMAND_NAMES))
    if name in ENGINE_COMMANDS:
        return payload  # the engine checks its own commands as it applies them
    if name == "scenario":
        return _scenario(payload)
    if name == "seed":
        for key in payload:
            if key not in ("cmd", "seed"):
                raise CommandError(str(key)[:40], payload[key], "fields of seed: seed")
        if "seed" not in payload:
            raise CommandError("seed", None, f"an integer from 0 to {MAX_SEED}")
        return {"cmd": "seed", "seed": check_int("seed", payload["seed"], 0, MAX_SEED,
                                                   CommandError)}
    if name == "speed":
        for key in payload:
            if key not in ("cmd", "speed"):
                raise CommandError(str(key)[:40], payload[key], "fields of speed: speed")
        return {"cmd": "speed", "speed": _speed(payload.get("speed"))}
    if name == "play":
        return _play(payload)
    if name in TIME_COMMANDS:
        return TIME_COMMANDS[name](payload)
    return _no_fields(name, payload)  # pause, step, reset, live, step-back


# -- play until an event (issue 11, lessons) ------------------------------------------------

# The engine's event types (docs/events.md) a play may stop at.
UNTIL_TYPES = (
    "order-created", "message-sent", "message-delivered", "message-lost", "message-forgotten",
    "processing-started", "credit-reserved", "credit-refused", "receiver-crashed",
    "receiver-restarted", "credit-limit-changed", "sample-recorded", "order-state-changed",
    "sender-timeout", "reply-ignored", "call-started", "call-queued", "failure-point-changed",
    "order-consistent", "order-diverged", "invariant-broken", "invariant-restored",
    # the retrying semantics and the sender crash (docs/semantics.md)
    "retry-scheduled", "duplicate-delivered", "duplicate-suppressed", "sender-crashed",
    "sender-restarted",
)
UNTIL_FIELDS = ("type", "order", "leg", "stop")
UNTIL_STOPS = ("after", "before")
UNTIL_ALLOWED = ('an object {"type": EVENT TYPE, "order"?: integer, "leg"?: request|reply, '
                 '"stop"?: after|before}')


def validate_until(until: object, field: str = "until") -> dict:
    """Where a play stops by itself: the first event of a type (of an order, on a leg), right
    after the scheduler step that makes it or right before it."""
    if not isinstance(until, dict):
        raise CommandError(field, until, UNTIL_ALLOWED)
    for key in until:
        if key not in UNTIL_FIELDS:
            raise CommandError(f"{field}.{str(key)[:40]}", until[key],
                               f"fields of {field}: " + ", ".join(UNTIL_FIELDS))
    kind = until.get("type")
    if kind not in UNTIL_TYPES:
        raise CommandError(f"{field}.type", kind, "an event type: " + ", ".join(UNTIL_TYPES))
    order = until.get("order")
    if order is not None:
        order = check_int(f"{field}.order", order, 1, MAX_SEQ, CommandError)
    leg = until.get("leg")
    if leg is not None and leg not in ("request", "reply"):
        raise CommandError(f"{field}.leg", leg, "request or reply")
    stop = until.get("stop", "after")
    if stop not in UNTIL_STOPS:
        raise CommandError(f"{field}.stop", stop, "after (pause right after the event) or "
                                                  "before (pause right before it)")
    return {"type": kind, "order": order, "leg": leg, "stop": stop}


def _play(command: dict) -> dict:
    _fields("play", command, ("until",))
    until = command.get("until")
    return {"cmd": "play", "until": None if until is None else validate_until(until)}


# -- Time (issue 10) ----------------------------------------------------------------------


def _fields(name: str, command: dict, allowed: tuple[str, ...]) -> None:
    for key in command:
        if key != "cmd" and key not in allowed:
            raise CommandError(str(key)[:40], command[key],
                               f"fields of {name}: " + (", ".join(allowed) or "none"))


def _moment(name: str, command: dict, required: bool) -> dict:
    """``seq`` (an event's seq) or ``t`` (a virtual time): one of the two."""
    seq, t = command.get("seq"), command.get("t")
    if seq is not None and t is not None:
        raise CommandError("t", t, f"seq or t, not both: {name} goes to one moment")
    if seq is not None:
        return {"seq": check_int("seq", seq, 0, MAX_SEQ, CommandError), "t": None}
    if t is not None:
        allowed = "a virtual time in seconds, 0 or more"
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) \
                or t < 0:
            raise CommandError("t", t, allowed)
        return {"seq": None, "t": float(t)}
    if required:
        raise CommandError("seq", None, "seq (an event's seq, 0 or more) or t (a virtual "
                                        "time, 0 or more)")
    return {"seq": None, "t": None}


def _seek(command: dict) -> dict:
    _fields("seek", command, ("seq", "t"))
    return {"cmd": "seek", **_moment("seek", command, required=True)}


def _fork(command: dict) -> dict:
    _fields("fork", command, ("commands",))
    given = command.get("commands")
    if given is None:
        given = []
    allowed = (f"a list of at most {MAX_FORK_COMMANDS} engine commands "
               f"({', '.join(ENGINE_COMMANDS)})")
    if not isinstance(given, list) or len(given) > MAX_FORK_COMMANDS:
        raise CommandError("commands", given, allowed)
    commands = []
    for i, one in enumerate(given):
        try:
            commands.append(normalize_command(one))
        except EngineError as error:
            field = f"commands[{i}]" + ("" if error.field == "command" else "." + error.field)
            raise CommandError(field, error.value, error.allowed) from None
    return {"cmd": "fork", "commands": commands}


def _export(command: dict) -> dict:
    _fields("export", command, ("which",))
    which = command.get("which", "current")
    if which not in ("current", "original"):
        raise CommandError("which", which, "current (this run) or original (the run the "
                                           "latest fork was made from)")
    return {"cmd": "export", "which": which}


def _import(command: dict) -> dict:
    """``import``: a run file (docs/runfile.md), checked field by field: errors name the
    field as a path under ``run`` (``run.command_log[3].cmd``)."""
    _fields("import", command, ("run", "seq", "t"))
    moment = _moment("import", command, required=False)
    try:
        config, log, scenario = load_run(command.get("run"))
    except EngineError as error:
        field = "run" if error.field == "file" else "run." + str(error.field)
        raise CommandError(field, error.value, error.allowed) from None
    if config.orders > SERVER_MAX_ORDERS:
        raise CommandError("run.config.orders", config.orders,
                           f"an integer from 0 to {SERVER_MAX_ORDERS} on this server")
    if config.samples > SERVER_MAX_SAMPLES:
        raise CommandError("run.config.samples", config.samples,
                           f"an integer from 0 to {SERVER_MAX_SAMPLES} on this server")
    return {"cmd": "import", "config": config, "command_log": log, "scenario": scenario,
            **moment}


def _history(command: dict) -> dict:
    _fields("history", command, ("from_seq", "to_seq"))
    if "from_seq" not in command:
        raise CommandError("from_seq", None, f"an integer from 0 to {MAX_SEQ}")
    first = check_int("from_seq", command["from_seq"], 0, MAX_SEQ, CommandError)
    last = command.get("to_seq")
    if last is not None:
        last = check_int("to_seq", last, first, MAX_SEQ, CommandError)
    return {"cmd": "history", "from_seq": first, "to_seq": last}


TIME_COMMANDS = {"seek": _seek, "fork": _fork, "export": _export, "history": _history}


def describe() -> dict:
    """The protocol's limits, sent to a client when it joins."""
    return {"speed_min": SPEED_MIN, "speed_max": SPEED_MAX, "max_payload": MAX_PAYLOAD_BYTES,
            "max_import": MAX_IMPORT_BYTES, "history_events": MAX_HISTORY_EVENTS,
            "fork_commands": MAX_FORK_COMMANDS,
            "max_seed": MAX_SEED, "max_orders": SERVER_MAX_ORDERS,
            "commands": list(COMMAND_NAMES), "failure_points": list(FAILURE_POINTS)}
