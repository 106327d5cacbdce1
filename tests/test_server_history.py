"""Time (issue 10) in the session: seek, live, step-back, fork, export, import, history;
first on a Session (no sockets), then through a real server process."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Simulation, preset_config
from engine.errors import CommandError
from server.session import CHANGES_THE_RUN, Limits, Session
from server.validation import MAX_IMPORT_BYTES, validate_command
from tests.support import RawSocketIO
from tests.test_server_session import FPS, Client, new_client


def cmd(name: str, **fields) -> dict:
    return validate_command({"cmd": name, **fields})


def error_of(client: Client, name: str, now: float, **fields) -> CommandError:
    with pytest.raises(CommandError) as info:
        client.command(name, now, **fields)
    return info.value


def played(scenario: str = "lossy-network", seconds: float = 6.0, speed: float = 8.0,
           limits: Limits | None = None) -> tuple[Client, float]:
    """A session of ``scenario`` played for ``seconds`` of wall time, then paused."""
    client = new_client(limits)
    if scenario != "happy-path":
        client.command("scenario", 0.0, name=scenario)
    client.command("speed", 0.0, speed=speed)
    client.command("play", 0.0)
    end = client.run(0.0, seconds)
    client.command("pause", end)
    return client, end


def digest(events: list[dict]) -> str:
    return hashlib.sha256(json.dumps(events, sort_keys=True).encode()).hexdigest()


def without_view(snapshot: dict) -> dict:
    """The snapshot's run as shown (not the moment's `view`, nor pacing's order `pace`)."""
    return {k: v for k, v in snapshot.items() if k not in ("view", "pace")}


# -- seek and live ------------------------------------------------------------------------


def test_snapshots_say_live_and_where_the_head_is():
    client, _ = played(seconds=2.0)
    snap = client.session.snapshot()
    sim = client.session.sim
    assert snap["view"] == {"live": True, "seq": sim.seq, "t": sim.now, "head_seq": sim.seq,
                            "head_t": sim.now}
    assert snap["forked_from"] is None and snap["imported"] is False


def test_seek_shows_the_moment_as_a_replay_gives_it_then_live_the_identical_head():
    client, end = played()
    session = client.session
    head = session.snapshot()
    client.receive([("snapshot", head)])
    answer = client.command("seek", end, seq=40)
    snap = client.snapshots[-1]
    want, _ = Simulation.replay(session.sim.config, session.sim.command_log, until_seq=40)
    assert snap["state"] == want.snapshot(max_orders=200)
    assert snap["view"] == answer["view"] == {
        "live": False, "seq": want.seq, "t": want.now, "head_seq": head["seq"],
        "head_t": head["t"]}
    assert snap["seq"] == want.seq and snap["playing"] is False
    # By time, between events: the messages on the wire at their places.
    client.command("seek", end, t=3.05)
    snap = client.snapshots[-1]
    want, _ = Simulation.replay(session.sim.config, session.sim.command_log, until=3.05)
    assert snap["state"] == want.snapshot(max_orders=200) and snap["t"] == 3.05
    assert any(m["sent_at"] < 3.05 < m["arrives_at"] for m in snap["state"]["in_flight"])
    # Nothing streams while history is shown.
    later = client.run(end, 1.0)
    assert client.batches == [] or client.batches[-1]["to_seq"] <= head["seq"]
    answer = client.command("live", later)
    assert answer["view"]["live"] is True
    assert without_view(client.snapshots[-1]) == without_view(head)
    assert client.snapshots[-1]["view"] == head["view"]


def test_seek_at_or_after_the_head_is_live():
    client, end = played(seconds=2.0)
    head = client.session.sim
    assert client.command("seek", end, seq=head.seq)["view"]["live"] is True
    assert client.command("seek", end, t=head.now + 5)["view"]["live"] is True
    assert client.command("seek", end, seq=0)["view"]["live"] is False


def test_seek_pauses_a_playing_run_and_live_leaves_it_paused():
    client = new_client()
    client.command("play", 0.0)
    end = client.run(0.0, 1.5)
    client.command("seek", end, t=0.5)
    assert client.session.playing is False
    answer = client.command("live", end + 1)
    assert answer["view"]["live"] and client.snapshots[-1]["playing"] is False
    assert client.snapshots[-1]["t"] == pytest.approx(1.5)


def test_changing_the_run_is_refused_while_history_is_shown():
    client, end = played(seconds=2.0)
    client.command("seek", end, seq=5)
    before = client.session.sim.seq, list(client.session.sim.command_log)
    for name, fields in (("create-order", {}), ("play", {}), ("step", {}),
                         ("set-failure", {"point": "reply-lost", "mode": "on"}),
                         ("set-credit-limit", {"credit_limit": 5})):
        error = error_of(client, name, end, **fields)
        assert error.field == "view" and error.value == name
        assert "live returns to the present" in error.allowed
        assert "fork (Run from here)" in error.allowed
    assert set(CHANGES_THE_RUN) == {"create-order", "set-failure", "set-credit-limit",
                                    "play", "step"}
    assert (client.session.sim.seq, client.session.sim.command_log) == before
    # Pacing, history and a new run are fine.
    client.command("speed", end, speed=3)
    client.command("pause", end)
    client.command("history", end, from_seq=1, to_seq=3)
    assert client.command("reset", end)["run"] == 3
    assert client.snapshots[-1]["view"]["live"] is True


def test_a_reconnecting_client_gets_the_moment_shown_again():
    client, end = played(seconds=2.0)
    client.command("seek", end, seq=7)
    shown = client.snapshots[-1]
    answer, messages = client.session.join(shown["seq"], shown["run"], end + 1)
    assert answer == {"resumed": False}
    assert messages[0][0] == "snapshot" and messages[0][1]["view"]["live"] is False
    assert messages[0][1]["state"] == shown["state"]


def test_the_clock_says_which_moment_is_shown():
    client, end = played(seconds=2.0)
    client.command("seek", end, t=0.75)
    client.session.clock_due = True
    client.receive(client.session.tick(end + 1 / FPS))
    assert client.clocks[-1]["t"] == 0.75 and client.clocks[-1]["live"] is False


# -- step-back ----------------------------------------------------------------------------


def test_step_back_after_step_returns_the_same_state():
    client = new_client()  # happy path: its order at t = 0
    states = [client.session.snapshot()["state"]]
    while True:
        answer = client.command("step", 0.0)
        states.append(client.session.snapshot()["state"])
        if answer["idle"]:
            break
    assert len(states) >= 7
    back = []
    while True:
        answer = client.command("step-back", 0.0)
        back.append(client.snapshots[-1]["state"])
        assert answer["view"]["live"] is False
        if answer["start"]:
            break
    assert back == states[-2::-1]
    # At the start: nothing before, no snapshot.
    count = len(client.snapshots)
    answer = client.command("step-back", 0.0)
    assert answer["start"] is True and len(client.snapshots) == count
    assert answer["view"]["seq"] == 0 and answer["view"]["live"] is False


def test_step_back_from_a_running_head():
    client, end = played(seconds=3.0)
    head = client.session.sim
    answer = client.command("step-back", end)
    view = answer["view"]
    assert view["live"] is False and view["t"] < head.now and view["seq"] <= head.seq
    assert answer["start"] is False


# -- fork ---------------------------------------------------------------------------------


def test_fork_runs_from_the_moment_and_keeps_the_original_exportable_and_unchanged():
    client, end = played(seconds=1.0)
    client.command("create-order", end, amount=3)
    client.command("play", end)
    end = client.run(end, 3.0)
    client.command("pause", end)
    session = client.session
    original = client.command("export", end)["run"]
    head_seq, run = session.sim.seq, session.run
    client.command("seek", end, t=10.0)
    moment = client.snapshots[-1]
    assert moment["seq"] < head_seq
    answer = client.command("fork", end, commands=[
        {"cmd": "set-failure", "point": "reply-lost", "mode": "on"}])
    assert answer["run"] == run + 1
    assert answer["forked_from"] == {"run": run, "seq": moment["seq"]}
    assert answer["logged"] == [{"t": 10.0, "step": answer["logged"][0]["step"]}]
    snap = client.snapshots[-1]
    assert snap["forked_from"] == answer["forked_from"] and snap["view"]["live"] is True
    assert snap["state"] == moment["state"] and snap["run"] == run + 1
    # The fork's command streams as an event, then the run goes on its own way.
    client.receive(session.tick(end + 1 / FPS))
    assert client.events[0]["type"] == "failure-point-changed"
    assert client.events[0]["why"] == "command" and client.snapshots[-1]["custom"] is False
    client.command("play", end)
    client.run(end, 3.0)
    assert session.custom is True
    fork = client.command("export", end)["run"]
    assert fork["command_log"][-1]["cmd"] == {"cmd": "set-failure", "point": "reply-lost",
                                              "mode": "on"}
    assert fork["command_log"][:-1] == original["command_log"] != []
    kept = client.command("export", end, which="original")
    assert kept["run"] == original and kept["of_run"] == run
    # The original, replayed, is the run it was.
    again, _ = Simulation.replay(preset_config("lossy-network"), original["command_log"],
                                 until_seq=head_seq)
    assert again.seq >= head_seq


def test_fork_of_the_head_and_the_script_goes_on():
    client = new_client()
    client.command("scenario", 0.0, name="four-failures")
    client.command("speed", 0.0, speed=20)
    client.command("play", 0.0)
    end = client.run(0.0, 0.5)  # 10 s: the first two scripted steps
    client.command("pause", end)
    log_before = list(client.session.sim.command_log)
    answer = client.command("fork", end)
    assert answer["logged"] == [] and answer["forked_from"]["seq"] == client.session.sim.seq
    assert client.command("export", end, which="original")["run"]["command_log"] == log_before
    client.command("play", end)
    client.run(end, 3.0)
    created = client.session.sim.orders
    assert created == 5  # the script went on in the fork


def test_fork_refuses_bad_commands_by_index_and_leaves_the_run():
    client, end = played(seconds=2.0)
    client.command("seek", end, seq=9)
    run = client.session.run
    with pytest.raises(CommandError) as info:
        validate_command({"cmd": "fork", "commands": [{"cmd": "create-order"},
                                                      {"cmd": "set-failure", "point": "x"}]})
    assert info.value.field == "commands[1].point"
    with pytest.raises(CommandError) as info:
        validate_command({"cmd": "fork", "commands": [{"cmd": "jump"}]})
    assert info.value.field == "commands[0].cmd"
    with pytest.raises(CommandError) as info:
        validate_command({"cmd": "fork", "commands": "set-failure"})
    assert info.value.field == "commands"
    assert client.session.run == run and client.session.view is not None


def test_export_original_before_any_fork_is_refused():
    client = new_client()
    error = error_of(client, "export", 0.0, which="original")
    assert error.field == "which"


# -- export and import --------------------------------------------------------------------


def test_export_then_import_replays_event_for_event():
    client, end = played(seconds=5.0)
    client.command("set-credit-limit", end, credit_limit=150)
    client.command("play", end)
    end = client.run(end, 30.0)
    assert client.session.over
    streamed = list(client.events)
    exported = client.command("export", end)
    assert exported["which"] == "current" and exported["run"]["scenario"] == "lossy-network"
    other = new_client(now=end)
    answer = other.command("import", end, run=json.loads(json.dumps(exported["run"])))
    assert answer["view"]["live"] is True and answer["scenario"] == "lossy-network"
    snap = other.snapshots[-1]
    assert snap["imported"] is True and snap["seq"] == len(streamed) and snap["over"]
    # The same state; only the clock differs: the original stood where its last frame
    # ended, the import stops at its last event.
    theirs = client.session.snapshot()["state"]
    assert {**snap["state"], "t": None} == {**theirs, "t": None}
    events = []
    while len(events) < snap["seq"]:
        page = other.command("history", end, from_seq=len(events) + 1)
        events += page["events"]
    assert digest(events) == digest(streamed)
    # Exported again, the same file.
    assert other.command("export", end)["run"] == exported["run"]


def test_import_can_show_a_moment_and_reset_starts_the_scenario_afresh():
    client, end = played(scenario="four-failures", seconds=2.0, speed=20)
    run = client.command("export", end)["run"]
    other = new_client()
    answer = other.command("import", 0.0, run=run, t=7.5)
    assert answer["view"]["live"] is False and answer["view"]["t"] == 7.5
    assert other.snapshots[-1]["t"] == 7.5 and other.session.script == []
    other.command("live", 0.0)
    other.command("reset", 0.0)
    assert other.session.script and other.snapshots[-1]["imported"] is False


def tampered(run: dict, path: tuple, value) -> dict:
    bad = copy.deepcopy(run)
    node = bad
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return bad


def test_a_tampered_file_is_refused_with_the_field_and_the_run_is_untouched():
    client, end = played(scenario="four-failures", seconds=2.0, speed=20)
    good = client.command("export", end)["run"]
    session = client.session
    before = (session.run, session.sim, list(session.sim.command_log), session.scenario)
    cases = [
        (("version",), 2, "run.version"),
        (("format",), "other", "run.format"),
        (("command_log", 3, "cmd", "cmd"), "jump", "run.command_log[3].cmd"),
        (("command_log", 1, "cmd", "point"), "nowhere", "run.command_log[1].cmd.point"),
        (("command_log", 2, "t"), -1.0, "run.command_log[2].t"),
        (("config", "orders"), 10**9, "run.config.orders"),
        (("config", "seed"), "one", "run.config.seed"),
        (("extra",), 1, "run.extra"),
        (("command_log",), KeyError, "run.command_log"),
    ]
    for path, value, field in cases:
        with pytest.raises(CommandError) as info:
            client.command("import", end, run=tampered(good, path, value))
        assert info.value.field == field, (path, info.value)
    with pytest.raises(CommandError) as info:
        client.command("import", end, run=tampered(good, ("config", "orders"), 2_000_000))
    assert info.value.field == "run.config.orders" and "this server" in info.value.allowed
    with pytest.raises(CommandError) as info:
        client.command("import", end, run="not a run")
    assert info.value.field == "run"
    big = dict(good, command_log=good["command_log"] * 60)
    with pytest.raises(CommandError) as info:
        client.command("import", end, run=big)
    assert info.value.field == "payload" and str(MAX_IMPORT_BYTES) in info.value.allowed
    many = Limits(commands_per_run=3)
    other = Session("token-other", 0.0, many)
    with pytest.raises(CommandError) as info:
        other.command(cmd("import", run=good), 0.0)
    assert info.value.field == "run.command_log"
    assert (session.run, session.sim, session.sim.command_log, session.scenario) == before


# -- history and logged -------------------------------------------------------------------


def test_history_pages_are_contiguous_and_equal_the_stream():
    client, end = played(seconds=6.0)
    streamed = client.events
    assert len(streamed) > 300
    got: list[dict] = []
    start = 1
    while True:
        page = client.command("history", end, from_seq=start, to_seq=start + 99)
        assert page["head_seq"] == client.session.sim.seq and page["from_seq"] == start
        if not page["events"]:
            assert page["to_seq"] == start - 1
            break
        assert [e["seq"] for e in page["events"]] == list(range(start, page["to_seq"] + 1))
        got += page["events"]
        start = page["to_seq"] + 1
    assert got == streamed
    capped = client.command("history", end, from_seq=0)
    assert capped["from_seq"] == 1 and len(capped["events"]) == min(5000, len(streamed))


def test_engine_command_answers_say_where_the_log_has_them():
    client = new_client()
    client.command("speed", 0.0, speed=2)
    client.command("play", 0.0)
    end = client.run(0.0, 1.0)
    for name, fields in (("create-order", {}), ("set-credit-limit", {"credit_limit": 9}),
                         ("set-failure", {"point": "request-lost", "probability": 0.5})):
        answer = client.command(name, end, **fields)
        entry = client.session.sim.command_log[-1]
        assert answer["logged"] == {"t": entry["t"], "step": entry["step"]}
        assert answer["logged"]["t"] == pytest.approx(2.0)


# -- a real server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


def test_time_through_a_real_server(server):
    client = RawSocketIO(server.url)
    try:
        joined = client.call("join", {"session": None})
        assert joined["ok"] and joined["limits"]["max_import"] == MAX_IMPORT_BYTES
        assert joined["limits"]["history_events"] == 5000
        for command in ({"cmd": "scenario", "name": "four-failures"},
                        {"cmd": "speed", "speed": 200}, {"cmd": "play"}):
            assert client.call("command", command)["ok"]
        deadline = 50
        while deadline:
            client.read(0.2)
            deadline -= 1
            clocks = client.take("clock")
            if any(c["over"] for c in clocks):
                break
        assert client.call("command", {"cmd": "pause"})["ok"]
        head = client.call("command", {"cmd": "live"})
        assert head["ok"] and head["view"]["live"]
        client.take("snapshot")
        seek = client.call("command", {"cmd": "seek", "t": 7.5})
        assert seek["ok"] and seek["view"] == {**head["view"], "live": False,
                                               "seq": seek["view"]["seq"], "t": 7.5}
        (snap,) = client.take("snapshot")
        assert snap["view"]["live"] is False and snap["t"] == 7.5
        refused = client.call("command", {"cmd": "create-order"})
        assert not refused["ok"] and refused["error"]["field"] == "view"
        exported = client.call("command", {"cmd": "export"})
        assert exported["ok"] and len(exported["run"]["command_log"]) == 9
        bad = tampered(exported["run"], ("command_log", 3, "cmd", "cmd"), "jump")
        answer = client.call("command", {"cmd": "import", "run": bad})
        assert not answer["ok"] and answer["error"]["field"] == "run.command_log[3].cmd"
        page = client.call("command", {"cmd": "history", "from_seq": 1})
        assert page["ok"] and page["to_seq"] == head["view"]["head_seq"]
        imported = client.call("command", {"cmd": "import", "run": exported["run"]})
        assert imported["ok"] and imported["view"]["head_seq"] == head["view"]["head_seq"]
        again = client.call("command", {"cmd": "history", "from_seq": 1})
        assert digest(again["events"]) == digest(page["events"])
        forked = client.call("command", {"cmd": "fork"})
        assert forked["ok"] and forked["forked_from"]["run"] == imported["run"]
        original = client.call("command", {"cmd": "export", "which": "original"})
        assert original["run"] == exported["run"]
    finally:
        client.close()


# -- any order of Time commands -------------------------------------------------------------

OPS = st.lists(st.one_of(
    st.tuples(st.just("seek"), st.sampled_from(["seq", "t"]), st.floats(0.0, 1.2)),
    st.tuples(st.just("live")), st.tuples(st.just("step-back")),
    st.tuples(st.just("play"), st.floats(0.05, 1.5)), st.tuples(st.just("step")),
    st.tuples(st.just("create-order")), st.tuples(st.just("fork"), st.booleans()),
    st.tuples(st.just("history"), st.integers(0, 60)),
), max_size=14)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["happy-path", "four-failures", "lossy-network"]), OPS)
def test_any_order_of_time_commands_shows_what_a_replay_shows(scenario, ops):
    client = new_client()
    client.command("scenario", 0.0, name=scenario)
    client.command("speed", 0.0, speed=6)
    now = 0.0
    for op in ops:
        session = client.session
        head = session.sim
        try:
            if op[0] == "seek":
                fraction = op[2]
                if op[1] == "seq":
                    answer = client.command("seek", now, seq=int(head.seq * fraction))
                else:
                    answer = client.command("seek", now, t=head.now * fraction)
            elif op[0] == "play":
                client.command("play", now)
                now = client.run(now, op[1])
                client.command("pause", now)
                continue
            elif op[0] == "fork":
                commands = [{"cmd": "set-failure", "point": "reply-lost", "mode": "on"}]
                answer = client.command("fork", now, commands=commands if op[1] else [])
                assert client.snapshots[-1]["forked_from"] == answer["forked_from"]
                continue
            elif op[0] == "history":
                page = client.command("history", now, from_seq=op[1])
                assert page["to_seq"] <= max(session.sim.seq, page["from_seq"] - 1)
                assert [e["seq"] for e in page["events"]] == list(
                    range(page["from_seq"], page["to_seq"] + 1))
                continue
            else:
                answer = client.command(op[0], now)
        except CommandError as error:
            assert error.field == "view" and session.view is not None
            continue
        if op[0] in ("seek", "step-back", "live") and not answer.get("start"):
            snap = client.snapshots[-1]
            view = snap["view"]
            assert view == answer["view"] and view["head_seq"] == session.sim.seq
            if not view["live"]:
                log = session.sim.command_log
                config = session.sim.config
                by_t, _ = Simulation.replay(config, log, until=view["t"])
                by_seq, _ = Simulation.replay(config, log, until_seq=view["seq"])
                assert snap["state"] in (by_t.snapshot(max_orders=200),
                                         by_seq.snapshot(max_orders=200))
