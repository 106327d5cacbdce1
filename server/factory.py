"""``create_app(config)``: the Flask app with its routes, its Socket.IO endpoint and its hub.

Config keys: Flask's, plus the ``AMO_*`` keys of ``DEFAULTS``. The clock is injected
(``AMO_CLOCK``) and the frame loop optional (``AMO_PACER``), so tests need no wall time.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from engine import ConfigError
from engine.sweep import check_sweep, iter_loss_sweep, sweep_header

from . import compare, compress, rooms, transport
from .guard import Guard, HostCheck
from .handlers import register_ack, socketio
from .hub import Hub
from .i18n import NAMES, Catalogues
from .lessons import load_lessons
from .session import Limits

ROOT = Path(__file__).resolve().parent.parent
MAX_HTTP_BUFFER = 16 * 1024  # largest inbound engine.io message: far above any payload

DEFAULTS = {
    "AMO_ASYNC_MODE": "threading",  # app.py picks eventlet unless told otherwise
    "AMO_ALLOW_ORIGINS": (),  # origins allowed besides the page's own
    "AMO_BIND": None,  # (host, port) the server listens on: the Host check; None: no check
    "AMO_ALLOW_HOSTS": (),  # Host names served besides the loopback names (server.guard)
    "AMO_GRACE": 30.0,  # seconds a detached session waits for its client to come back
    "AMO_MAX_SESSIONS": 1000,
    "AMO_SESSION_RATE": None,  # new sessions per minute per client address (burst as many)
    "AMO_FPS": 30.0,  # frames per second of the pacing loop
    "AMO_FRAME_EVENTS": Limits.frame_events,
    "AMO_WINDOW": Limits.window,
    "AMO_RATE": 50.0,  # inbound messages per second per connection
    "AMO_BURST": 100.0,
    "AMO_ACK_COST": 0.2,  # an ack spends a fifth of a token: a client acks every frame
    "AMO_MAX_QUEUED": 16,  # packets waiting for a client before its session holds back
    "AMO_MAX_QUEUED_BYTES": 512 * 1024,  # or characters of them (4,000 events: ~560 KB)
    "AMO_MAX_BACKLOG": 64,  # packets waiting: its next event waits until the client reads
    "AMO_SHED_AFTER": 10.0,  # seconds an event waits so before its connection is closed
    "AMO_PACER": True,  # start the frame loop (in-process tests tick by hand)
    "AMO_CLOCK": time.monotonic,
    "AMO_PROXIES": 0,  # trusted proxies in front (--proxies): werkzeug's ProxyFix
    "AMO_MESSAGE_QUEUE": None,  # redis://... : rooms span the processes sharing it (rooms.py)
    "AMO_ROOM_IDLE": 3 * 3600.0,  # seconds a room lasts without a presenter command
    "AMO_FOLLOW_EVERY": rooms.FOLLOW_EVERY,  # seconds between batches to a room's followers
    "AMO_CODE_RATE": 10.0,  # room code attempts per minute per address (bursts of as many)
    "AMO_LESSONS": None,  # the lessons' folder (server/lessons.py); None: static/lessons
}


def same_origin_or(extra: tuple[str, ...]) -> Callable | None:
    """The engine.io origin check: the page's own origin, plus ``extra`` if any."""
    if not extra:
        return None  # engine.io's default: same origin only

    allowed = set(extra)

    def check(origin, environ) -> bool:
        if origin in allowed:
            return True
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin == own

    return check


SWEEP_PARAMS = {"points": 20, "orders": 10_000, "max_loss": 0.3, "seed": 1}


def sweep_args(query) -> tuple[int, int, float, int]:
    """The query of GET /api/sweep, validated: plain decimals, known names only."""
    for name in query:
        if name not in SWEEP_PARAMS:
            raise ConfigError(name[:40], query.get(name), "one of " + ", ".join(SWEEP_PARAMS))
    values = {}
    for name, default in SWEEP_PARAMS.items():
        text = query.get(name)
        if text is None:
            values[name] = default
            continue
        number = re.fullmatch(r"[0-9]{1,16}" if name != "max_loss"
                              else r"[0-9]{1,16}(\.[0-9]{0,16})?|\.[0-9]{1,16}", text)
        if number is None:
            check_sweep(**{**SWEEP_PARAMS, name: text})  # names the field and what is allowed
        values[name] = float(text) if name == "max_loss" else int(text)
    return check_sweep(**values)


class SweepCache:
    """The last few sweeps, by their arguments: a lecture room's refreshes are free. A
    sweep runs in the request, yielding between its points (``pause(0)``) so the frame
    loop keeps running under eventlet."""

    def __init__(self, pause: Callable[[float], object], size: int = 16) -> None:
        self.pause = pause
        self.size = size
        self.lock = threading.Lock()
        self.answers: OrderedDict[tuple, dict] = OrderedDict()

    def get(self, args: tuple[int, int, float, int]) -> dict:
        with self.lock:
            if args in self.answers:
                self.answers.move_to_end(args)
                return self.answers[args]
        points = []
        for point in iter_loss_sweep(*args):
            points.append(point)
            self.pause(0)
        answer = {**sweep_header(*args), "points": points}
        with self.lock:
            self.answers[args] = answer
            while len(self.answers) > self.size:
                self.answers.popitem(last=False)
        return answer


def create_app(config: dict | None = None) -> Flask:
    """The Flask app with its Socket.IO endpoint and its hub (``app.extensions["amo_hub"]``)."""
    app = Flask("app", root_path=str(ROOT))
    app.config.update(DEFAULTS)
    app.config["SECRET_KEY"] = os.environ.get("AMO_SECRET_KEY") or secrets.token_hex(32)
    if config:
        app.config.update(config)
    socketio.init_app(
        app,
        async_mode=app.config["AMO_ASYNC_MODE"],
        cors_allowed_origins=same_origin_or(tuple(app.config["AMO_ALLOW_ORIGINS"])),
        max_http_buffer_size=MAX_HTTP_BUFFER,
        async_handlers=False,  # one connection's events are handled in order, inline
        serializer=transport.SafePacket,
        message_queue=app.config["AMO_MESSAGE_QUEUE"],
    )
    eio = socketio.server.eio
    transport.WebSocketGuard().install(eio)
    bind = app.config["AMO_BIND"]
    app.wsgi_app = Guard(
        transport.DropBrokenWebSockets(transport.FollowersWithoutDeflate(app.wsgi_app)),
        HostCheck(bind[0], bind[1], app.config["AMO_ALLOW_HOSTS"]) if bind else None,
        max_body=MAX_HTTP_BUFFER,
        on_bad_body=lambda sid: transport.close_eio_session(eio, sid),
        session_open=lambda sid: transport.eio_session_open(eio, sid))
    proxies = int(app.config.get("AMO_PROXIES") or 0)
    if proxies:  # behind that many proxies: the client's address is their X-Forwarded-For's
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    hub = Hub(socketio, app.config)
    hub.install()
    app.extensions["amo_hub"] = hub
    register_ack(hub)
    rooms.install(app, hub)  # presenters and followers (issue 13)

    compress.install(app)

    catalogues = Catalogues(ROOT / "static" / "i18n")
    app.extensions["amo_catalogues"] = catalogues
    # The lessons, checked at start-up (a malformed file stops it, named); their words join
    # the catalogues, their structure is GET /api/lessons.
    lessons_dir = app.config["AMO_LESSONS"]
    lessons, lesson_words = load_lessons(
        Path(lessons_dir) if lessons_dir else ROOT / "static" / "lessons", catalogues.langs,
        label=str(lessons_dir) if lessons_dir else "static/lessons")
    for lang, words in lesson_words.items():
        catalogues.add(lang, words)
    app.extensions["amo_lessons"] = lessons

    @app.get("/")
    def index():
        lang, lang_error = catalogues.pick(request.args.get("lang"))
        data = {"lang": lang, "langs": {code: NAMES.get(code, code) for code in catalogues.langs},
                "words": catalogues.catalogue(lang), "error": lang_error}
        # JSON inside <script>: "</" must not close the element.
        blob = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
        return render_template("index.html", lang=lang, t=catalogues.translator(lang),
                               i18n_json=blob)

    @app.get("/healthz")
    def healthz():
        return jsonify(hub.health())

    sweeps = SweepCache(socketio.sleep)

    @app.get("/api/sweep")
    def sweep():
        """The cost of loss (engine/sweep.py): docs/protocol.md, "The cost of loss"."""
        try:
            args = sweep_args(request.args)
        except ConfigError as error:
            return (f"400 bad request: {error}\n", 400,
                    {"Content-Type": "text/plain; charset=utf-8"})
        return jsonify(sweeps.get(args))

    # The three delivery semantics side by side and the truth table (issue 12).
    compare.install(app, socketio.sleep)

    @app.get("/api/lessons")
    def lessons_api():
        """The lessons' structure (their words are in the page's catalogue): docs/lessons.md."""
        return jsonify({"lessons": lessons})

    @app.errorhandler(HTTPException)
    def plain_error(error: HTTPException):
        """Every HTTP error as one line of plain text (no HTML page)."""
        return (f"{error.code} {(error.name or 'error').lower()}\n", error.code,
                {"Content-Type": "text/plain; charset=utf-8"})

    if app.config["AMO_PACER"]:
        hub.start()
    return app
