"""One core, many viewers: a running core's bus and control over a local Unix socket.

Cameras accept only a few RTSP sessions, so one daemon watches them and every
technician's `camwatch` attaches to it. `serve()` exposes the daemon's `Bus`
and `Control`; `connect()`/`attach()` give a viewer a `RemoteBus` and a
`RemoteControl` with the same interfaces, so the TUI runs unchanged on either.

Protocol (newline-delimited JSON, see camwatch.remote_wire):

    daemon -> viewer  {"t":"hello","proto":"camwatch","version":1}
    viewer -> daemon  {"t":"hello","proto":"camwatch","version":1,"user":"alice"}
    daemon -> viewer  {"t":"state","v":{...}} for every camera, then
                      {"t":"sync","names":[...],"reload":false}
    daemon -> viewer  {"t":"state"|"status"|"alert"|"fleet","v":{...}} as the core publishes
    viewer -> daemon  {"t":"call","id":7,"op":"acknowledge","args":{...}}
    daemon -> viewer  {"t":"reply","id":7,"ok":true,"v":...} or "ok":false,"error":"..."
    daemon -> viewer  {"t":"bye","reason":"..."} before it closes; {"t":"error",...} on refusal

The daemon never waits for a viewer: each viewer has a bounded drop-oldest
mailbox on the bus; a viewer that fell behind gets the latest state of every
camera again and a "sync" with reload=true (its subscribers see `dropped`
grow and reload alerts), and one that stops reading for `write_timeout` is
disconnected. Access: see camwatch.remote_access.
"""

from __future__ import annotations

from .remote_client import (
    CALL_TIMEOUT_S,
    CONNECTION_LOST,
    ConnectionChanged,
    RemoteBus,
    RemoteControl,
    RemoteLink,
    ThumbnailReady,
    attach,
    connect,
)
from .remote_server import RemoteServer, serve
from .remote_wire import PROTOCOL, VERSION, RemoteAccessError, RemoteError

__all__ = [
    "CALL_TIMEOUT_S",
    "CONNECTION_LOST",
    "PROTOCOL",
    "VERSION",
    "ConnectionChanged",
    "RemoteAccessError",
    "RemoteBus",
    "RemoteControl",
    "RemoteError",
    "RemoteLink",
    "RemoteServer",
    "ThumbnailReady",
    "attach",
    "connect",
    "serve",
]
