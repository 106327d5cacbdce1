"""Lessons (issue 11): the seed's story told step by step, from data files a lecturer can write.

``static/lessons/NN-<id>.json`` holds one lesson: its structure (each step's set-up, action,
what to look at, an optional prediction) and its words in every language of the page's
catalogues, inline (``{"en": "...", "de": "..."}``). ``load_lessons`` reads and checks them
all at start-up, with the engine's own validators for the set-ups (presets, config fields,
failure point names); a malformed file is refused with ``LessonError`` naming its file, its
step and the field, e.g. ``static/lessons/03-reply.json: step 2: setup.failures:
'reply-los' is not a failure point``. The words go into the catalogues (``lesson_words``,
merged with ``Catalogues.add``) under ``lesson.<id>.*`` keys; the structure, without words,
is what ``GET /api/lessons`` answers. The schema: docs/lessons.md.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from engine.errors import CommandError, EngineError
from engine.names import FAILURE_POINTS, MODES
from engine.presets import PRESETS, preset_config

from .validation import SPEED_MAX, SPEED_MIN, validate_until

FILE_NAME = re.compile(r"^(\d{2})-([a-z0-9][a-z0-9-]*)\.json$")
ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
MAX_STEPS = 12
MAX_SEND = 50  # orders one step's action may send
LOOK_AT = ("stage", "sender", "receiver", "request-leg", "reply-leg", "steps", "diagram",
           "orders", "alarm", "failures", "call", "metrics", "clock")
LOOK_ORDER = re.compile(r"^order-([1-9][0-9]{0,5})$")
# What a prediction's condition may read after the reveal: fields of one order (with
# "order") or of the run (without).
ORDER_FIELDS = ("order_state", "sender_saw", "judgement", "divergence", "credit_reserved")
RUN_FIELDS = ("orders", "consistent", "diverged", "approved", "cancelled", "timeouts",
              "reserved", "approved_total", "messages_sent", "messages_lost", "samples_lost",
              "drift", "invariant_ok")
OPS = ("==", "!=", "<", "<=", ">", ">=")

LESSON_KEYS = ("id", "title", "summary", "steps")
STEP_KEYS = ("caption", "setup", "action", "look_at", "predict")
SETUP_KEYS = ("scenario", "seed", "failures", "speed", "call", "semantics", "config", "script")
ACTION_KEYS = ("send", "until")
PREDICT_KEYS = ("question", "choices", "reveal")
CHOICE_KEYS = ("id", "text", "explain", "when", "correct")


class LessonError(ValueError):
    """A lesson file that cannot be used: its file, step and field named."""


class _Bad(Exception):
    """A problem inside a lesson: (field, what is wrong); the loader adds file and step."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(field, why)
        self.field = field
        self.why = why


def _keys(field: str, value: object, allowed: tuple[str, ...], required: tuple[str, ...] = ()
          ) -> dict:
    if not isinstance(value, dict):
        raise _Bad(field, f"must be an object (with {', '.join(allowed)})")
    for key in value:
        if key not in allowed:
            raise _Bad(f"{field}.{key}" if field else str(key),
                       f"is not a field here (allowed: {', '.join(allowed)})")
    for key in required:
        if key not in value:
            raise _Bad(f"{field}.{key}" if field else key, "is missing")
    return value


def _text(field: str, value: object, langs: list[str]) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Bad(field, f"must be an object of text per language ({', '.join(langs)})")
    for lang in langs:
        text = value.get(lang)
        if text is None:
            raise _Bad(f"{field}.{lang}", "is missing (every language of the page's "
                                          "catalogues needs its words)")
        if not isinstance(text, str) or not text.strip():
            raise _Bad(f"{field}.{lang}", "must be a non-empty string")
    for lang in value:
        if lang not in langs:
            raise _Bad(f"{field}.{lang}", f"is not a language of the page ({', '.join(langs)})")
    return {lang: value[lang].strip() for lang in langs}


def _number(field: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value) or not low <= value <= high:
        raise _Bad(field, f"got {value!r}; allowed: a number from {low:g} to {high:g}")
    return float(value)


def _setup(value: object) -> dict:
    s = _keys("setup", value, SETUP_KEYS, ("scenario",))
    scenario = s["scenario"]
    if scenario not in PRESETS:
        raise _Bad("setup.scenario", f"{scenario!r} is not a scenario (they are "
                                     f"{', '.join(PRESETS)})")
    out: dict = {"scenario": scenario}
    overrides = {}
    extra = s.get("config", {})
    if not isinstance(extra, dict):
        raise _Bad("setup.config", "must be an object of config fields (docs/events.md)")
    for key in ("failures", "seed", "call", "semantics"):
        if key in extra:
            raise _Bad(f"setup.config.{key}", f"set it as setup.{key}, not in setup.config")
    overrides.update(extra)
    if "seed" in s:
        overrides["seed"] = s["seed"]
    for key in ("call", "semantics"):
        if key in s:
            overrides[key] = s[key]
    try:
        config = preset_config(scenario, overrides)
    except EngineError as error:
        field = error.field if error.field in ("seed", "call", "semantics") else \
            f"config.{error.field}"
        raise _Bad(f"setup.{field}", f"got {error.value!r}; allowed: {error.allowed}") from None
    out["seed"] = config.seed
    if extra:
        out["config"] = {key: config.to_dict()[key] for key in extra}
    for key in ("call", "semantics"):
        if key in s:
            out[key] = getattr(config, key)
    failures = s.get("failures", {})
    if not isinstance(failures, dict):
        raise _Bad("setup.failures", "must be an object: failure point -> off, next, on or a "
                                     "probability from 0 to 1")
    out["failures"] = {}
    for point, setting in failures.items():
        if point not in FAILURE_POINTS:
            raise _Bad("setup.failures", f"{point!r} is not a failure point (they are "
                                         f"{', '.join(FAILURE_POINTS)})")
        if isinstance(setting, str):
            if setting not in MODES:
                raise _Bad(f"setup.failures.{point}", f"got {setting!r}; allowed: "
                                                      f"{', '.join(MODES)} or a probability")
            out["failures"][point] = {"mode": setting, "probability": 0.0}
        else:
            p = _number(f"setup.failures.{point}", setting, 0.0, 1.0)
            out["failures"][point] = {"mode": "off", "probability": p}
    out["speed"] = _number("setup.speed", s.get("speed", 1.0), SPEED_MIN, SPEED_MAX)
    script = s.get("script", True)
    if not isinstance(script, bool):
        raise _Bad("setup.script", "must be true (the scenario's own first order) or false")
    out["script"] = script
    return out


def _until(field: str, value: object) -> dict | str:
    if value == "end":
        return "end"
    try:
        return validate_until(value, field)
    except CommandError as error:
        raise _Bad(error.field, f"got {error.value!r}; allowed: {error.allowed} "
                                "(or \"end\": play until nothing is left to happen)") from None


def _action(value: object) -> dict:
    a = _keys("action", value, ACTION_KEYS)
    out: dict = {}
    send = a.get("send", 0)
    if isinstance(send, bool) or not isinstance(send, int) or not 0 <= send <= MAX_SEND:
        raise _Bad("action.send", f"got {send!r}; allowed: a whole number of orders from 0 "
                                  f"to {MAX_SEND}")
    out["send"] = send
    out["until"] = _until("action.until", a["until"]) if "until" in a else None
    return out


def _look_at(value: object) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise _Bad("look_at", "must be a list of what to highlight")
    for i, target in enumerate(value):
        if not isinstance(target, str) or not (target in LOOK_AT or LOOK_ORDER.match(target)):
            raise _Bad(f"look_at[{i}]", f"{target!r} is not something to look at (one of "
                                        f"{', '.join(LOOK_AT)}, or order-N)")
    return list(value)


def _condition(field: str, value: object) -> list[dict]:
    if isinstance(value, list):
        if not value:
            raise _Bad(field, "an empty list of conditions")
        return [c for i, one in enumerate(value) for c in _condition(f"{field}[{i}]", one)]
    c = _keys(field, value, ("order", "field", "op", "value"), ("field", "op", "value"))
    order = c.get("order")
    name = c["field"]
    if order is not None:
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise _Bad(f"{field}.order", f"got {order!r}; allowed: an order number from 1")
        if name not in ORDER_FIELDS:
            raise _Bad(f"{field}.field", f"{name!r} is not a field of an order (they are "
                                         f"{', '.join(ORDER_FIELDS)})")
    elif name not in RUN_FIELDS:
        raise _Bad(f"{field}.field", f"{name!r} is not a field of the run (they are "
                                     f"{', '.join(RUN_FIELDS)}; an order's fields need "
                                     "\"order\")")
    if c["op"] not in OPS:
        raise _Bad(f"{field}.op", f"got {c['op']!r}; allowed: {', '.join(OPS)}")
    v = c["value"]
    if not (v is None or isinstance(v, (str, bool, int, float))):
        raise _Bad(f"{field}.value", "must be a string, a number, true, false or null")
    return [{"order": order, "field": name, "op": c["op"], "value": v}]


def _predict(value: object, langs: list[str], words: dict, prefix: str) -> dict:
    p = _keys("predict", value, PREDICT_KEYS, ("question", "choices", "reveal"))
    words[f"{prefix}.question"] = _text("predict.question", p["question"], langs)
    choices = p["choices"]
    if not isinstance(choices, list) or not 2 <= len(choices) <= 5:
        raise _Bad("predict.choices", "must be a list of 2 to 5 choices")
    fixed = any(isinstance(c, dict) and "correct" in c for c in choices)
    out = []
    seen = set()
    for i, choice in enumerate(choices):
        where = f"predict.choices[{i}]"
        c = _keys(where, choice, CHOICE_KEYS, ("id", "text", "explain"))
        cid = c["id"]
        if not isinstance(cid, str) or not ID.match(cid):
            raise _Bad(f"{where}.id", f"got {cid!r}; allowed: lower-case letters, digits, -")
        if cid in seen:
            raise _Bad(f"{where}.id", f"{cid!r} is used twice")
        seen.add(cid)
        words[f"{prefix}.choice.{cid}"] = _text(f"{where}.text", c["text"], langs)
        words[f"{prefix}.explain.{cid}"] = _text(f"{where}.explain", c["explain"], langs)
        if fixed:
            if "when" in c or not isinstance(c.get("correct"), bool):
                raise _Bad(where, "a question with a fixed answer gives every choice "
                                  "\"correct\": true or false (and no \"when\")")
            out.append({"id": cid, "correct": c["correct"]})
        else:
            if "when" not in c:
                raise _Bad(f"{where}.when", "is missing: a factual choice says when it holds "
                                            "(or give every choice \"correct\")")
            out.append({"id": cid, "when": _condition(f"{where}.when", c["when"])})
    if fixed and sum(1 for c in out if c["correct"]) != 1:
        raise _Bad("predict.choices", "a question with a fixed answer has exactly one "
                                      "choice with \"correct\": true")
    reveal = _keys("predict.reveal", p["reveal"], ("until",), ("until",))
    return {"choices": out, "fixed": fixed,
            "reveal": {"until": _until("predict.reveal.until", reveal["until"])}}


def load_lesson(path: Path, langs: list[str], label: str) -> tuple[dict, dict]:
    """One lesson file: (structure, words by key) or LessonError."""
    where = f"{label}/{path.name}"
    m = FILE_NAME.match(path.name)
    if not m:
        raise LessonError(f"{where}: the file name must be NN-<id>.json (two digits, then "
                          "the lesson's id: lower-case letters, digits and -)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LessonError(f"{where}: not readable JSON ({error})") from None
    step_no = None
    words: dict[str, dict[str, str]] = {}
    try:
        lesson = _keys("", data, LESSON_KEYS, LESSON_KEYS)
        lid = lesson["id"]
        if lid != m.group(2):
            raise _Bad("id", f"{lid!r} must be the file's id ({m.group(2)!r})")
        words[f"lesson.{lid}.title"] = _text("title", lesson["title"], langs)
        words[f"lesson.{lid}.summary"] = _text("summary", lesson["summary"], langs)
        steps = lesson["steps"]
        if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
            raise _Bad("steps", f"must be a list of 1 to {MAX_STEPS} steps")
        out_steps = []
        for i, raw in enumerate(steps):
            step_no = i + 1
            step = _keys("", raw, STEP_KEYS, ("caption",))
            prefix = f"lesson.{lid}.{step_no}"
            words[f"{prefix}.caption"] = _text("caption", step["caption"], langs)
            if i == 0 and "setup" not in step:
                raise _Bad("setup", "is missing: the first step sets the run up")
            one: dict = {"setup": _setup(step["setup"]) if "setup" in step else None,
                         "action": _action(step.get("action", {})),
                         "look_at": _look_at(step.get("look_at", [])), "predict": None}
            if "predict" in step:
                one["predict"] = _predict(step["predict"], langs, words, prefix)
            out_steps.append(one)
    except _Bad as bad:
        at = f"step {step_no}: " if step_no is not None else ""
        raise LessonError(f"{where}: {at}{bad.field}: {bad.why}") from None
    return ({"id": lid, "number": int(m.group(1)), "steps": out_steps}, words)


def load_lessons(folder: Path, langs: list[str], label: str = "static/lessons"
                 ) -> tuple[list[dict], dict[str, dict[str, str]]]:
    """Every lesson of ``folder`` in file-name order, checked, and their words per language
    (``{lang: {key: text}}``). Raises LessonError naming the file, the step and the field."""
    folder = Path(folder)
    lessons: list[dict] = []
    by_lang: dict[str, dict[str, str]] = {lang: {} for lang in langs}
    if not folder.is_dir():
        return lessons, by_lang
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.json")):
        lesson, words = load_lesson(path, langs, label)
        if lesson["id"] in seen:
            raise LessonError(f"{label}/{path.name}: id: {lesson['id']!r} is also the id of "
                              f"{label}/{seen[lesson['id']]}")
        seen[lesson["id"]] = path.name
        lessons.append(lesson)
        for key, texts in words.items():
            for lang, text in texts.items():
                by_lang[lang][key] = text
    return lessons, by_lang
