"""The serving layer: sessions and pacing, inbound validation, the hub, the Socket.IO
handlers and the transport workarounds. The only package that knows about sockets, wall
time and pacing; it drives ``engine/``, which knows nothing of it (docs/architecture.md)."""

from .factory import DEFAULTS, create_app
from .handlers import socketio

__all__ = ["DEFAULTS", "create_app", "socketio"]
