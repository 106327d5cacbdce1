"""Lessons (issue 11): the lesson files are checked at start-up (a malformed one refused with
its file, step and field named), every shipped lesson loads and plays as written (each
``until`` is found, each factual prediction has exactly one choice the run bears out), and
``play`` with ``until`` pauses exactly at its event whatever the frame batching."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.factory import create_app
from server.lessons import LessonError, load_lessons
from server.session import Limits, Session
from server.validation import validate_command

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "static" / "lessons"
LANGS = ["de", "en"]


def T(text: str) -> dict:
    return {"en": text, "de": text + " (de)"}


def minimal() -> dict:
    return {
        "id": "reply", "title": T("Reply"), "summary": T("A reply."),
        "steps": [
            {"caption": T("One."), "setup": {"scenario": "reply-lost", "seed": 1},
             "action": {"until": {"type": "message-sent", "leg": "reply"}},
             "look_at": ["reply-leg"]},
            {"caption": T("Two."), "action": {"until": {"type": "message-lost", "stop": "before"}},
             "predict": {"question": T("Held?"), "choices": [
                 {"id": "yes", "text": T("Yes"), "explain": T("Kept."),
                  "when": {"order": 1, "field": "credit_reserved", "op": ">", "value": 0}},
                 {"id": "no", "text": T("No"), "explain": T("Given back."),
                  "when": {"order": 1, "field": "credit_reserved", "op": "==", "value": 0}}],
                 "reveal": {"until": {"type": "sender-timeout"}}}},
        ],
    }


def refused(tmp_path: Path, lesson: dict, name: str = "03-reply.json") -> str:
    (tmp_path / name).write_text(json.dumps(lesson), encoding="utf-8")
    with pytest.raises(LessonError) as info:
        load_lessons(tmp_path, LANGS, label="lessons")
    return str(info.value)


def test_a_well_formed_lesson_loads_with_its_words_per_language(tmp_path):
    (tmp_path / "03-reply.json").write_text(json.dumps(minimal()), encoding="utf-8")
    lessons, words = load_lessons(tmp_path, LANGS)
    assert [lesson["id"] for lesson in lessons] == ["reply"]
    step = lessons[0]["steps"][1]
    assert step["setup"] is None and step["predict"]["fixed"] is False
    assert step["action"]["until"] == {"type": "message-lost", "order": None, "leg": None,
                                       "stop": "before"}
    assert words["en"]["lesson.reply.2.question"] == "Held?"
    assert words["de"]["lesson.reply.2.choice.yes"] == "Yes (de)"
    assert words["en"]["lesson.reply.1.caption"] == "One."
    assert "caption" not in json.dumps(lessons)  # the structure carries no words


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["steps"][1].update(setup={"scenario": "reply-lost",
                                           "failures": {"reply-los": "on"}}),
     "lessons/03-reply.json: step 2: setup.failures: 'reply-los' is not a failure point"),
    (lambda d: d["steps"][0]["caption"].pop("de"),
     "lessons/03-reply.json: step 1: caption.de: is missing"),
    (lambda d: d["steps"][0]["setup"].update(scenario="happy"),
     "lessons/03-reply.json: step 1: setup.scenario: 'happy' is not a scenario"),
    (lambda d: d["steps"][0]["setup"].update(config={"reply_timeout": -1}),
     "lessons/03-reply.json: step 1: setup.config.reply_timeout: got -1"),
    (lambda d: d["steps"][0]["setup"].update(call="blocking"),
     "lessons/03-reply.json: step 1: setup.call: got 'blocking'"),
    (lambda d: d["steps"][0]["action"].update(until={"type": "reply-lost"}),
     "lessons/03-reply.json: step 1: action.until.type: got 'reply-lost'"),
    (lambda d: d["steps"][0].update(look_at=["the alarm"]),
     "lessons/03-reply.json: step 1: look_at[0]: 'the alarm' is not something to look at"),
    (lambda d: d["steps"][1]["predict"]["choices"][0]["when"].update(field="credit"),
     "lessons/03-reply.json: step 2: predict.choices[0].when.field: 'credit' is not a field "
     "of an order"),
    (lambda d: d["steps"][1]["predict"]["choices"][1].update(correct=True),
     "lessons/03-reply.json: step 2: predict.choices[0]: a question with a fixed answer"),
    (lambda d: d["steps"][1]["predict"].pop("reveal"),
     "lessons/03-reply.json: step 2: predict.reveal: is missing"),
    (lambda d: d["steps"][0].update(colour="red"),
     "lessons/03-reply.json: step 1: colour: is not a field here"),
    (lambda d: d["steps"][0].pop("setup"),
     "lessons/03-reply.json: step 1: setup: is missing: the first step sets the run up"),
    (lambda d: d.update(id="other"),
     "lessons/03-reply.json: id: 'other' must be the file's id ('reply')"),
    (lambda d: d["title"].update(fr="Réponse"),
     "lessons/03-reply.json: title.fr: is not a language of the page"),
])
def test_a_malformed_lesson_is_refused_naming_file_step_and_field(tmp_path, mutate, message):
    lesson = minimal()
    mutate(lesson)
    assert refused(tmp_path, lesson).startswith(message)


def test_bad_file_names_and_json_are_refused(tmp_path):
    assert "lessons/reply.json: the file name must be NN-<id>.json" in refused(
        tmp_path, minimal(), "reply.json")
    (tmp_path / "reply.json").unlink()
    (tmp_path / "04-x.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(LessonError, match=r"^lessons/04-x.json: not readable JSON"):
        load_lessons(tmp_path, LANGS, label="lessons")


def test_the_shipped_lessons_load_and_their_words_join_the_catalogues():
    lessons, words = load_lessons(SHIPPED, LANGS)
    assert [lesson["number"] for lesson in lessons] == list(range(1, 11))
    for lesson in lessons:
        assert 3 <= len(lesson["steps"]) <= 8, lesson["id"]
    assert sum(1 for lesson in lessons if any(s["predict"] for s in lesson["steps"])) >= 8
    app = create_app({"AMO_PACER": False, "TESTING": True})
    catalogues = app.extensions["amo_catalogues"]
    for lang in catalogues.langs:
        assert catalogues.catalogue(lang)["lesson.once-or-never.title"] == \
            words[lang]["lesson.once-or-never.title"]
    answer = app.test_client().get("/api/lessons")
    assert answer.status_code == 200
    assert [lesson["id"] for lesson in answer.get_json()["lessons"]] == \
        [lesson["id"] for lesson in lessons]


def test_app_py_exits_with_one_line_naming_a_malformed_lesson(tmp_path):
    lesson = minimal()
    lesson["steps"][1]["setup"] = {"scenario": "reply-lost", "failures": {"reply-los": "on"}}
    (tmp_path / "03-reply.json").write_text(json.dumps(lesson), encoding="utf-8")
    env = {**os.environ, "AMO_LESSONS": str(tmp_path)}
    done = subprocess.run([sys.executable, "app.py", "--async-mode", "threading", "--port",
                           "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "03-reply.json: step 2: setup.failures: 'reply-los' is not a failure point" in lines[0]


# -- play until -----------------------------------------------------------------------------

def cmd(command_name: str, **fields) -> dict:
    return validate_command({"cmd": command_name, **fields})


class Player:
    """Drives one session as the page does: frames at 30 Hz, every batch acknowledged."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.session = Session("lessontest1", 0.0, limits)
        self.now = 0.0
        self.events: list[dict] = []

    def command(self, command_name: str, **fields) -> dict:
        answer, messages = self.session.command(cmd(command_name, **fields), self.now)
        self.take(messages)
        return answer

    def take(self, messages) -> None:
        for event, payload in messages:
            if event == "snapshot":
                self.events.clear()
                self.session.ack(payload["seq"], payload["run"])
            elif event == "events":
                self.events.extend(payload["events"])
                self.session.ack(payload["to_seq"], payload["run"])

    def run_while_playing(self, frames: int = 100_000) -> None:
        for _ in range(frames):
            if not self.session.playing:
                return
            self.now += 1 / 30
            self.take(self.session.tick(self.now))
        raise AssertionError("still playing")


@pytest.mark.parametrize("speed", [1, 200])
def test_play_until_pauses_right_after_the_event(speed):
    p = Player()
    p.command("scenario", name="reply-lost")
    p.command("speed", speed=speed)
    answer = p.command("play", until={"type": "message-lost", "leg": "reply"})
    assert answer["until"]["seq"] is not None
    p.run_while_playing()
    lost = [e for e in p.events if e["type"] == "message-lost"]
    assert len(lost) == 1
    last = p.events[-1]
    # The whole instant of the loss (its step's events), and nothing after it.
    assert last["seq"] == answer["until"]["seq"] == p.session.sim.seq
    assert all(e["t"] == lost[0]["t"] for e in p.events if e["seq"] >= lost[0]["seq"])
    assert not any(e["type"] == "sender-timeout" for e in p.events)
    assert p.session.clock()["playing"] is False


@pytest.mark.parametrize("speed", [1, 200])
def test_play_until_before_pauses_with_the_event_not_yet_made(speed):
    p = Player()
    p.command("scenario", name="crash-after-processing")
    p.command("speed", speed=speed)
    answer = p.command("play", until={"type": "credit-reserved", "stop": "before"})
    p.run_while_playing()
    assert [e["type"] for e in p.events if e["type"] == "credit-reserved"] == []
    assert p.events[-1]["type"] == "processing-started"
    assert p.session.sim.seq == answer["until"]["seq"]
    # Play on: the next event is the one it stopped before.
    p.command("play", until={"type": "credit-reserved"})
    p.run_while_playing()
    assert "credit-reserved" in [e["type"] for e in p.events]


def test_play_until_is_exact_under_a_tiny_frame_cap_and_with_many_orders():
    p = Player(Limits(frame_events=3))
    p.command("scenario", name="lossy-network", seed=7)
    p.command("speed", speed=200)
    answer = p.command("play", until={"type": "order-diverged", "stop": "before"})
    p.run_while_playing()
    assert p.session.sim.seq == answer["until"]["seq"]
    assert "order-diverged" not in {e["type"] for e in p.events}
    assert p.events[-1]["seq"] == answer["until"]["seq"]


def test_play_until_an_event_that_never_comes_plays_on_to_the_end():
    p = Player()
    p.command("scenario", name="happy-path")
    p.command("speed", speed=200)
    answer = p.command("play", until={"type": "receiver-crashed"})
    assert answer["until"]["seq"] is None
    p.run_while_playing()
    assert p.session.over


def test_a_bad_until_is_refused_naming_its_field():
    from engine.errors import CommandError

    for until, field in (({"type": "lost"}, "until.type"), ({"type": "message-lost",
                                                              "leg": "side"}, "until.leg"),
                         ({"type": "message-lost", "stop": "during"}, "until.stop"),
                         ({"type": "message-lost", "at": 1}, "until.at"), ("x", "until")):
        with pytest.raises(CommandError) as info:
            cmd("play", until=until)
        assert info.value.field == field


# -- the shipped lessons, played as the page plays them --------------------------------------

ORDER_FIELDS_OF = ("order_state", "sender_saw", "judgement", "divergence", "credit_reserved")


def run_fields(sim) -> dict:
    summary, inv = sim.summary(), sim.invariant()
    views = [sim.order_view(i) for i in range(1, sim.orders + 1)]
    metrics = sim.metrics() if sim.config.samples else None
    return {"orders": summary["orders"], "consistent": summary["consistent"],
            "diverged": summary["diverged"],
            "approved": sum(v["order_state"] == "approved" for v in views),
            "cancelled": sum(v["order_state"] == "cancelled" for v in views),
            "timeouts": summary["sender_timeouts"], "reserved": sim.customer()["reserved"],
            "approved_total": inv["approved_total"], "messages_sent": summary["messages_sent"],
            "messages_lost": summary["messages_lost"], "samples_lost": summary["messages_lost"],
            "drift": metrics["drift"] if metrics else None, "invariant_ok": inv["ok"]}


OPS = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
       "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def holds(sim, conditions: list[dict]) -> bool:
    for c in conditions:
        if c["order"] is not None:
            value = sim.order_view(c["order"])[c["field"]]
        else:
            value = run_fields(sim)[c["field"]]
        if value is None or not OPS[c["op"]](value, c["value"]):
            return False
    return True


def setup_run(p: Player, setup: dict) -> None:
    fields = {"name": setup["scenario"], "seed": setup["seed"], "script": setup["script"]}
    config = dict(setup.get("config", {}))
    for key in ("call", "semantics"):
        if key in setup:
            config[key] = setup[key]
    if config:
        fields["config"] = config
    p.command("scenario", **fields)
    for point, setting in setup["failures"].items():
        p.command("set-failure", point=point, **setting)


def play(p: Player, until) -> None:
    answer = p.command("play") if until == "end" else p.command("play", until=until)
    if until != "end":
        assert answer["until"]["seq"] is not None, until
    p.run_while_playing()


LESSONS, _WORDS = load_lessons(SHIPPED, LANGS)


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson["id"] for lesson in LESSONS])
def test_each_shipped_lesson_plays_as_written(lesson):
    p = Player()
    for n, step in enumerate(lesson["steps"], start=1):
        if step["setup"]:
            setup_run(p, step["setup"])
            p.command("speed", speed=200)
        for _ in range(step["action"]["send"]):
            p.command("create-order")
        if step["action"]["until"] is not None:
            play(p, step["action"]["until"])
        predict = step["predict"]
        if predict is None:
            continue
        if not predict["fixed"]:
            # Before the reveal the answer is not yet decided by what is shown: after it,
            # exactly one choice is what the run did.
            play(p, predict["reveal"]["until"])
            held = [c["id"] for c in predict["choices"] if holds(p.session.sim, c["when"])]
            assert len(held) == 1, (lesson["id"], n, held)
        else:
            play(p, predict["reveal"]["until"])


def test_pacing_is_numbered_so_a_late_play_answer_cannot_undo_the_pause():
    """The play answer leaves the server after its handler returns; the frame that pauses
    the run at its until can overtake it on the socket. Every pacing payload is numbered
    in the order it was made, so the page keeps the newer one (playing: false)."""
    p = Player()
    p.command("scenario", name="request-lost")
    p.command("speed", speed=20)
    answer = p.command("play", until={"type": "message-sent", "order": 1, "leg": "request"})
    assert answer["playing"] is True
    frame = p.session.tick(p.now + 1 / 30)  # the frame made before the answer was sent
    paced = [payload for _, payload in frame if "playing" in payload]
    assert paced and paced[-1]["playing"] is False
    assert all(payload["pace"] > answer["pace"] for payload in paced)
    # Every later pacing payload (clock, pause answer) goes on counting up.
    later = p.session.command(cmd("pause"), p.now + 0.1)[0]["pace"]
    assert later > paced[-1]["pace"] and p.session.clock()["pace"] > later
