"""engine/runfile.py and ``python -m engine --export/--replay/--until``: a saved run replays
event for event, and a file that does not hold a run is refused with its field named."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Config, Simulation, preset_config, preset_names, preset_script
from engine.runfile import RunFileError, dump_run, load_run, read_run_text
from tests.support import REPO_ROOT


def digest(events: list[dict]) -> str:
    return hashlib.sha256(json.dumps(events, sort_keys=True).encode()).hexdigest()


def play(name: str) -> tuple[Simulation, list[dict]]:
    """A preset run the way the CLI plays it: script commands at their times."""
    sim = Simulation(preset_config(name))
    events: list[dict] = []
    sim.run_script(preset_script(name), events.append)
    return sim, events


@pytest.mark.parametrize("name", preset_names())
def test_a_saved_run_replays_event_for_event(name):
    sim, events = play(name)
    text = json.dumps(dump_run(sim.config, sim.command_log, name))
    config, commands, scenario = load_run(read_run_text(text))
    assert scenario == name
    again, replayed = Simulation.replay(config, commands)
    assert digest(replayed) == digest(events)
    assert again.report() == sim.report()


commands = st.lists(st.one_of(
    st.builds(lambda a: {"cmd": "create-order", "amount": a}, st.integers(1, 500)),
    st.builds(lambda p, m: {"cmd": "set-failure", "point": p, "mode": m},
              st.sampled_from(["request-lost", "crash-before-processing",
                               "crash-after-processing", "reply-lost"]),
              st.sampled_from(["off", "next", "on"])),
    st.builds(lambda c: {"cmd": "set-credit-limit", "credit_limit": c}, st.integers(0, 900)),
), max_size=12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), script=commands, gaps=st.lists(st.integers(0, 30),
                                                                  min_size=12, max_size=12),
       cut=st.integers(0, 200))
def test_replay_to_a_seq_is_the_full_replay_cut_at_that_step(seed, script, gaps, cut):
    sim = Simulation(Config.from_dict({"seed": seed, "orders": 5, "order_interval": 0.7,
                                       "failures": {"reply-lost": {"probability": 0.3}}}))
    events: list[dict] = []
    for command, gap in zip(script, gaps):
        for _ in range(gap):
            events.extend(sim.step_raw())
        events.extend(sim.apply(command))
    sim.run(sink=events.append)
    _, full = Simulation.replay(sim.config, sim.command_log)
    assert digest(full) == digest(events)
    part_sim, part = Simulation.replay(sim.config, sim.command_log, until_seq=cut)
    # A prefix of the full run, reaching the cut (or the end), at most one instant past it.
    assert part == full[:len(part)]
    assert len(part) >= min(cut, len(full))
    assert all(e["t"] == part[-1]["t"] for e in part[cut:]) if part[cut:] else True
    assert part_sim.seq == len(part)


def good() -> dict:
    sim, _ = play("four-failures")  # nine commands in its log
    return dump_run(sim.config, sim.command_log, "four-failures")


def tamper(path: str, value) -> dict:
    data = good()
    target = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is KeyError:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize("data, field", [
    (tamper("version", 2), "version"),
    (tamper("version", True), "version"),
    (tamper("format", "other"), "format"),
    (tamper("scenario", "nope"), "scenario"),
    (tamper("config.seed", -1), "config.seed"),
    (tamper("config.failures", {"disk-full": "on"}), "config.failures"),
    (tamper("command_log", {}), "command_log"),
    (tamper("command_log.0.t", -1.0), "command_log[0].t"),
    (tamper("command_log.0.step", "x"), "command_log[0].step"),
    (tamper("command_log.1.cmd", {"cmd": "explode"}), "command_log[1].cmd"),
    (tamper("command_log.1.cmd", {"cmd": "create-order", "amount": 0}),
     "command_log[1].cmd.amount"),
    (tamper("command_log.0.cmd", KeyError), "command_log[0]"),
    (tamper("extra", 1), "extra"),
    ([1, 2], "file"),
])
def test_a_tampered_run_file_is_refused_with_its_field_named(data, field):
    with pytest.raises(RunFileError) as info:
        load_run(json.loads(json.dumps(data)))
    assert info.value.field.startswith(field)
    assert "\n" not in str(info.value)


def test_a_command_log_that_goes_back_in_time_is_refused():
    data = good()
    data["command_log"].append({"t": 0.0, "step": 0, "cmd": {"cmd": "create-order"}})
    with pytest.raises(RunFileError) as info:
        load_run(data)
    assert info.value.field == f"command_log[{len(data['command_log']) - 1}].t"


@pytest.mark.parametrize("text", ["", "{", "NaN", '{"version": NaN}', "x" * 10])
def test_text_that_is_not_json_is_refused(text):
    with pytest.raises(RunFileError) as info:
        read_run_text(text)
    assert info.value.field == "file"


def engine_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)


def test_cli_export_then_replay_prints_the_same_report(tmp_path):
    path = tmp_path / "run.json"
    first = engine_cli("--orders", "200", "--loss", "reply=0.2", "--seed", "9", "--json",
                       "--export", str(path))
    assert first.returncode == 0, first.stderr
    again = engine_cli("--replay", str(path), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == json.loads(first.stdout)
    trace = engine_cli("--replay", str(path), "--trace", "--until", "25")
    seqs = [json.loads(line)["seq"] for line in trace.stdout.splitlines()]
    assert seqs[:25] == list(range(1, 26)) and len(seqs) < 40


@pytest.mark.parametrize("args, mentions", [
    (["--replay", "no-such-file.json"], "cannot read"),
    (["--until", "5"], "only with --replay"),
    (["--replay", "README.md"], "not JSON"),
])
def test_cli_replay_errors_are_one_line(args, mentions):
    done = engine_cli(*args)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and mentions in done.stderr


def test_cli_replay_refuses_run_flags_and_names_a_bad_field(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(tamper("command_log.1.cmd", {"cmd": "create-order",
                                                           "amount": -5})))
    done = engine_cli("--replay", str(path))
    assert done.returncode == 2 and "command_log[1].cmd.amount" in done.stderr
    done = engine_cli("--replay", str(path), "--seed", "3")
    assert done.returncode == 2 and "--seed" in done.stderr
