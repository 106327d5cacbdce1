"""GET /api/compare and GET /api/truth-table (server/compare.py, issue 12): the three
semantics on one setup share the first attempt's fate; at-least-once can reserve twice
where exactly-once answers from its record; bad parameters are refused by name; answers
are cached."""

from __future__ import annotations

import pytest

from server.factory import create_app

LANES = ["at-most-once", "at-least-once", "exactly-once"]


@pytest.fixture(scope="module")
def client():
    app = create_app({"AMO_PACER": False, "TESTING": True, "AMO_ASYNC_MODE": "threading"})
    return app.test_client()


def get(client, query: str) -> dict:
    answer = client.get("/api/compare?" + query)
    assert answer.status_code == 200, answer.data
    return answer.get_json()


def first_attempt_fates(lane: dict) -> dict:
    """Per order: its first request's latency and fate, and its reply's fate."""
    sent = {}
    fates = {}
    for e in lane["events"]:
        if e.get("attempt") != 1 or "msg" not in e:
            continue
        key = (e["order"], e["leg"]) if "leg" in e else None
        if e["type"] == "message-sent":
            sent[e["msg"]] = key
            fates[key] = [round(e["arrives_at"] - e["t"], 9)]
        elif e["type"] in ("message-delivered", "message-lost"):
            fates[key].append((e["type"], e.get("reason")))
    return fates


def test_the_three_lanes_share_the_first_attempts_fate(client):
    answer = get(client, "scenario=lossy-network&seed=3&orders=60&request-lost=20%"
                         "&reply-lost=20%&crash-before-processing=0&crash-after-processing=0")
    assert [lane["semantics"] for lane in answer["lanes"]] == LANES
    fates = [first_attempt_fates(lane) for lane in answer["lanes"]]
    assert len(fates[0]) > 100  # 60 orders' requests and most replies
    assert fates[0] == fates[1] == fates[2]
    lost = [k for k, v in fates[0].items() if v[-1][0] == "message-lost"]
    assert lost, "the schedule loses some first attempts"
    # Only the retrying lanes retry; the order count is the same.
    summaries = [lane["summary"] for lane in answer["lanes"]]
    assert summaries[0]["retries"] == 0 and summaries[1]["retries"] > 0
    assert {s["orders"] for s in summaries} == {60}


def test_at_least_once_double_reserves_where_exactly_once_suppresses(client):
    answer = get(client, "case=reply-lost")
    amo, alo, eo = (lane["summary"] for lane in answer["lanes"])
    assert amo["outcomes"]["reserved-not-approved"] == 1 and amo["retries"] == 0
    assert alo["double_reserved"] == 1 and alo["duplicates_delivered"] == 1
    assert alo["outcomes"]["double-reserved"] == 1
    assert eo["double_reserved"] == 0 and eo["duplicates_suppressed"] == 1
    assert eo["outcomes"]["consistent"] == 1
    types = [e["type"] for e in answer["lanes"][2]["events"]]
    assert "duplicate-suppressed" in types and "duplicate-delivered" not in types
    # A many-order run: at-least-once reserves twice, exactly-once never.
    many = get(client, "scenario=lossy-network&seed=1&orders=40&reply-lost=30%")
    assert many["lanes"][1]["summary"]["double_reserved"] > 0
    assert many["lanes"][2]["summary"]["double_reserved"] == 0
    assert many["lanes"][2]["summary"]["duplicates_suppressed"] > 0


def test_a_case_plays_as_the_truth_table_says(client):
    table = client.get("/api/truth-table?outbox=durable&max_attempts=5").get_json()
    assert table["failure_points"] and len(table["rows"]) == 2 ** len(table["failure_points"])
    row = next(r for r in table["rows"] if r["failures"] == ["request-lost", "reply-lost"])
    assert row["case"] == "request-lost,reply-lost"
    answer = get(client, f"case={row['case']}&outbox=durable&max_attempts=5")
    assert answer["setup"]["case"] == row["case"]
    for lane in answer["lanes"]:
        outcome = row["cells"][lane["semantics"]]["outcome"]
        assert lane["summary"]["outcomes"][outcome] == 1
    assert table["rows"][0]["case"] == "none"
    assert get(client, "case=none")["lanes"][0]["summary"]["outcomes"]["consistent"] == 1


@pytest.mark.parametrize("query, name", [
    ("orders=201", "orders"), ("orders=-1", "orders"), ("seed=abc", "seed"),
    ("seed=99999999999999999", "seed"), ("max_attempts=0", "max_attempts"),
    ("max_attempts=101", "max_attempts"), ("outbox=disk", "outbox"), ("scenario=nope", "scenario"),
    ("reply-lost=maybe", "reply-lost"), ("request-lost=150%", "request-lost"),
    ("case=bogus", "case"), ("case=reply-lost&scenario=happy-path", "scenario"),
    ("colour=red", "colour"), ("seed=1&seed=2", "seed"),
    ("scenario=reply-lost&reply-lost=on&max_attempts=100&orders=199", "orders"),
])
def test_a_bad_parameter_is_refused_by_name(client, query, name):
    answer = client.get("/api/compare?" + query)
    assert answer.status_code == 400
    assert answer.mimetype == "text/plain"
    assert answer.data.decode().startswith(f"400 bad request: {name}: ")


@pytest.mark.parametrize("query, name", [
    ("outbox=x", "outbox"), ("max_attempts=1000", "max_attempts"), ("case=none", "case")])
def test_the_truth_table_refuses_by_name(client, query, name):
    answer = client.get("/api/truth-table?" + query)
    assert answer.status_code == 400
    assert answer.data.decode().startswith(f"400 bad request: {name}: ")


def test_answers_are_cached_and_deterministic(client):
    one = client.get("/api/compare?scenario=four-failures&seed=2")
    two = client.get("/api/compare?seed=2&scenario=four-failures")
    assert one.data == two.data
    lanes = one.get_json()["lanes"]
    assert all(len(lane["events"]) <= 50_000 for lane in lanes)
    event = lanes[0]["events"][0]
    assert {"seq", "t", "type"} <= set(event)
    assert "credit_limit" not in str(lanes[0]["events"])  # compact: the view's fields only
