"""The Socket.IO handlers: each hands its event to the app's hub (server.hub) and returns
the hub's answer. ``socketio`` is created here, bound to an app by ``create_app``."""

from __future__ import annotations

from flask import current_app, request
from flask_socketio import SocketIO

from .hub import Hub

socketio = SocketIO()


def hub() -> Hub:
    return current_app.extensions["amo_hub"]


@socketio.on("connect")
def on_connect(auth=None):
    hub().connected(request.sid, request.remote_addr or "")


@socketio.on("disconnect")
def on_disconnect(*reason):
    hub().disconnected(request.sid)


@socketio.on("join")
def on_join(*args):
    return hub().handle("join", request.sid, args)


@socketio.on("command")
def on_command(*args):
    return hub().handle("command", request.sid, args)


@socketio.on("*")
def on_other(event, *args):
    return hub().handle(event, request.sid, args)


def register_ack(the_hub: Hub) -> None:
    """A client acks every batch: up to 30 a second per tab. The ack handler needs no Flask
    request context, so it is registered on the Socket.IO server itself, which saves most
    of the cost of an ack (Flask-SocketIO builds a request context per event)."""

    def on_ack(sid, *args):
        return the_hub.handle("ack", sid, args)

    socketio.server.on("ack", on_ack)
