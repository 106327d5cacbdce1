"""The loss sweep (engine/sweep.py, issue 11): no loss, no divergence; more loss, more
divergence; the metrics stream loses samples but barely moves; the same arguments give the
same figures; bad arguments name their field."""

from __future__ import annotations

import pytest

from engine import ConfigError, loss_sweep
from engine.sweep import MAX_WORK, check_sweep, loss_levels


@pytest.fixture(scope="module")
def sweep():
    return loss_sweep(points=5, orders=2000, max_loss=0.3, seed=7)


def test_the_points_are_evenly_spaced_from_0_to_max_loss():
    assert loss_levels(5, 0.3) == pytest.approx([0.0, 0.075, 0.15, 0.225, 0.3])
    assert loss_levels(20, 0.3)[1] == pytest.approx(0.3 / 19)


def test_no_loss_no_divergence_and_an_exact_aggregate(sweep):
    first = sweep["points"][0]
    assert first["loss"] == 0.0
    assert first["diverged"] == 0 and first["diverged_share"] == 0.0
    assert first["consistent"] == first["orders"] == 2000
    assert first["samples_lost"] == 0 and first["metrics_error"] == 0.0


def test_more_loss_more_divergence(sweep):
    points = sweep["points"]
    shares = [p["diverged_share"] for p in points]
    assert shares[0] < shares[1] < shares[-1]
    assert shares == sorted(shares)  # monotone at this spacing
    last = points[-1]
    # Both legs lossy at p: an order survives with (1 - p)^2.
    assert last["diverged_share"] == pytest.approx(1 - 0.7 ** 2, abs=0.04)
    assert last["stuck"] + last["reserved_not_approved"] == last["diverged"]
    assert last["diverged"] + last["consistent"] == last["orders"]
    assert last["stuck"] > 0 and last["reserved_not_approved"] > 0
    # The metrics stream loses about p of its samples, and its average barely moves.
    assert last["lost_share"] == pytest.approx(0.3, abs=0.04)
    assert 0 < last["metrics_error"] < 0.01


def test_the_answer_says_what_was_swept(sweep):
    assert sweep["legs"] == ["request-lost", "reply-lost"]
    assert (sweep["orders"], sweep["max_loss"], sweep["seed"]) == (2000, 0.3, 7)
    assert len(sweep["points"]) == 5


def test_one_leg_only():
    result = loss_sweep(points=2, orders=1000, max_loss=0.2, which=["reply-lost"])
    last = result["points"][-1]
    assert last["stuck"] == 0 and last["reserved_not_approved"] == last["diverged"] > 0
    assert last["samples_lost"] == 0  # a sample never travels the reply leg


def test_deterministic_by_seed(sweep):
    again = loss_sweep(points=5, orders=2000, max_loss=0.3, seed=7)
    assert again == sweep
    other = loss_sweep(points=5, orders=2000, max_loss=0.3, seed=8)
    assert other["points"][-1]["diverged"] != sweep["points"][-1]["diverged"]


@pytest.mark.parametrize(("args", "field"), [
    ({"points": 1}, "points"), ({"points": 51}, "points"), ({"points": "20"}, "points"),
    ({"orders": 99}, "orders"), ({"orders": 100_001}, "orders"), ({"orders": 2.5}, "orders"),
    ({"max_loss": -0.1}, "max_loss"), ({"max_loss": 1.5}, "max_loss"),
    ({"max_loss": float("nan")}, "max_loss"), ({"seed": -1}, "seed"),
    ({"points": 50, "orders": 100_000}, "orders"), ({"which": ["crash-after-processing"]}, "which"),
    ({"which": []}, "which"),
])
def test_bad_arguments_name_their_field(args, field):
    with pytest.raises(ConfigError) as caught:
        loss_sweep(**{"points": 2, "orders": 100, **args})
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: got ")


def test_the_work_cap():
    assert check_sweep(20, 10_000)[:2] == (20, 10_000)
    assert check_sweep(30, MAX_WORK // 30)[1] == MAX_WORK // 30
    with pytest.raises(ConfigError, match=r"orders: .*at most 10000 with 30 points"):
        check_sweep(30, 10_001)
