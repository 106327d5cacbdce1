"""``python -m bench classroom [--followers N] [--duration S]``: a classroom (issue 13).

One presenter leads a room; N followers (python-socketio clients, websocket) follow it,
spread over two server processes sharing a real redis-server (``--message-queue``), then
the same N on one process without Redis, in the same run. Figures per setup: every
follower received every batch in order (no gap, nothing twice), the p50/p99 fan-out
latency (the presenter's process stamps ``server_time`` when it sends a batch; a follower
notes when it got it: same machine, same clock), and each presenter command (one
``create-order`` a second) applied once: exactly one ``order-created`` per command in
every follower's stream. Then the faults, on the two-process setup: Redis restarted
mid-lecture (what the followers see), and one server process killed (its followers
re-join the other with their last seq: they must resume at the next seq).

The followers run in ``--client-procs`` worker processes (``--worker``: this module again,
talking JSON lines over stdin/stdout), so the clients' own threads do not share one
interpreter's lock: several hundred python-socketio clients in one process measure the
client more than the servers.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import threading
import time
from collections import Counter

from tests.support import AckingClient, RedisServer, ServerProcess, redis_available

LESSON = {"cmd": "scenario", "name": "lossy-network", "config": {"orders": 100_000}}
SPEED = 2.0


class Follower:
    """One student's browser, as far as the stream goes: joins the room, checks every
    batch continues the last, re-joins with its last seq after a gap or a reconnect."""

    def __init__(self, url: str, room: str) -> None:
        import socketio

        self.room = room
        self.url = url
        self.run = None
        self.seq = None
        self.latencies: list[float] = []
        self.gaps = 0  # batches that did not continue the last (then re-joined)
        self.twice = 0  # events received twice
        self.resumed = 0
        self.snapshots = 0
        self.refused = 0  # joins refused (the room's record was being written again)
        self.orders: dict[int, int] = {}  # order id -> order-created events seen
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("snapshot", self.on_snapshot)
        self.sio.on("events", self.on_events)
        self.connect(url)

    def connect(self, url: str) -> None:
        self.url = url
        self.sio.connect(url, transports=["websocket"], wait_timeout=20)
        self.join()

    def join(self) -> None:
        for _ in range(20):  # a room whose record is being written again: a moment
            try:
                answer = self.sio.call("room-join", {"room": self.room, "last_seq": self.seq,
                                                     "run": self.run}, timeout=20)
            except Exception as error:  # no answer within 20 s (an overloaded machine)
                answer = {"ok": False, "error": repr(error)}
            if answer.get("ok"):
                break
            self.refused += 1
            time.sleep(0.5)
        else:
            raise RuntimeError(f"room-join refused: {answer}")
        if answer.get("resumed"):
            self.resumed += 1

    def on_snapshot(self, snap: dict) -> None:
        with self.lock:
            self.snapshots += 1
            self.run, self.seq = snap["run"], snap["seq"]

    def on_events(self, batch: dict) -> None:
        got = time.time()
        with self.lock:
            if self.seq is None or batch["run"] != self.run:
                return
            if batch["to_seq"] <= self.seq:
                self.twice += len(batch["events"])
                return
            if batch["from_seq"] > self.seq + 1:
                self.gaps += 1
                self.sio.start_background_task(self.join)
                return
            for event in batch["events"]:
                if event["seq"] <= self.seq:
                    continue
                if event["type"] == "order-created":
                    self.orders[event["order"]] = self.orders.get(event["order"], 0) + 1
            self.seq = batch["to_seq"]
            self.latencies.append(got - batch["server_time"])

    def close(self) -> None:
        try:
            self.sio.disconnect()
        except Exception:
            pass


def percentile(hist: Counter, p: float) -> float:
    """The p-th percentile of latencies kept as 0.1 ms buckets (seconds)."""
    total = sum(hist.values())
    if not total:
        return float("nan")
    rank = min(total - 1, int(p / 100 * total))
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen > rank:
            return bucket / 10_000
    return max(hist) / 10_000


def bucketed(latencies: list[float]) -> Counter:
    return Counter(max(0, int(x * 10_000)) for x in latencies)


def worker(urls: list[str], room: str, n: int, offset: int) -> int:
    """``--worker``: n followers; reads {"do": "move", ...} / {"do": "stop", ...} lines,
    writes one JSON line per answer (the last: the followers' figures)."""
    followers = [Follower(urls[(offset + i) % len(urls)], room) for i in range(n)]
    print(json.dumps({"ready": n}), flush=True)
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["do"] == "move":
            moved = 0
            for f in followers:
                if f.url == msg["from"]:
                    f.sio = type(f.sio)(reconnection=False)
                    f.sio.on("snapshot", f.on_snapshot)
                    f.sio.on("events", f.on_events)
                    f.connect(msg["to"])  # re-joins with its last seq
                    moved += 1
            print(json.dumps({"moved": moved}), flush=True)
        elif msg["do"] == "stop":
            commands, head = msg["commands"], msg["head"]
            hist: Counter = Counter()
            for f in followers:
                hist.update(bucketed(f.latencies))
            out = {"followers": n, "batches": sum(len(f.latencies) for f in followers),
                   "hist": {str(k): v for k, v in hist.items()},
                   "gaps": sum(f.gaps for f in followers),
                   "twice": sum(f.twice for f in followers),
                   "resumed": sum(f.resumed for f in followers),
                   "snapshots": sum(f.snapshots for f in followers),
                   "refused": sum(f.refused for f in followers),
                   "behind": sum(1 for f in followers if f.seq != head),
                   "once": all(all(f.orders.get(order) == 1 for order in commands)
                               for f in followers)}
            for f in followers:
                f.close()
            print(json.dumps(out), flush=True)
            return 0
    return 1


class Workers:
    """The follower processes of one lecture."""

    def __init__(self, urls: list[str], room: str, n: int, procs: int) -> None:
        self.procs = []
        share = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
        offset = 0
        for count in share:
            if not count:
                continue
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "bench.classroom", "--worker", "--urls", ",".join(urls),
                 "--room", room, "--followers", str(count), "--offset", str(offset)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
            offset += count

    def answers(self) -> list[dict]:
        out = []
        for proc in self.procs:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"a follower process ended (status {proc.wait()})")
            out.append(json.loads(line))
        return out

    def tell(self, message: dict) -> list[dict]:
        for proc in self.procs:
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
        return self.answers()

    def close(self) -> None:
        for proc in self.procs:
            try:
                proc.stdin.close()
                proc.wait(timeout=30)
            except Exception:
                proc.kill()


def lecture(urls: list[str], presenter_url: str, n: int, duration: float,
            faults=None, procs: int = 1) -> dict:
    presenter = AckingClient(presenter_url)
    assert presenter.call("join", {"session": None})["ok"]
    room = presenter.call("room-start")
    assert presenter.call("command", LESSON)["ok"]
    assert presenter.call("command", {"cmd": "speed", "speed": SPEED})["ok"]
    assert presenter.call("command", {"cmd": "play"})["ok"]
    started = time.perf_counter()
    workers = Workers(urls, room["room"], n, procs)
    try:
        workers.answers()  # every follower joined
        joined = time.perf_counter() - started
        commands = []
        t0 = time.perf_counter()
        step = 0
        while time.perf_counter() - t0 < duration:
            answer = presenter.call("command", {"cmd": "create-order", "amount": 1})
            if answer.get("ok"):
                commands.append(answer["order"])
            step += 1
            if faults:
                faults(step, workers)
            time.sleep(1.0)
        presenter.call("command", {"cmd": "pause"})
        time.sleep(2.0)
        head = presenter.batches[-1]["to_seq"] if presenter.batches else 0
        parts = workers.tell({"do": "stop", "commands": commands, "head": head})
    finally:
        workers.close()
    hist: Counter = Counter()
    for part in parts:
        hist.update({int(k): v for k, v in part["hist"].items()})
    presenter_once = sorted(commands) == sorted(set(commands))
    result = {"followers": n, "join_s": joined, "client_procs": len(parts),
              "batches": sum(p["batches"] for p in parts),
              "p50_ms": 1000 * percentile(hist, 50),
              "p99_ms": 1000 * percentile(hist, 99),
              "max_ms": 1000 * (max(hist) / 10_000 if hist else float("nan")),
              "gaps": sum(p["gaps"] for p in parts), "twice": sum(p["twice"] for p in parts),
              "resumed": sum(p["resumed"] for p in parts),
              "snapshots": sum(p["snapshots"] for p in parts),
              "behind_at_end": sum(p["behind"] for p in parts),
              "refused": sum(p["refused"] for p in parts),
              "commands": len(commands),
              "each_command_once": all(p["once"] for p in parts) and presenter_once,
              "head_seq": head}
    presenter.close()
    return result


def show(name: str, r: dict) -> None:
    print(f"{name}: {r['followers']} followers joined in {r['join_s']:.1f} s; "
          f"{r['batches']} batches received; fan-out p50 {r['p50_ms']:.1f} ms, "
          f"p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms; gaps {r['gaps']} "
          f"(re-joined, {r['resumed']} resumed), twice {r['twice']}, snapshots "
          f"{r['snapshots']}, joins refused {r['refused']}; at the end "
          f"{r['behind_at_end']} behind head seq "
          f"{r['head_seq']}; {r['commands']} commands, each applied once: "
          f"{r['each_command_once']}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench classroom")
    parser.add_argument("--followers", type=int, default=200)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="20 followers, 8 s")
    parser.add_argument("--client-procs", type=int, default=None,
                        help="follower processes (default: one per 150 followers, 1 to 4)")
    parser.add_argument("--no-faults", action="store_true",
                        help="skip the third lecture (Redis restarted, a process killed)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    parser.add_argument("--room", help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.urls.split(","), args.room, args.followers, args.offset)
    if args.quick:
        args.followers, args.duration = 20, 8.0
    procs = args.client_procs or max(1, min(4, math.ceil(args.followers / 150)))
    if not redis_available():
        print("classroom: redis-server is not installed (make test installs it): skipped")
        return 0
    status = 0
    with RedisServer(log_name="bench-classroom-redis") as redis:
        extra = ["--message-queue", redis.url, "--max-sessions", "5000",
                 "--session-rate", "100000"]
        a = ServerProcess("eventlet", extra, log_name="bench-classroom-a")
        b = ServerProcess("eventlet", extra, log_name="bench-classroom-b")
        single = ServerProcess("eventlet", extra[2:], log_name="bench-classroom-single")
        try:
            print(f"{args.followers} followers in {procs} client processes, "
                  f"{args.duration:g} s each", flush=True)
            two = lecture([a.url, b.url], a.url, args.followers, args.duration, procs=procs)
            show("2 processes + Redis", two)
            one = lecture([single.url], single.url, args.followers, args.duration, procs=procs)
            show("1 process, no Redis", one)
            for r in (two, one):
                if r["behind_at_end"] or r["twice"] or not r["each_command_once"]:
                    status = 1

            # Faults on the two-process setup: Redis restarted, then process B killed.
            said = []

            def faults(step: int, workers: Workers) -> None:
                third = max(2, int(args.duration / 3))
                if step == third:
                    redis.restart()
                    said.append(f"Redis restarted at {step} s")
                elif step == 2 * third:
                    b.stop()
                    moved = sum(m["moved"] for m in workers.tell(
                        {"do": "move", "from": b.url, "to": a.url}))
                    said.append(f"B killed at {step} s, {moved} followers re-joined A")

            if args.no_faults:
                return status
            faulty = lecture([a.url, b.url], a.url, args.followers,
                             max(args.duration, 9.0), faults, procs=procs)
            print("; ".join(said))
            show("2 processes + Redis, with faults", faulty)
            if faulty["behind_at_end"] or not faulty["each_command_once"]:
                status = 1
        finally:
            for server in (a, b, single):
                server.stop()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
