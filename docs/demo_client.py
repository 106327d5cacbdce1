"""Drive one session of the at-most-once visualizer from Python (docs/protocol.md).

Switches the reply-lost failure point on, creates an order and prints every event until
the sender gives up waiting: the Customer service reserved the credit, the order stays
new, and the sender cannot tell why.

    python app.py &                      # the server (another terminal is fine too)
    python docs/demo_client.py [--url http://127.0.0.1:5000] [--speed 2]

Needs python-socketio with its client extras (requirements-dev.txt has them).
"""

from __future__ import annotations

import argparse
import threading

import socketio

SHOWN = ("point", "mode", "order", "msg", "leg", "kind", "amount", "state", "to", "reason",
         "divergence", "reserved", "outcome")


def describe(event: dict) -> str:
    details = ", ".join(f"{key}={event[key]}" for key in SHOWN if key in event)
    return f"t={event['t']:7.3f}  #{event['seq']:<4} {event['type']:<22} {details}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    parser.add_argument("--speed", type=float, default=2.0,
                        help="virtual seconds per wall second (0.05..200)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="give up after this many wall seconds")
    args = parser.parse_args(argv)

    sio = socketio.Client()
    done = threading.Event()
    # python-socketio runs each handler in a thread of its own: two batches (or a batch and
    # its snapshot) may be handled in either order. Apply them by from_seq, never in the
    # order the handlers happen to run.
    lock = threading.Lock()
    view = {"run": None, "seq": None}  # the run shown, and the last seq applied to it
    waiting: dict[tuple[int, int], dict] = {}  # (run, from_seq) -> a batch not due yet

    def catch_up() -> None:
        """Apply the waiting batches that continue the view (the lock is held)."""
        key = (view["run"], view["seq"] + 1)
        while key in waiting:
            batch = waiting.pop(key)
            for event in batch["events"]:
                print(describe(event))
                if event["type"] == "sender-timeout":
                    done.set()
            view["seq"] = batch["to_seq"]
            key = (view["run"], view["seq"] + 1)

    @sio.on("snapshot")
    def on_snapshot(snapshot):
        with lock:
            if view["run"] is not None and \
                    (snapshot["run"], snapshot["seq"]) < (view["run"], view["seq"]):
                return  # an older snapshot, handled late
            view.update(run=snapshot["run"], seq=snapshot["seq"])
            print(f"snapshot: run {snapshot['run']} of {snapshot['scenario']}, "
                  f"t={snapshot['t']}, seq {snapshot['seq']}")
            for key in [k for k in waiting if k[0] != view["run"] or k[1] <= view["seq"]]:
                del waiting[key]  # of another run, or already in the snapshot
            catch_up()
            ack = dict(view)
        # Acknowledge what we have: the server runs at most a window ahead of our acks.
        sio.emit("ack", {"seq": ack["seq"], "run": ack["run"]})

    @sio.on("events")
    def on_events(batch):
        with lock:
            if view["run"] is not None and (batch["run"] < view["run"] or (
                    batch["run"] == view["run"] and batch["from_seq"] <= view["seq"])):
                return  # a run we left, or events we have
            waiting[(batch["run"], batch["from_seq"])] = batch
            if view["run"] is None:
                return  # its snapshot has not been handled yet
            before = view["seq"]
            catch_up()
            ack = dict(view) if view["seq"] != before else None
        if ack is not None:
            sio.emit("ack", {"seq": ack["seq"], "run": ack["run"]})

    @sio.on("error")
    def on_error(payload):
        print("error:", payload["error"]["message"])

    def command(cmd: str, **fields) -> dict:
        answer = sio.call("command", {"cmd": cmd, **fields}, timeout=10)
        if not answer["ok"]:
            raise SystemExit(f"{cmd} refused: {answer['error']['message']}")
        return answer

    sio.connect(args.url, transports=["websocket"])
    try:
        joined = sio.call("join", {"session": None}, timeout=10)
        print(f"joined session {joined['session']}")
        # A clean run: the happy-path preset without its scripted first order.
        command("scenario", name="happy-path", script=False)
        command("set-failure", point="reply-lost", mode="on")
        order = command("create-order", amount=250)["order"]
        print(f"created order {order} with reply-lost on")
        command("speed", speed=args.speed)
        command("play")
        if not done.wait(args.timeout):
            print("the sender did not time out in time")
            return 1
        sio.sleep(0.3)  # the batch that follows the timeout, if any
        print("the sender saw silence: it cannot tell a lost reply from a lost request")
        return 0
    finally:
        sio.disconnect()


if __name__ == "__main__":
    raise SystemExit(main())
