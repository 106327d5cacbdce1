"""A streamed run (keep_orders=False) forgets finished orders but tells the same story."""

from engine import Config, Simulation

LOSSY = {"orders": 12000, "order_interval": 0.01, "credit_limit": 10**9,
         "failures": {"request-lost": {"probability": 0.05},
                      "crash-after-processing": {"probability": 0.01},
                      "reply-lost": {"probability": 0.05}}}


def _events(keep: bool) -> tuple[Simulation, list[dict]]:
    sim = Simulation(Config.from_dict(LOSSY), trace=True, keep_orders=keep)
    events: list[dict] = []
    sim.run(sink=events.append)
    return sim, events


def test_streamed_run_emits_the_same_events_and_summary():
    kept, kept_events = _events(True)
    streamed, streamed_events = _events(False)
    assert streamed_events == kept_events
    assert streamed.summary() == kept.summary()
    assert streamed.invariant() == kept.invariant()


def test_streamed_run_keeps_only_recent_orders():
    streamed, _ = _events(False)
    kept_orders = list(streamed.iter_orders())
    assert streamed.orders == 12000
    assert 0 < len(kept_orders) < 12000 // 2
    assert kept_orders[-1]["id"] == 12000
    # What is kept is the true state of those orders.
    kept, _ = _events(True)
    full = {o["id"]: o for o in kept.iter_orders()}
    for order in kept_orders:
        assert order == full[order["id"]]


def test_keep_recent_orders_keeps_a_classroom_run_whole():
    config = Config.from_dict({**LOSSY, "orders": 3000})
    sim = Simulation(config, trace=False, keep_orders=2000)
    sim.run()
    kept = list(sim.iter_orders())
    assert len(kept) >= 2000
    assert kept[-1]["id"] == 3000
    small = Simulation(Config.from_dict({**LOSSY, "orders": 1500}), trace=False, keep_orders=2000)
    small.run()
    assert [o["id"] for o in small.iter_orders()] == list(range(1, 1501))
