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

The followers are ``socketio.AsyncClient``s (websocket over aiohttp), many on one asyncio
loop in each of ``--client-procs`` worker processes (``--worker``: this module again,
talking JSON lines over stdin/stdout). They join ``--join-concurrency`` at a time per
process (the servers are not asked for a thousand snapshots at once). A follower whose
socket drops reconnects and re-joins with its last seq, as the page does. The latency
counts from the moment every follower has joined (joining is checked all the same); each
worker also reports its loop's lag and every process its CPU (the followers': from then
until they have drained the lecture's batches, per second of lecture), so a figure says
whether the servers or the clients were short of time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter

from tests.support import AckingClient, RedisServer, ServerProcess, redis_available

LESSON = {"cmd": "scenario", "name": "lossy-network", "config": {"orders": 100_000}}
SPEED = 2.0
JOIN_TIMEOUT = 20.0
DEFLATE = {"compress": 15}  # aiohttp offers permessage-deflate, as browsers do


class Tally:
    """What one worker's followers measured together (one asyncio loop: no lock)."""

    def __init__(self) -> None:
        self.hist: Counter = Counter()  # fan-out latency, 0.1 ms buckets
        self.batches = 0
        self.lag: Counter = Counter()  # the loop's lag, 0.1 ms buckets
        self.t0 = time.time()
        self.worst: dict[int, float] = {}  # second of the lecture -> its worst latency

    def reset(self) -> None:
        self.hist.clear()
        self.batches = 0
        self.lag.clear()
        self.t0 = time.time()
        self.worst.clear()

    def note(self, got: float, latency: float) -> None:
        self.batches += 1
        self.hist[max(0, int(latency * 10_000))] += 1
        second = int(got - self.t0)
        if latency > self.worst.get(second, 0.0):
            self.worst[second] = latency


class Follower:
    """One student's browser, as far as the stream goes: joins the room, checks every
    batch continues the last, re-joins with its last seq after a gap or a reconnect."""

    def __init__(self, tally: Tally, url: str, room: str, deflate: bool = False) -> None:
        self.tally = tally
        self.deflate = deflate
        self.room = room
        self.url = url
        self.sio = None
        self.run = None
        self.seq = None
        self.joined = False
        self.rejoining = False
        self.closing = False
        self.lock = asyncio.Lock()  # one connect at a time (a reconnect, a move)
        self.reconnecting = None
        self.connects = 0
        self.error = ""
        self.gaps = 0  # batches that did not continue the last (then re-joined)
        self.twice = 0  # events received twice
        self.resumed = 0
        self.snapshots = 0
        self.refused = 0  # joins refused (the room's record was being written again)
        self.dropped = 0  # disconnected, not by the bench (a server gone, no ping in time)
        self.reconnected = 0  # ... then connected again and re-joined, as the page does
        self.orders: dict[int, int] = {}  # order id -> order-created events seen

    def client(self):
        import socketio

        # The standard json module: engineio's own (its default) checks every integer's
        # length in Python and builds a new decoder per message, a fifth of a follower's
        # time here; the bench trusts its own server.
        sio = socketio.AsyncClient(reconnection=False, json=json, websocket_extra_options=
                                   dict(DEFLATE) if self.deflate else None)
        sio.on("snapshot", self.on_snapshot)
        sio.on("events", self.on_events)
        sio.on("disconnect", lambda *reason: self.on_disconnect(sio))
        return sio

    async def connect(self, url: str) -> None:
        async with self.lock:
            old, self.sio, self.url = self.sio, self.client(), url
            if old is not None:  # the process it was on is gone: free its http session
                await quietly(old.disconnect())
            # As the page: a follower says so (follow=1), and the server then offers its
            # socket no compression (server/transport.py, FollowersWithoutDeflate).
            await self.sio.connect(f"{url}/?follow=1", transports=["websocket"],
                                   wait_timeout=JOIN_TIMEOUT)
            await self.join()
            self.joined = True
            self.connects += 1

    async def join(self) -> None:
        for _ in range(20):  # a room whose record is being written again: a moment
            try:
                answer = await self.sio.call("room-join", {"room": self.room,
                                                           "last_seq": self.seq,
                                                           "run": self.run},
                                             timeout=JOIN_TIMEOUT)
            except Exception as error:  # no answer in time (an overloaded machine)
                answer = {"ok": False, "error": repr(error)}
            if answer.get("ok"):
                break
            self.refused += 1
            await asyncio.sleep(0.5)
        else:
            raise RuntimeError(f"room-join refused: {answer}")
        if answer.get("resumed"):
            self.resumed += 1

    async def rejoin(self) -> None:
        try:
            await self.join()
        except Exception as error:
            self.error = repr(error)
        finally:
            self.rejoining = False

    def on_snapshot(self, snap: dict) -> None:
        self.snapshots += 1
        self.run, self.seq = snap["run"], snap["seq"]

    def on_events(self, batch: dict) -> None:
        got = time.time()
        if self.seq is None or batch["run"] != self.run:
            return
        if batch["to_seq"] <= self.seq:
            self.twice += len(batch["events"])
            return
        if batch["from_seq"] > self.seq + 1:
            if not self.rejoining:  # one re-join at a time: the batches meanwhile wait
                self.gaps += 1
                self.rejoining = True
                asyncio.get_running_loop().create_task(self.rejoin())
            return
        for event in batch["events"]:
            if event["seq"] <= self.seq:
                continue
            if event["type"] == "order-created":
                self.orders[event["order"]] = self.orders.get(event["order"], 0) + 1
        self.seq = batch["to_seq"]
        self.tally.note(got, got - batch["server_time"])

    def on_disconnect(self, sio) -> None:
        if self.closing or sio is not self.sio:  # the bench's own, or an old client's
            return
        self.dropped += 1
        if self.reconnecting is None:
            self.reconnecting = asyncio.get_running_loop().create_task(self.reconnect())

    async def reconnect(self) -> None:
        """What the page does when its socket drops (here: the server's ping came more
        than 5 s late, or its process is gone): connect again, re-join with the last seq.
        A follower moved meanwhile (``move``) is left alone."""
        connects = self.connects
        try:
            for attempt in range(5):
                await asyncio.sleep(1.0 + attempt)
                if self.closing or self.connects != connects:
                    return
                try:
                    await self.connect(self.url)
                    self.reconnected += 1
                    return
                except Exception as error:
                    self.error = repr(error)
        finally:
            self.reconnecting = None

    async def close(self) -> None:
        self.closing = True
        if self.sio is not None:
            await quietly(self.sio.disconnect())


async def quietly(awaitable) -> None:
    try:
        await asyncio.wait_for(awaitable, 5.0)
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


async def watch_loop(tally: Tally, every: float = 0.02) -> None:
    """How late the worker's loop wakes (what every follower's handler waits on top)."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + every
        await asyncio.sleep(every)
        tally.lag[max(0, int((loop.time() - due) * 10_000))] += 1


async def work(urls: list[str], room: str, n: int, offset: int, concurrency: int,
               deflate: bool = False) -> int:
    loop = asyncio.get_running_loop()
    tally = Tally()
    followers = [Follower(tally, urls[(offset + i) % len(urls)], room, deflate)
                 for i in range(n)]
    gate = asyncio.Semaphore(max(1, concurrency))

    async def enter(f: Follower, url: str) -> float:
        async with gate:
            began = time.perf_counter()
            f.error = ""
            try:
                await f.connect(url)
            except Exception as error:
                f.error = repr(error)
            return time.perf_counter() - began

    took = await asyncio.gather(*(enter(f, f.url) for f in followers))
    watcher = loop.create_task(watch_loop(tally))
    failed = [f.error for f in followers if not f.joined]
    print(json.dumps({"ready": n, "joined": n - len(failed), "join_max_s": max(took),
                      "errors": failed[:3]}), flush=True)
    cpu0 = time.process_time()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        msg = json.loads(line)
        if msg["do"] == "go":  # every worker has joined: the lecture's figures begin
            tally.reset()
            cpu0 = time.process_time()
            print(json.dumps({"go": n}), flush=True)
        elif msg["do"] == "move":
            moving = [f for f in followers if f.url == msg["from"]]
            await asyncio.gather(*(enter(f, msg["to"]) for f in moving))
            print(json.dumps({"moved": sum(1 for f in moving if f.joined and not f.error),
                              "errors": [f.error for f in moving if f.error][:3]}),
                  flush=True)
        elif msg["do"] == "stop":
            commands, head = msg["commands"], msg["head"]
            deadline = loop.time() + msg.get("drain", 15.0)
            while loop.time() < deadline and any(f.seq != head for f in followers
                                                 if f.joined):
                await asyncio.sleep(0.1)  # the last batches still on their way
            cpu = time.process_time() - cpu0
            watcher.cancel()
            out = {"followers": n, "batches": tally.batches,
                   "hist": {str(k): v for k, v in tally.hist.items()},
                   "gaps": sum(f.gaps for f in followers),
                   "twice": sum(f.twice for f in followers),
                   "resumed": sum(f.resumed for f in followers),
                   "snapshots": sum(f.snapshots for f in followers),
                   "refused": sum(f.refused for f in followers),
                   "dropped": sum(f.dropped for f in followers),
                   "reconnected": sum(f.reconnected for f in followers),
                   "not_joined": sum(1 for f in followers if not f.joined),
                   "behind": sum(1 for f in followers if f.seq != head),
                   "once": all(all(f.orders.get(order) == 1 for order in commands)
                               for f in followers),
                   "cpu_s": cpu, "worst": tally.worst,
                   "lag_p99_ms": 1000 * percentile(tally.lag, 99),
                   "lag_max_ms": 1000 * (max(tally.lag) / 10_000 if tally.lag else 0.0)}
            await asyncio.gather(*(f.close() for f in followers))
            print(json.dumps(out), flush=True)
            return 0
    return 1


def worker(urls: list[str], room: str, n: int, offset: int, concurrency: int = 8,
           deflate: bool = False) -> int:
    """``--worker``: n followers on one asyncio loop; reads {"do": "go"} / {"do": "move",
    ...} / {"do": "stop", ...} lines, writes one JSON line per answer (the last: the
    followers' figures)."""
    return asyncio.run(work(urls, room, n, offset, concurrency, deflate))


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Linux), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, TypeError):
        return 0.0


def machine_busy_seconds() -> float:
    """CPU time all of this machine's cores spent busy so far (Linux ``/proc/stat``)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


class Workers:
    """The follower processes of one lecture."""

    def __init__(self, urls: list[str], room: str, n: int, procs: int,
                 concurrency: int, deflate: bool = False) -> None:
        self.procs = []
        share = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
        offset = 0
        for count in share:
            if not count:
                continue
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "bench.classroom", "--worker", "--urls", ",".join(urls),
                 f"--room={room}", "--followers", str(count), "--offset", str(offset),
                 "--join-concurrency", str(concurrency)] + (["--deflate"] if deflate else []),
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
            faults=None, procs: int = 1, concurrency: int = 8,
            watch: dict | None = None, deflate: bool = False) -> dict:
    """One lecture; ``watch``: name -> a callable giving a process id whose CPU is noted
    (called at the start and the end: a process restarted meanwhile counts from 0)."""
    load = os.getloadavg()[0]
    presenter = AckingClient(presenter_url)
    assert presenter.call("join", {"session": None})["ok"]
    room = presenter.call("room-start")
    assert presenter.call("command", LESSON)["ok"]
    assert presenter.call("command", {"cmd": "speed", "speed": SPEED})["ok"]
    assert presenter.call("command", {"cmd": "play"})["ok"]
    started = time.perf_counter()
    workers = Workers(urls, room["room"], n, procs, concurrency, deflate)
    watch = watch or {}
    try:
        ready = workers.answers()  # every follower joined (or gave up)
        joined = time.perf_counter() - started
        workers.tell({"do": "go"})
        watch = {**watch, "presenter": os.getpid}
        cpu0 = {name: (pid(), cpu_seconds(pid())) for name, pid in watch.items()}
        busy0 = machine_busy_seconds()
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
            time.sleep(max(0.0, t0 + step - time.perf_counter()))
        presenter.call("command", {"cmd": "pause"})
        lasted = time.perf_counter() - t0
        busy = machine_busy_seconds() - busy0
        cpu = {}
        for name, pid in watch.items():
            first_pid, first = cpu0[name]
            now_pid = pid()
            used = cpu_seconds(now_pid) - (first if now_pid == first_pid else 0.0)
            cpu[name] = 100 * used / lasted
        time.sleep(2.0)
        head = presenter.batches[-1]["to_seq"] if presenter.batches else 0
        parts = workers.tell({"do": "stop", "commands": commands, "head": head})
    finally:
        workers.close()
    hist: Counter = Counter()
    for part in parts:
        hist.update({int(k): v for k, v in part["hist"].items()})
    presenter_once = sorted(commands) == sorted(set(commands))
    cpu["clients"] = 100 * sum(p["cpu_s"] for p in parts) / lasted
    machine = 100 * busy / lasted  # of 100% x cores
    others = max(0.0, machine - sum(cpu.values()))  # what else ran on the machine
    worst: dict[int, float] = {}
    for part in parts:
        for second, latency in part["worst"].items():
            worst[int(second)] = max(worst.get(int(second), 0.0), latency)
    result = {"followers": n, "join_s": joined, "client_procs": len(parts),
              "joined": sum(r["joined"] for r in ready),
              "join_errors": [e for r in ready for e in r["errors"]][:3],
              "batches": sum(p["batches"] for p in parts),
              "p50_ms": 1000 * percentile(hist, 50),
              "p99_ms": 1000 * percentile(hist, 99),
              "max_ms": 1000 * (max(hist) / 10_000 if hist else float("nan")),
              "gaps": sum(p["gaps"] for p in parts), "twice": sum(p["twice"] for p in parts),
              "resumed": sum(p["resumed"] for p in parts),
              "snapshots": sum(p["snapshots"] for p in parts),
              "behind_at_end": sum(p["behind"] for p in parts),
              "refused": sum(p["refused"] for p in parts),
              "dropped": sum(p["dropped"] for p in parts),
              "reconnected": sum(p["reconnected"] for p in parts),
              "commands": len(commands),
              "each_command_once": all(p["once"] for p in parts) and presenter_once,
              "head_seq": head, "cpu_pct": cpu, "machine_pct": machine,
              "others_pct": others, "load_before": load,
              "loop_lag_p99_ms": max(p["lag_p99_ms"] for p in parts),
              "loop_lag_max_ms": max(p["lag_max_ms"] for p in parts),
              "slow_seconds": sorted(s for s, x in worst.items() if x > 0.2)}
    presenter.close()
    return result


def show(name: str, r: dict) -> None:
    print(f"{name}: {r['joined']} of {r['followers']} followers joined in "
          f"{r['join_s']:.1f} s; "
          f"{r['batches']} batches received; fan-out p50 {r['p50_ms']:.1f} ms, "
          f"p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms; gaps {r['gaps']} "
          f"(re-joined, {r['resumed']} resumed), twice {r['twice']}, snapshots "
          f"{r['snapshots']}, joins refused {r['refused']}; at the end "
          f"{r['behind_at_end']} behind head seq "
          f"{r['head_seq']}; {r['commands']} commands, each applied once: "
          f"{r['each_command_once']}", flush=True)
    cpu = ", ".join(f"{k} {v:.0f}%" for k, v in r["cpu_pct"].items())
    print(f"  load average before {r['load_before']:.2f}; CPU (100% = one core): {cpu}; "
          f"machine {r['machine_pct']:.0f}% of {100 * (os.cpu_count() or 1)}% "
          f"(other work {r['others_pct']:.0f}%); client loop lag p99 "
          f"{r['loop_lag_p99_ms']:.1f} ms, max {r['loop_lag_max_ms']:.1f} ms; "
          f"disconnected meanwhile {r['dropped']} (reconnected and re-joined "
          f"{r['reconnected']}); seconds with a batch over 200 ms: "
          f"{len(r['slow_seconds'])} {r['slow_seconds'][:12]}"
          + (f"; join errors {r['join_errors']}" if r["join_errors"] else ""), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench classroom")
    parser.add_argument("--followers", type=int, default=200)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="20 followers, 8 s")
    parser.add_argument("--client-procs", type=int, default=None,
                        help="follower processes (default: one per 500 followers, 1 to 4)")
    parser.add_argument("--join-concurrency", type=int, default=8,
                        help="joins under way at once in each follower process (default 8)")
    parser.add_argument("--deflate", action="store_true",
                        help="followers offer permessage-deflate, as browsers do (the "
                             "server then compresses every batch for every follower)")
    parser.add_argument("--no-faults", action="store_true",
                        help="skip the third lecture (Redis restarted, a process killed)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    parser.add_argument("--room", help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.urls.split(","), args.room, args.followers, args.offset,
                      args.join_concurrency, args.deflate)
    if args.quick:
        args.followers, args.duration = 20, 8.0
    procs = args.client_procs or max(1, min(4, math.ceil(args.followers / 500)))
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

        def pid(process):
            return lambda: process.proc.pid if process.proc else None

        two_watch = {"A": pid(a), "B": pid(b), "Redis": pid(redis)}
        options = {"procs": procs, "concurrency": args.join_concurrency,
                   "deflate": args.deflate}
        try:
            print(f"{args.followers} followers in {procs} client processes (asyncio, "
                  f"{args.join_concurrency} joins at once each"
                  f"{', permessage-deflate' if args.deflate else ''}), "
                  f"{args.duration:g} s each", flush=True)
            two = lecture([a.url, b.url], a.url, args.followers, args.duration,
                          watch=two_watch, **options)
            show("2 processes + Redis", two)
            one = lecture([single.url], single.url, args.followers, args.duration,
                          watch={"single": pid(single)}, **options)
            show("1 process, no Redis", one)
            for r in (two, one):
                # "twice" is not a failure: a snapshot taken from a record ahead of the
                # batches heard overlaps them, and the seq check drops the overlap.
                if r["behind_at_end"] or not r["each_command_once"]:
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
                             max(args.duration, 9.0), faults, watch=two_watch, **options)
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
