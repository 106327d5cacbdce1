"""The room events' payloads (issue 13, docs/rooms.md): what each may carry, checked before
anything is done with it. Errors name the field, echo the value and say what is allowed,
like every inbound payload (server/validation.py)."""

from __future__ import annotations

import json
import re

from engine.errors import CommandError

# Inbound room events, with the payload each one takes (added to validation.EVENTS).
ROOM_EVENTS = {
    "room-start": "{} (the presenter: a room that follows the session this socket joined)",
    "room-present": '{"room": token, "control": token}',
    "room-end": '{"room": token, "control": token}',
    "room-poll": '{"room": token, "control": token, "question": text, "choices": [text, ...]}',
    "room-reveal": '{"room": token, "control": token}',
    "room-state": '{"room": token, "control": token, "state": object}',
    "room-code": '{"code": text}',
    "room-join": '{"room": token or null, "code": text or null, "last_seq": integer or null,'
                 ' "run": integer or null, "follower": id or null}',
    "room-answer": '{"choice": integer}',
    "room-take": "{} (a follower: the room's run as it is shown, as a session of its own)",
}

# Codes: 6 characters of an alphabet without look-alikes (no 0 O 1 I L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
CODE_ALLOWED = (f"{CODE_LENGTH} letters and digits as the presenter shows them "
                f"({CODE_ALPHABET}; no 0, O, 1, I or L)")
ROOM_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")
TOKEN_ALLOWED = "a room's link token (22 to 64 of A-Z a-z 0-9 _ -), from the join link"
FOLLOWER = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_QUESTION = 200
MAX_CHOICE = 80
MAX_CHOICES = 6
MAX_STATE_BYTES = 2048
MAX_SEQ = 2**53 - 1


def _fields(name: str, payload: object, allowed: tuple[str, ...]) -> dict:
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise CommandError(name, payload, "an object " + ROOM_EVENTS[name])
    for key in payload:
        if key not in allowed:
            raise CommandError(str(key)[:40], payload[key],
                               f"fields of {name}: " + (", ".join(allowed) or "none"))
    return payload


def _token(field: str, value: object, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not ROOM_TOKEN.fullmatch(value):
        raise CommandError(field, value, TOKEN_ALLOWED if field == "room" else
                           "the presenter's control token (kept by the presenter's page)")
    return value


def _int(field: str, value: object, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CommandError(field, value, f"an integer from {low} to {high}, or null")
    return value


def normalize_code(value: object) -> str:
    """A typed code: spaces and dashes ignored, any case; CommandError naming ``code``."""
    if not isinstance(value, str) or len(value) > 40:
        raise CommandError("code", value, CODE_ALLOWED)
    code = re.sub(r"[\s-]", "", value).upper()
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        raise CommandError("code", value, CODE_ALLOWED)
    return code


def control(name: str, payload: object, extra: tuple[str, ...] = ()) -> dict:
    data = _fields(name, payload, ("room", "control", *extra))
    return {"room": _token("room", data.get("room")),
            "control": _token("control", data.get("control")), **{k: data.get(k) for k in extra}}


def validate_empty(name: str, payload: object) -> dict:
    _fields(name, payload, ())
    return {}


def validate_poll(payload: object) -> dict:
    data = control("room-poll", payload, ("question", "choices"))
    question = data["question"]
    if not isinstance(question, str) or not question.strip() or len(question) > MAX_QUESTION:
        raise CommandError("question", question, f"a text of 1 to {MAX_QUESTION} characters")
    choices = data["choices"]
    if not isinstance(choices, list) or not 2 <= len(choices) <= MAX_CHOICES:
        raise CommandError("choices", choices, f"a list of 2 to {MAX_CHOICES} texts")
    for i, choice in enumerate(choices):
        if not isinstance(choice, str) or not choice.strip() or len(choice) > MAX_CHOICE:
            raise CommandError(f"choices[{i}]", choice,
                               f"a text of 1 to {MAX_CHOICE} characters")
    return {**data, "question": question.strip(), "choices": [c.strip() for c in choices]}


def validate_state(payload: object) -> dict:
    data = control("room-state", payload, ("state",))
    state = data["state"]
    if not isinstance(state, dict):
        raise CommandError("state", state, "an object (what the presenter's page shows "
                                           "besides the run, e.g. a lesson step)")
    try:
        size = len(json.dumps(state, separators=(",", ":"), allow_nan=False).encode())
    except (TypeError, ValueError):
        raise CommandError("state", state, "JSON data without NaN or infinities") from None
    if size > MAX_STATE_BYTES:
        raise CommandError("state", f"{size} bytes", f"at most {MAX_STATE_BYTES} bytes of JSON")
    return data


def validate_code(payload: object) -> dict:
    data = _fields("room-code", payload, ("code",))
    return {"code": normalize_code(data.get("code"))}


def validate_room_join(payload: object) -> dict:
    data = _fields("room-join", payload, ("room", "code", "last_seq", "run", "follower"))
    room = _token("room", data.get("room"), required=False)
    code = data.get("code")
    if (room is None) == (code is None):
        raise CommandError("room", room, "a room token (from the join link) or a code, "
                                         "one of the two")
    follower = data.get("follower")
    if follower is not None and (not isinstance(follower, str)
                                 or not FOLLOWER.fullmatch(follower)):
        raise CommandError("follower", follower,
                           "null or an id of 8 to 64 of A-Z a-z 0-9 _ - (kept by the page)")
    return {"room": room, "code": None if code is None else normalize_code(code),
            "last_seq": _int("last_seq", data.get("last_seq"), 0, MAX_SEQ),
            "run": _int("run", data.get("run"), 1, MAX_SEQ), "follower": follower}


def validate_answer(payload: object) -> dict:
    data = _fields("room-answer", payload, ("choice",))
    if "choice" not in data:
        raise CommandError("choice", None, f"an integer from 0 to {MAX_CHOICES - 1}")
    return {"choice": _int("choice", data["choice"], 0, MAX_CHOICES - 1)}
