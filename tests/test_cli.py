"""``python -m engine``, run as a user runs it: a subprocess, stdout, stderr, exit status."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engine import preset_names
from tests.support import REPO_ROOT


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)


def report(*args: str) -> dict:
    done = cli("--json", *args)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


def check_report_shape(data: dict) -> None:
    summary = data["summary"]
    for key in ("orders", "messages_sent", "messages_delivered", "messages_lost", "diverged"):
        assert type(summary[key]) is int, key
    assert len(data["orders"]) == summary["orders"]
    for order in data["orders"]:
        assert type(order["id"]) is int
        assert order["order_state"] in ("new", "approved", "cancelled")
        assert type(order["credit_reserved"]) is int
        assert order["sender_saw"] in ("reply", "no-reply")
        assert type(order["consistent"]) is bool
        assert order["divergence"] in (None, "stuck-new", "reserved-not-approved")
        assert order["consistent"] is (order["divergence"] is None)
    assert summary["diverged"] == sum(1 for o in data["orders"] if not o["consistent"])


# name: (order state, credit reserved, divergence) of the preset's single order
EXPECTED = {
    "happy-path": ("approved", 100, None),
    "request-lost": ("new", 0, "stuck-new"),
    "crash-before-processing": ("new", 0, "stuck-new"),
    "crash-after-processing": ("new", 100, "reserved-not-approved"),
    "reply-lost": ("new", 100, "reserved-not-approved"),
}


@pytest.mark.parametrize("name", preset_names())
def test_every_scenario_runs_and_reports(name):
    data = report("--scenario", name)
    check_report_shape(data)
    if name in EXPECTED:
        [order] = data["orders"]
        assert (order["order_state"], order["credit_reserved"], order["divergence"]) == \
            EXPECTED[name]
        assert order["sender_saw"] == ("reply" if name == "happy-path" else "no-reply")
    elif name == "four-failures":
        outcomes = [(o["order_state"], o["credit_reserved"], o["divergence"])
                    for o in data["orders"]]
        assert outcomes == list(EXPECTED.values())
        assert [o["sender_saw"] for o in data["orders"]] == ["reply"] + ["no-reply"] * 4
    elif name == "lossy-network":
        assert data["summary"]["orders"] == 200 and data["summary"]["diverged"] > 0
        assert data["summary"]["messages_lost"] > 0
    else:
        assert data["summary"]["orders"] == 0 and data["summary"]["diverged"] == 0
        metrics = data["metrics"]
        assert 0 < metrics["seen_count"] < metrics["true_count"] == 400
        assert metrics["drift"] < 0.03


def test_default_run_is_the_happy_path_in_words():
    done = cli()
    assert done.returncode == 0 and done.stderr == ""
    assert "order 1: approved, credit reserved 100, sender saw reply: consistent" in done.stdout


def test_fail_is_repeatable_and_on_for_every_message():
    data = report("--orders", "6", "--fail", "reply-lost", "--fail", "request-lost")
    check_report_shape(data)
    assert data["config"]["failures"]["reply-lost"]["mode"] == "on"
    assert data["config"]["failures"]["request-lost"]["mode"] == "on"
    assert data["summary"]["orders"] == 6
    assert data["summary"]["messages_lost"] == 6 == data["summary"]["messages_sent"]
    assert all(o["divergence"] == "stuck-new" for o in data["orders"])


def test_fail_crash_after_processing_holds_credit_for_every_order():
    # Orders about 10 s apart (with seed 2 every gap is longer than the 2 s downtime),
    # so the receiver is back up before each next request arrives.
    data = report("--orders", "4", "--fail", "crash-after-processing", "--amount", "50",
                  "--credit-limit", "10000", "--order-interval", "10", "--seed", "2")
    assert [o["credit_reserved"] for o in data["orders"]] == [50] * 4
    assert data["invariant"]["ok"] is False and data["invariant"]["unbacked"] == 200


def test_loss_probability_by_leg():
    data = report("--orders", "300", "--loss", "request=0.1", "--credit-limit", "100000000")
    check_report_shape(data)
    assert data["config"]["failures"]["request-lost"] == {"mode": "off", "probability": 0.1}
    lost = data["summary"]["messages_lost"]
    assert 10 <= lost <= 60
    assert data["summary"]["diverged"] == lost
    assert {o["divergence"] for o in data["orders"]} == {None, "stuck-new"}


def test_loss_accepts_every_failure_point_name():
    data = report("--orders", "5", "--loss", "reply=1", "--loss", "crash-before-processing=0")
    assert data["config"]["failures"]["reply-lost"]["probability"] == 1.0
    assert all(o["divergence"] == "reserved-not-approved" for o in data["orders"])


def test_seed_and_options_shape_the_run_and_the_same_seed_repeats_it():
    a = report("--orders", "40", "--loss", "request=0.3", "--seed", "5")
    b = report("--orders", "40", "--loss", "request=0.3", "--seed", "5")
    c = report("--orders", "40", "--loss", "request=0.3", "--seed", "6")
    assert a == b
    assert a["config"]["seed"] == 5
    assert [o["divergence"] for o in a["orders"]] != [o["divergence"] for o in c["orders"]]


def test_credit_limit_and_amount():
    data = report("--orders", "3", "--amount", "400", "--credit-limit", "1000",
                  "--order-interval", "10")
    assert [o["order_state"] for o in data["orders"]] == ["approved", "approved", "cancelled"]
    assert data["customer"]["reserved"] == 800


def test_timeout_shorter_than_the_round_trip():
    data = report("--timeout", "0.5")
    [order] = data["orders"]
    assert order["sender_saw"] == "no-reply" and order["divergence"] == "reserved-not-approved"
    assert data["summary"]["replies_ignored"] == 1


def test_json_report_without_orders_list():
    data = report("--scenario", "lossy-network", "--no-orders-list")
    assert "orders" not in data and data["summary"]["orders"] == 200


def test_trace_prints_one_json_event_per_line():
    done = cli("--trace", "--scenario", "crash-after-processing")
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    types = [e["type"] for e in events]
    assert types[0] == "order-created"
    assert "receiver-crashed" in types and "invariant-broken" in types
    assert types[-1] == "sender-timeout"


def test_trace_of_many_orders_matches_the_report():
    done = cli("--trace", "--orders", "50", "--loss", "reply=0.2", "--seed", "3")
    events = [json.loads(line) for line in done.stdout.splitlines()]
    data = report("--orders", "50", "--loss", "reply=0.2", "--seed", "3")
    assert len(events) == data["seq"]
    assert sum(e["type"] == "message-lost" for e in events) == data["summary"]["messages_lost"]
    assert sum(e["type"] == "order-created" for e in events) == 50


@pytest.mark.parametrize("args, mentions", [
    (["--fail", "disk-full"], "disk-full"),
    (["--loss", "request=2"], "probability"),
    (["--loss", "request"], "POINT=P"),
    (["--loss", "sideways=0.1"], "sideways"),
    (["--orders", "-1"], "--orders"),
    (["--seed", "x"], "--seed"),
    (["--scenario", "nope"], "nope"),
    (["--timeout", "-3"], "reply_timeout"),
    (["--order-interval", "0"], "order_interval"),
    (["--amount", "0"], "--amount"),
    (["--json", "--trace"], "not allowed"),
    (["--colour"], "unrecognized"),
    # Numbers are plain ASCII decimals (docs: README, "Run the engine headless").
    (["--seed", "\u0661\u0662\u0663"], "--seed"),
    (["--orders", " 5 "], "--orders"),
    (["--orders", "1_000"], "--orders"),
    (["--seed", "+7"], "--seed"),
    (["--timeout", "inf"], "--timeout"),
    (["--timeout", "1_0"], "--timeout"),
    (["--loss", "request=nan"], "probability"),
])
def test_bad_arguments_exit_2_with_one_line(args, mentions):
    done = cli(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("python -m engine: error:")
    assert mentions in lines[0]


def test_help():
    done = cli("--help")
    assert done.returncode == 0
    for word in ("--scenario", "--fail", "--loss", "--orders", "--json", "--trace",
                 "request-lost", "crash-before-processing"):
        assert word in done.stdout


def test_call_sync_sends_one_order_at_a_time():
    done = cli("--trace", "--call", "sync", "--orders", "3", "--order-interval", "0.01",
               "--fail", "reply-lost")
    assert done.returncode == 0 and done.stderr == ""
    events = [json.loads(line) for line in done.stdout.splitlines()]
    types = [e["type"] for e in events]
    assert types.count("call-started") == 3 and types.count("call-queued") == 2
    sent = [e for e in events if e["type"] == "message-sent" and e["leg"] == "request"]
    timeouts = [e for e in events if e["type"] == "sender-timeout"]
    assert [e["t"] for e in sent[1:]] == [e["t"] for e in timeouts[:2]]
    data = report("--call", "sync", "--orders", "3", "--order-interval", "0.01",
                  "--fail", "reply-lost")
    check_report_shape(data)
    assert data["config"]["call"] == "sync"
    assert [o["sender_saw"] for o in data["orders"]] == ["no-reply"] * 3


def test_call_async_is_the_default_run():
    assert cli("--trace", "--call", "async", "--scenario", "four-failures").stdout == \
        cli("--trace", "--scenario", "four-failures").stdout


@pytest.mark.parametrize("value", ["blocking", "SYNC", ""])
def test_bad_call_mode_exits_2_with_one_line(value):
    done = cli("--call", value)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("python -m engine: error: argument --call:")
    assert "async, sync" in lines[0]


def test_a_sync_run_exports_and_replays_event_for_event(tmp_path):
    path = tmp_path / "run.json"
    args = ("--trace", "--call", "sync", "--orders", "20", "--loss", "reply=0.3",
            "--seed", "9")
    first = cli(*args, "--export", str(path))
    assert first.returncode == 0, first.stderr
    assert json.loads(path.read_text())["config"]["call"] == "sync"
    again = cli("--trace", "--replay", str(path))
    assert again.returncode == 0 and again.stdout == first.stdout
    refused = cli("--replay", str(path), "--call", "async")
    assert refused.returncode == 2 and "--call" in refused.stderr


def test_help_names_the_call_mode():
    assert "--call" in cli("--help").stdout


# ------------------------------------------------------------- delivery semantics (issue 12)
NEW_SUMMARY = ("retries", "duplicates_delivered", "duplicates_suppressed", "double_reserved")


def test_the_json_report_keeps_its_contract_and_counts_retries_and_duplicates():
    data = report("--scenario", "lossy-network")
    check_report_shape(data)
    assert data["config"]["semantics"] == "at-most-once"
    assert all(data["summary"][key] == 0 for key in NEW_SUMMARY)
    for order in data["orders"]:
        assert order["attempts"] == 1
        assert order["times_reserved"] == (1 if order["credit_reserved"] else 0)


@pytest.mark.parametrize(("semantics", "summary", "order"), [
    ("at-most-once", (0, 0, 0, 0), ("new", 100, 1, 1, "reserved-not-approved")),
    ("at-least-once", (1, 1, 0, 1), ("approved", 200, 2, 2, "double-reserved")),
    ("exactly-once", (1, 0, 1, 0), ("approved", 100, 2, 1, None)),
])
def test_a_lost_reply_under_each_semantics(semantics, summary, order):
    data = report("--case", "reply-lost", "--semantics", semantics)
    assert data["config"]["semantics"] == semantics
    assert tuple(data["summary"][key] for key in NEW_SUMMARY) == summary
    [got] = data["orders"]
    assert (got["order_state"], got["credit_reserved"], got["attempts"],
            got["times_reserved"], got["divergence"]) == order
    assert got["consistent"] is (order[4] is None)


def test_max_attempts_one_is_at_most_once_again():
    once = report("--case", "reply-lost", "--semantics", "at-least-once",
                  "--max-attempts", "1")
    assert once["config"]["max_attempts"] == 1
    [order] = once["orders"]
    assert (order["attempts"], order["divergence"]) == (1, "reserved-not-approved")
    assert once["summary"]["retries"] == 0


@pytest.mark.parametrize(("outbox", "divergence", "lost"), [
    ("memory", "reserved-not-approved", 1), ("durable", None, 0)])
def test_a_sender_crash_with_each_outbox(outbox, divergence, lost):
    data = report("--case", "sender-crash", "--semantics", "at-least-once",
                  "--outbox", outbox)
    assert data["config"]["outbox"] == outbox
    assert data["summary"]["sender_crashes"] == 1
    assert data["summary"]["outbox_lost"] == lost
    assert data["orders"][0]["divergence"] == divergence


def test_many_orders_at_least_once_double_reserve_and_exactly_once_never():
    args = ("--orders", "300", "--loss", "reply=0.2", "--credit-limit", "1000000",
            "--seed", "4")
    least = report(*args, "--semantics", "at-least-once")["summary"]
    exact = report(*args, "--semantics", "exactly-once")["summary"]
    assert least["retries"] == exact["retries"] > 0  # the same schedule, the same retries
    assert least["double_reserved"] > 0 and least["duplicates_delivered"] > 0
    assert exact["double_reserved"] == 0 and exact["duplicates_suppressed"] > 0
    assert exact["diverged"] < least["diverged"]


def test_next_arms_a_point_for_one_message():
    data = report("--orders", "3", "--order-interval", "10", "--next", "request-lost")
    assert [o["divergence"] for o in data["orders"]] == ["stuck-new", None, None]


@pytest.mark.parametrize(("args", "mentions"), [
    (["--semantics", "twice"], "--semantics"),
    (["--semantics", "AT-MOST-ONCE"], "--semantics"),
    (["--max-attempts", "0"], "--max-attempts"),
    (["--max-attempts", "101"], "--max-attempts"),
    (["--max-attempts", "two"], "--max-attempts"),
    (["--outbox", "disk"], "--outbox"),
    (["--next", "disk-full"], "--next"),
    (["--case", "request-lost,disk-full"], "--case"),
    (["--case", "reply-lost", "--orders", "3"], "--case"),
    (["--truth-table", "--orders", "3"], "--truth-table"),
    (["--truth-table", "--semantics", "exactly-once"], "--truth-table"),
])
def test_bad_semantics_arguments_exit_2_with_one_line(args, mentions):
    done = cli(*args)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("python -m engine: error:") and mentions in lines[0]


def test_semantics_in_the_help_and_the_words():
    help_text = cli("--help").stdout
    for word in ("--semantics", "--max-attempts", "--outbox", "--truth-table", "--case",
                 "exactly-once", "durable"):
        assert word in help_text
    done = cli("--case", "reply-lost", "--semantics", "at-least-once")
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("at-least-once, at most 5 attempts run")
    assert "orders reserved twice or more: 1" in done.stdout
    assert "2 attempts: double-reserved" in done.stdout


def test_the_truth_table_in_text_and_json():
    text = cli("--truth-table")
    assert text.returncode == 0 and text.stderr == ""
    lines = text.stdout.splitlines()
    assert any("at-most-once" in line and "exactly-once" in line for line in lines)
    data = report("--truth-table", "--outbox", "durable", "--max-attempts", "3")
    assert (data["outbox"], data["max_attempts"]) == ("durable", 3)
    assert len(data["rows"]) == 2 ** 5
    assert set(data["outcomes"]) == {"consistent", "stuck", "reserved-not-approved",
                                     "double-reserved"}
    for row in data["rows"]:
        for cell in row["cells"].values():
            assert cell["outcome"] in data["outcomes"]
            assert cell["reproduce"]["config"]["outbox"] == "durable"
    # A cell's command line plays its case: the same outcome from the report.
    row = next(r for r in data["rows"] if r["failures"] == ["request-lost", "reply-lost"])
    cell = row["cells"]["at-least-once"]
    assert cell["outcome"] == "double-reserved"
    command = cell["reproduce"]["cli"].split()
    assert command[:3] == ["python", "-m", "engine"]
    [order] = report(*command[3:])["orders"]
    assert (order["divergence"], order["times_reserved"]) == ("double-reserved",
                                                              cell["times_reserved"])


def test_a_retrying_run_exports_and_replays_event_for_event(tmp_path):
    path = tmp_path / "run.json"
    args = ("--trace", "--semantics", "exactly-once", "--outbox", "durable",
            "--orders", "30", "--loss", "reply=0.3", "--loss", "sender-crash=0.1",
            "--seed", "5")
    first = cli(*args, "--export", str(path))
    assert first.returncode == 0, first.stderr
    config = json.loads(path.read_text())["config"]
    assert (config["semantics"], config["outbox"], config["max_attempts"]) == (
        "exactly-once", "durable", 5)
    again = cli("--trace", "--replay", str(path))
    assert again.returncode == 0 and again.stdout == first.stdout
    refused = cli("--replay", str(path), "--semantics", "at-most-once")
    assert refused.returncode == 2 and "--semantics" in refused.stderr
