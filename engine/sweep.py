"""How much does loss cost? A sweep of the loss probability over many orders (issue 11).

For each loss probability ``p`` of ``points`` evenly spaced ones, 0 to ``max_loss`` both
included (``p_i = max_loss * i / (points - 1)``; the defaults give 0 %, 1.58 %, ... 30 %),
two runs in report mode, both with ``seed``:

- the happy-path config with ``orders`` orders and *both network legs* lossy: the failure
  points ``request-lost`` and ``reply-lost`` each with probability ``p`` (the crash points
  stay off). The credit limit is raised to ``orders * amount`` so that credit never runs
  out (otherwise every order after the tenth would be refused and the reservations that
  leak would say nothing). It gives the share of orders whose two services disagree
  (diverged), and how many ended consistent, stuck in ``new`` (nothing reserved) or with
  credit reserved for an order never approved;
- the metrics-stream config with ``samples = orders`` and the same ``p`` on the request
  leg (the only leg a sample travels): the aggregate's relative error
  ``|seen_mean - true_mean| / true_mean`` and the share of samples lost.

Pure and deterministic: the same arguments give the same figures, always.
"""

from __future__ import annotations

from .config import check_float, check_int
from .errors import ConfigError
from .presets import preset_config
from .simulation import _K_RESERVED, _K_STUCK, Simulation

MIN_POINTS, MAX_POINTS = 2, 50
MIN_ORDERS, MAX_ORDERS = 100, 100_000
# The most runs of one order (points x orders) one sweep may ask for: about 3 s of CPU.
MAX_WORK = 300_000
LEGS = ("request-lost", "reply-lost")


class _ReportOnly(Simulation):
    """Report mode with nothing per sample but the sums: the metrics stream's per-sample
    event fields are never read in report mode, so they are not computed either."""

    def metrics(self) -> dict:
        return {}


def check_which(which: object) -> tuple[str, ...]:
    """Which network failure points are lossy: one or both of request-lost, reply-lost."""
    if isinstance(which, str):
        which = (which,)
    allowed = "one or both of " + ", ".join(LEGS)
    if not isinstance(which, (list, tuple)) or not which:
        raise ConfigError("which", which, allowed)
    for point in which:
        if point not in LEGS:
            raise ConfigError("which", point, allowed)
    return tuple(point for point in LEGS if point in which)


def check_sweep(points: object = 20, orders: object = 10_000, max_loss: object = 0.3,
                seed: object = 1) -> tuple[int, int, float, int]:
    """The sweep's arguments validated; a ConfigError names the field."""
    points = check_int("points", points, MIN_POINTS, MAX_POINTS)
    orders = check_int("orders", orders, MIN_ORDERS, MAX_ORDERS)
    max_loss = check_float("max_loss", max_loss, 0.0, 1.0)
    seed = check_int("seed", seed, 0, 2**53 - 1)
    if points * orders > MAX_WORK:
        raise ConfigError("orders", orders, f"at most {MAX_WORK // points} with {points} "
                          f"points (points x orders at most {MAX_WORK})")
    return points, orders, max_loss, seed


def loss_levels(points: int, max_loss: float) -> list[float]:
    """The loss probabilities swept: evenly spaced, 0 and max_loss both included."""
    return [round(max_loss * i / (points - 1), 12) for i in range(points)]


def sweep_point(loss: float, orders: int, seed: int, which: tuple[str, ...] = LEGS) -> dict:
    """One point of the sweep: the two runs at loss probability ``loss``."""
    lossy = {"probability": loss}
    config = preset_config("happy-path", {
        "orders": orders, "seed": seed, "credit_limit": orders * 100, "amount": 100,
        "failures": {leg: lossy for leg in which}})
    sim = Simulation(config, trace=False)
    sim.run()
    kinds = sim._kind  # the per-order column of divergence kinds (report mode keeps it)
    stuck = kinds.count(_K_STUCK)
    reserved = kinds.count(_K_RESERVED)

    # A sample only travels the request leg: lossy when request-lost is swept (else the
    # metrics stream loses nothing, and its error stays 0).
    sample_loss = {"probability": loss if "request-lost" in which else 0.0}
    metrics = preset_config("metrics-stream", {
        "samples": orders, "seed": seed, "failures": {"request-lost": sample_loss}})
    stream = _ReportOnly(metrics, trace=False)
    stream.run()
    # The sums are in thousandths (exact: see Simulation.true_sum).
    true_mean = stream.true_sum / 1000 / stream.true_count if stream.true_count else 0.0
    seen_mean = stream.seen_sum / 1000 / stream.seen_count if stream.seen_count else 0.0
    error = abs(seen_mean - true_mean) / true_mean if true_mean else 0.0
    lost = stream.true_count - stream.seen_count
    return {
        "loss": loss,
        "orders": sim.orders,
        "diverged": sim.diverged,
        "consistent": sim.consistent,
        "stuck": stuck,
        "reserved_not_approved": reserved,
        "diverged_share": sim.diverged / sim.orders if sim.orders else 0.0,
        "samples": stream.true_count,
        "samples_lost": lost,
        "lost_share": lost / stream.true_count if stream.true_count else 0.0,
        "true_mean": round(true_mean, 6),
        "seen_mean": round(seen_mean, 6),
        "metrics_error": error,
    }


def iter_loss_sweep(points: int = 20, orders: int = 10_000, max_loss: float = 0.3,
                    seed: int = 1, which=LEGS):
    """The points of ``loss_sweep`` one at a time (a server can yield between them)."""
    points, orders, max_loss, seed = check_sweep(points, orders, max_loss, seed)
    which = check_which(which)
    for loss in loss_levels(points, max_loss):
        yield sweep_point(loss, orders, seed, which)


def sweep_header(points: int, orders: int, max_loss: float, seed: int,
                 which=LEGS) -> dict:
    """What a sweep was asked: everything of its answer but the points."""
    return {"orders": orders, "max_loss": max_loss, "seed": seed,
            "legs": list(check_which(which)), "config": "happy-path",
            "metrics_config": "metrics-stream", "max_work": MAX_WORK}


def loss_sweep(points: int = 20, orders: int = 10_000, max_loss: float = 0.3,
               seed: int = 1, which=LEGS) -> dict:
    """The whole sweep: ``{"points": [...], "orders", "max_loss", "seed", "legs", ...}``."""
    points, orders, max_loss, seed = check_sweep(points, orders, max_loss, seed)
    return {**sweep_header(points, orders, max_loss, seed, which),
            "points": list(iter_loss_sweep(points, orders, max_loss, seed, which))}
