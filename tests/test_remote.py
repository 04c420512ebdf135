"""One core, many viewers: a daemon's bus and control over a real Unix socket.

Every test runs a real RemoteServer over a LocalBus + MemoryControl in a short
temporary directory (Unix socket paths are limited to 108 bytes) and real
clients; the permission tests drop to the `nobody` account in a child process.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from camwatch.tui import sample
from camwatch.tui.app import CamwatchApp
from camwatch.tui.screens.alerts import AlertsScreen

from camwatch.alerts.model import AlertEvent, AlertState
from camwatch.bus import LocalBus, Subscription
from camwatch.control import ControlError, MemoryControl
from camwatch.remote import (
    CONNECTION_LOST,
    ConnectionChanged,
    RemoteAccessError,
    RemoteBus,
    RemoteControl,
    RemoteError,
    RemoteServer,
    ThumbnailReady,
    attach,
    connect,
    serve,
)
from camwatch.remote_access import (
    access_help,
    account_name,
    audit_user,
    is_allowed,
    peer_groups,
)
from camwatch.remote_wire import (
    AnalysisView,
    WireError,
    decode_event,
    encode_event,
    load,
    thumb_from_wire,
    thumb_to_wire,
)
from camwatch.state import CameraState, FrameSample, Status, StatusChanged

NOBODY = 65534


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="cw", dir="/tmp"))
    d.chmod(0o755)  # the permission tests reach it as another user
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Core:
    """A running daemon core: bus, control with a sample fleet, and its server."""

    def __init__(self, path: Path, n: int = 20, **opts: object) -> None:
        self.bus = LocalBus()
        self.control = MemoryControl(self.bus, clock=lambda: sample.EPOCH)
        self.states = sample.fleet(n)
        sample.populate(self.bus, self.control, self.states)
        self.server = serve(self.bus, self.control, path, **opts)


@pytest.fixture
async def core(sock_dir: Path) -> AsyncIterator[Core]:
    c = Core(sock_dir / "d.sock")
    await c.server.start()
    yield c
    await c.server.stop()


@pytest.fixture
async def viewers(core: Core) -> AsyncIterator[Callable[..., object]]:
    opened: list[RemoteBus] = []

    async def open_viewer(**opts: object) -> tuple[RemoteBus, RemoteControl]:
        bus, control = await connect(core.server.path, **opts)  # type: ignore[arg-type]
        opened.append(bus)
        return bus, control

    yield open_viewer
    for bus in opened:
        await bus.aclose()


async def until(check: Callable[[], object], limit: float = 3.0) -> None:
    """Wait (polling the event loop) until check() is true; fail after `limit` seconds."""
    async with asyncio.timeout(limit):
        while not check():  # noqa: ASYNC110 - these states have no event to wait on
            await asyncio.sleep(0.01)


def drained(sub: Subscription) -> list[object]:
    return sub.get_nowait()


# --- the wire format ------------------------------------------------------------------


def test_camera_state_round_trip_with_analysis_view() -> None:
    state = sample.fleet(3)[2]  # cam-003: defocus firing, a real AnalysisResult inside
    line = encode_event(state)
    assert line is not None and line.endswith(b"\n") and line.count(b"\n") == 1
    back = decode_event(load(line))
    assert isinstance(back, CameraState)
    assert back.conditions == state.conditions and back.stats == state.stats
    assert back.info == state.info and back.status is Status.LIVE
    view = back.analysis
    assert isinstance(view, AnalysisView)
    assert view.sharpness_pct == 31.0 and view.motion_level == state.motion_level
    grid = np.array(view.motion_grid)
    assert grid.shape == (9, 16) and (grid == state.analysis.motion_grid).all()  # type: ignore[attr-defined]
    assert not hasattr(view, "conditions")  # conditions travel once, with the state
    assert getattr(view, "no_such_field", None) is None
    with pytest.raises(AttributeError):
        view.sharpness_pct = 1.0  # type: ignore[misc]
    assert decode_event(load(line)) == back  # equal views compare equal, so do states


def test_events_round_trip() -> None:
    alert = sample.alerts_for(sample.fleet(20))[0]
    for event in (
        AlertEvent("acknowledged", replace(alert, acked_by="ann"), 5.0),
        StatusChanged("cam-1", Status.LIVE, Status.OFFLINE, "timeout", 7.5),
    ):
        assert decode_event(load(encode_event(event))) == event  # type: ignore[arg-type]
    assert encode_event(object()) is None  # kinds viewers do not get are skipped


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"\xff\xfe\n", "not JSON"),
        (b"[1, 2]\n", "JSON object"),
        (b'{"t": "state", "v": {"name": "x"}}\n', "url"),
        (b'{"t": "state", "v": {"name": "x", "url": "u", "status": "dancing"}}\n', "Status"),
        (b'{"t": "state", "v": {"name": 5, "url": "u"}}\n', "expected str"),
        (b'{"t": "alert", "v": []}\n', "expected an object"),
        (b'{"t": "launch"}\n', "unknown event"),
    ],
)
def test_garbage_lines_raise_wire_error_naming_the_problem(line: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        decode_event(load(line))


def test_thumbnail_encoding_checks_shape_and_size() -> None:
    rgb = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    data = thumb_to_wire(FrameSample("c", 1.0, 0.0, None, rgb))
    back = thumb_from_wire(data)
    assert back.rgb.shape == (4, 6, 3) and (back.rgb == rgb).all()
    assert back.gray.shape == (4, 6) and not back.rgb.flags.writeable
    with pytest.raises(WireError, match="bytes for a 4x7"):
        thumb_from_wire({**data, "shape": [4, 7, 3]})
    with pytest.raises(WireError, match="bad shape"):
        thumb_from_wire({**data, "shape": [4, 6, 4]})
    with pytest.raises(WireError, match="base64"):
        thumb_from_wire({**data, "rgb": "!!!"})
    with pytest.raises(WireError, match="uint8"):
        thumb_to_wire(FrameSample("c", 1.0, 0.0, None, rgb.astype(np.float32)))


# --- access -----------------------------------------------------------------------------


def test_peer_credential_rule() -> None:
    daemon, group = 1000, 2000
    assert is_allowed(1000, frozenset({1000}), daemon, group)  # the daemon's own user
    assert is_allowed(0, frozenset({0}), daemon, group)  # root
    assert is_allowed(1001, frozenset({1001, 2000}), daemon, group)  # in the socket's group
    assert not is_allowed(1001, frozenset({1001, 27}), daemon, group)
    assert not is_allowed(65534, frozenset(), daemon, group)


def test_peer_groups_come_from_proc_then_the_group_database(tmp_path: Path) -> None:
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "status").write_text("Name:\tx\nUid:\t7\nGroups:\t4 24 2000 \n")
    assert peer_groups(42, 7, 7, proc=tmp_path) == frozenset({7, 4, 24, 2000})
    root = peer_groups(43, 0, 0, proc=tmp_path)  # no /proc entry: the group database
    assert 0 in root


def test_audit_names_the_verified_account() -> None:
    assert audit_user("ann", "ann") == "ann"
    assert audit_user("ann", "") == "ann"
    assert audit_user("svc", "bob") == "svc (as bob)"


async def test_socket_is_created_0660_and_refusal_explained(core: Core) -> None:
    st = os.stat(core.server.path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    text = access_help(core.server.path, "bob")
    assert str(core.server.path) in text and "mode 0660" in text
    assert f"sudo usermod -aG {core.server.path.group()} bob" in text


NOBODY_CLIENT = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from camwatch.remote import RemoteError, connect
    os.setgroups([]); os.setgid({uid}); os.setuid({uid})
    async def main():
        try:
            bus, _ = await connect(sys.argv[1], reconnect=False)
        except RemoteError as exc:
            return {{"error": type(exc).__name__, "message": str(exc)}}
        await bus.aclose()
        return {{"error": None}}
    print(json.dumps(asyncio.run(main())))
    """
).format(uid=NOBODY)


async def as_nobody(path: Path) -> dict:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", NOBODY_CLIENT, str(path), stdout=subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return json.loads(out)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching to nobody needs root")


@needs_root
async def test_kernel_refuses_other_users_with_a_clear_message(core: Core) -> None:
    result = await as_nobody(core.server.path)  # socket 0660 root:root, nobody not in root
    assert result["error"] == "RemoteAccessError"
    message = result["message"]
    assert f"socket {core.server.path}" in message and "owner root, group root" in message
    assert "sudo usermod -aG root nobody" in message


@needs_root
async def test_daemon_refuses_a_peer_outside_the_group_even_on_an_open_socket(
    core: Core,
) -> None:
    os.chmod(core.server.path, 0o666)  # loosened by hand: the peer check still holds
    result = await as_nobody(core.server.path)
    assert result["error"] == "RemoteAccessError"
    assert "the daemon says: user nobody may not use this socket" in result["message"]
    assert core.server.viewers == 0


async def test_refusal_line_becomes_remote_access_error(sock_dir: Path) -> None:
    path = sock_dir / "fake.sock"

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b'{"t":"error","code":"forbidden","error":"user x may not"}\n')
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(refuse, path=str(path))
    try:
        with pytest.raises(RemoteAccessError, match=r"usermod -aG .*the daemon says: user x"):
            await connect(path, reconnect=False)
    finally:
        server.close()
        await server.wait_closed()


async def test_other_protocol_versions_and_strangers_are_refused(sock_dir: Path) -> None:
    path = sock_dir / "fake.sock"
    greeting = {"line": b'{"t":"hello","proto":"camwatch","version":99}\n'}

    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting["line"])
        await writer.drain()
        await reader.read(100)
        writer.close()

    server = await asyncio.start_unix_server(talk, path=str(path))
    try:
        with pytest.raises(RemoteError, match="version 99, this camwatch speaks 1"):
            await connect(path, reconnect=False)
        greeting["line"] = b"SSH-2.0-OpenSSH_9.2\r\n"
        with pytest.raises(RemoteError, match="bad data from the daemon"):
            await connect(path, reconnect=False)
    finally:
        server.close()
        await server.wait_closed()


# --- two viewers on one core ------------------------------------------------------------


async def test_states_published_on_the_daemon_reach_both_viewers(core: Core, viewers) -> None:  # type: ignore[no-untyped-def]
    (bus_a, _), (bus_b, _) = await viewers(), await viewers()
    assert bus_a.states() == core.bus.states() == bus_b.states()
    sub_a, sub_b = bus_a.subscribe(), bus_b.subscribe()
    changed = replace(core.states[0], status=Status.OFFLINE, reason="switch down")
    core.bus.publish(changed)
    core.bus.publish(StatusChanged(changed.name, Status.LIVE, Status.OFFLINE, "switch down", 1.0))
    for bus, sub in ((bus_a, sub_a), (bus_b, sub_b)):
        await until(lambda bus=bus: bus.states()[changed.name].status is Status.OFFLINE)
        got = drained(sub)
        assert [type(m).__name__ for m in got] == ["CameraState", "StatusChanged"]
        assert got[0] == changed


async def test_ack_through_one_viewer_reaches_the_other_at_once(core: Core, viewers) -> None:  # type: ignore[no-untyped-def]
    (bus_a, ctl_a), (bus_b, ctl_b) = await viewers(user="ann"), await viewers()
    sub_b = bus_b.subscribe()
    firing = await ctl_a.active_alerts()
    assert {a.id for a in firing} == {a.id for a in sample.alerts_for(core.states)}
    target = firing[0]
    acked = await ctl_a.acknowledge(target.id, "ann", "cable cut")
    assert acked.state is AlertState.ACKNOWLEDGED and acked.ack_comment == "cable cut"
    await until(lambda: sub_b._items)
    event = drained(sub_b)[0]
    assert isinstance(event, AlertEvent) and event.kind == "acknowledged"
    assert event.alert.id == target.id and event.alert.acked_by == acked.acked_by
    audit = [e for e in core.control.audit if e.action == "ack"]
    assert [(e.target, e.detail) for e in audit] == [(target.id, "cable cut")]
    assert audit[0].user == audit_user(account_name(os.getuid()), "ann")
    with pytest.raises(ControlError, match="unknown alert 'no-such-alert'"):
        await ctl_b.acknowledge("no-such-alert", "ann", "")
    _ = bus_a


async def test_silence_baseline_history_and_views_go_through(core: Core, viewers) -> None:  # type: ignore[no-untyped-def]
    _, ctl = await viewers(user="ann")
    silence = await ctl.silence("site", "north", 3600, "works", "ann")
    assert (silence.target_kind, silence.target, silence.end - silence.start) == (
        "site",
        "north",
        3600,
    )
    with pytest.raises(ControlError, match="between 1 second and 30 days"):
        await ctl.silence("camera", "cam-001", -5, "", "ann")
    await ctl.capture_baseline("cam-002", "ann")
    assert [b[0] for b in core.control.baselines] == ["cam-002"]
    with pytest.raises(ControlError, match="unknown camera"):
        await ctl.capture_baseline("cam-999", "ann")
    history = await ctl.alert_history(2)
    assert len(history) == 2
    ctl.record_view("cam-004", "ann")
    await until(lambda: core.control.views())
    assert [e.target for e in core.control.views()] == ["cam-004"]


async def test_thumbnail_round_trip_and_unchanged_frames(core: Core, viewers) -> None:  # type: ignore[no-untyped-def]
    bus, ctl = await viewers()
    sub = bus.subscribe()
    known = np.arange(12 * 20 * 3, dtype=np.uint8).reshape(12, 20, 3)
    core.control.set_thumbnail(FrameSample("cam-001", 100.0, 1.5, None, known))
    assert ctl.thumbnail("cam-001") is None  # nothing cached yet: fetched in the background
    await until(lambda: ctl.thumbnail("cam-001") is not None)
    got = ctl.thumbnail("cam-001")
    assert got is not None and got.at == 100.0 and got.pts_s == 1.5
    assert got.rgb.dtype == np.uint8 and (got.rgb == known).all()
    assert [m for m in drained(sub) if isinstance(m, ThumbnailReady)] == [
        ThumbnailReady("cam-001", 100.0)
    ]
    again = await ctl.fetch_thumbnail("cam-001")  # same frame: the daemon answers "unchanged"
    assert again is got and not drained(sub)
    assert await ctl.fetch_thumbnail("cam-999") is None


async def test_thumbnails_off_on_the_daemon_send_nothing(sock_dir: Path) -> None:
    c = Core(sock_dir / "p.sock", thumbnails=False)
    async with c.server:
        bus, ctl = await connect(c.server.path)
        try:
            assert await ctl.fetch_thumbnail("cam-001") is None
            assert c.control.thumbnail_calls == 0
        finally:
            await bus.aclose()


async def test_command_timeout_is_a_control_error(core: Core, viewers) -> None:  # type: ignore[no-untyped-def]
    hang = asyncio.Event()

    async def never(*args: object) -> None:
        await hang.wait()

    core.control.capture_baseline = never  # type: ignore[method-assign]
    _, ctl = await viewers(call_timeout=0.2)
    with pytest.raises(ControlError, match=r"did not answer within 0\.2 s"):
        await ctl.capture_baseline("cam-001", "ann")
    hang.set()


# --- a slow viewer ----------------------------------------------------------------------


async def raw_viewer(path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_unix_connection(str(path), limit=1 << 16)
    assert load(await reader.readline())["t"] == "hello"
    writer.write(b'{"t":"hello","proto":"camwatch","version":1,"user":"slow"}\n')
    await writer.drain()
    return reader, writer


async def read_until_sync(reader: asyncio.StreamReader) -> tuple[dict, dict[str, CameraState]]:
    states: dict[str, CameraState] = {}
    while True:
        message = load(await reader.readline())
        if message["t"] == "state":
            st = decode_event(message)
            states[st.name] = st  # type: ignore[attr-defined]
        elif message["t"] == "sync":
            return message, states


async def test_slow_viewer_loses_old_states_then_resyncs_and_never_blocks(
    sock_dir: Path,
) -> None:
    c = Core(sock_dir / "s.sock", n=50, queue=32)
    async with c.server:
        reader, writer = await raw_viewer(c.server.path)
        first, _ = await read_until_sync(reader)
        assert first["reload"] is False
        fast_bus, _ = await connect(c.server.path)
        try:
            # The slow viewer reads nothing while 4000 states (~8 MB) are published.
            loop = asyncio.get_running_loop()
            for rnd in range(80):
                t0 = loop.time()
                for st in c.states:
                    c.bus.publish(replace(st, updated=st.updated + rnd + 1))
                assert loop.time() - t0 < 0.5  # publishing never waits for a viewer
                await asyncio.sleep(0)
            slow = next(v for v in c.server._viewers if v.claimed == "slow")
            assert len(slow.sub._items) <= 32 and slow.sub.dropped > 0  # bounded mailbox
            final = c.bus.states()
            await until(lambda: fast_bus.states() == final)  # the fast viewer kept up
            # Now the slow viewer reads: a reload sync, then the latest of everything.
            reloaded = None
            mirror: dict[str, CameraState] = {}
            async with asyncio.timeout(10):
                while reloaded is None or mirror != final:
                    message = load(await reader.readline())
                    if message["t"] == "state":
                        st = decode_event(message)
                        mirror[st.name] = st  # type: ignore[attr-defined]
                    elif message["t"] == "sync" and message["reload"]:
                        reloaded = message
            assert set(reloaded["names"]) == set(final)
        finally:
            writer.close()
            await fast_bus.aclose()


async def test_viewer_that_stops_reading_is_disconnected(sock_dir: Path) -> None:
    c = Core(sock_dir / "w.sock", n=50, queue=16, write_timeout=0.3)
    async with c.server:
        _, writer = await raw_viewer(c.server.path)
        await until(lambda: c.server.viewers == 1)
        for rnd in range(100):
            for st in c.states:
                c.bus.publish(replace(st, updated=st.updated + rnd + 1))
            await asyncio.sleep(0)
        await until(lambda: c.server.viewers == 0, limit=5)
        writer.close()


async def test_bad_requests_get_errors_and_the_connection_survives(core: Core) -> None:
    reader, writer = await raw_viewer(core.server.path)
    await read_until_sync(reader)
    for line in (
        b"this is not json\n",
        b'{"t":"call","id":1,"op":"launch_missiles","args":{}}\n',
        b'{"t":"call","id":2,"op":"acknowledge","args":{"alert_id":5}}\n',
        b'{"t":"call","id":3,"op":"alert_history","args":{"limit":1}}\n',
    ):
        writer.write(line)
    await writer.drain()
    answers = []
    async with asyncio.timeout(3):
        while len(answers) < 4:
            message = load(await reader.readline())
            if message["t"] in ("error", "reply"):
                answers.append(message)
    errors = {m.get("id"): m.get("error") for m in answers}
    assert "not JSON" in errors[None]
    assert errors[1] == "bad request: unknown operation 'launch_missiles'"
    assert errors[2] == "bad request: alert_id must be a non-empty string"
    assert next(m for m in answers if m.get("id") == 3)["ok"] is True
    writer.write(b"x" * (70 * 1024) + b"\n")  # over the 64 KiB request bound: dropped
    await writer.drain()
    async with asyncio.timeout(3):
        while True:
            line = await reader.readline()
            if not line:
                break
            if load(line)["t"] == "error":
                assert "request over" in load(line)["error"]
    writer.close()


# --- daemon lifecycle -------------------------------------------------------------------


def stale_socket(path: Path) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()  # the file stays: what a killed daemon leaves behind


async def test_stale_socket_is_replaced(sock_dir: Path) -> None:
    path = sock_dir / "old.sock"
    stale_socket(path)
    assert await attach(path) is None  # nobody answers on it
    c = Core(path)
    async with c.server:
        bus, _ = await connect(path)
        assert bus.states() == c.bus.states()
        await bus.aclose()
    assert not path.exists()  # stop removes the socket


async def test_second_daemon_on_a_live_socket_is_refused(core: Core) -> None:
    other = serve(LocalBus(), MemoryControl(LocalBus()), core.server.path)
    with pytest.raises(RemoteError, match="another camwatch daemon is already serving"):
        await other.start()
    assert core.server.path.exists()
    bus, _ = await connect(core.server.path)  # the first one still serves
    await bus.aclose()


async def test_a_file_that_is_not_a_socket_is_left_alone(sock_dir: Path) -> None:
    path = sock_dir / "notes.txt"
    path.write_text("keep me")
    with pytest.raises(RemoteError, match="not a socket"):
        await serve(LocalBus(), MemoryControl(LocalBus()), path).start()
    assert path.read_text() == "keep me"


async def test_attach_without_a_daemon_is_none(sock_dir: Path) -> None:
    assert await attach(sock_dir / "none.sock") is None


async def test_stop_disconnects_viewers_and_they_reconnect(sock_dir: Path) -> None:
    path = sock_dir / "r.sock"
    first = Core(path, n=5)
    await first.server.start()
    bus, ctl = await connect(path)
    try:
        sub = bus.subscribe()
        await first.server.stop()
        await until(lambda: not bus.connected)
        lost = [m for m in drained(sub) if isinstance(m, ConnectionChanged)]
        assert [(m.connected, m.message) for m in lost] == [(False, CONNECTION_LOST)]
        assert "daemon stopping" in lost[0].reason
        with pytest.raises(ControlError, match="not connected"):
            await ctl.active_alerts()
        second = Core(path, n=8)  # a restarted daemon with more cameras
        async with second.server:
            await until(lambda: bus.connected, limit=8)
            back = [m for m in drained(sub) if isinstance(m, ConnectionChanged)]
            assert [m.connected for m in back] == [True]
            assert bus.states() == second.bus.states() and len(bus.states()) == 8
            assert sub.dropped == 1  # subscribers are told to reload alerts and states
            assert len(await ctl.active_alerts()) == len(sample.alerts_for(second.states))
    finally:
        await bus.aclose()


async def test_server_is_reusable_as_context_and_reports_viewers(core: Core, viewers) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(core.server, RemoteServer) and core.server.serving
    await viewers()
    await viewers()
    await until(lambda: core.server.viewers == 2)


# --- two TUIs on one daemon -------------------------------------------------------------


async def test_two_tuis_attached_to_one_daemon_see_each_others_acks(core: Core, viewers) -> None:  # type: ignore[no-untyped-def]
    opts = {
        "clock": lambda: sample.EPOCH,
        "colors": "truecolor",
        "refresh_interval": 0.05,
        "thumb_interval": 3600.0,
        "theme_dir": Path("/nonexistent/camwatch/themes"),
    }
    bus_a, ctl_a = await viewers(user="ann")
    bus_b, ctl_b = await viewers(user="bob")
    app_a = CamwatchApp(bus_a, ctl_a, user="ann", **opts)  # type: ignore[arg-type]
    app_b = CamwatchApp(bus_b, ctl_b, user="bob", **opts)  # type: ignore[arg-type]
    async with app_a.run_test(size=(120, 30)) as pilot_a, app_b.run_test(size=(120, 30)) as pilot_b:
        for app, pilot in ((app_a, pilot_a), (app_b, pilot_b)):
            await app.alerts_loaded.wait()
            await pilot.press("2")
            await pilot.pause()
            assert isinstance(app.screen, AlertsScreen)
            assert len(app.screen.table.order) == len(sample.alerts_for(core.states))
        target = app_a.screen.table.order[0]
        assert app_b.screen.table.get_cell(target, "state") == "firing"
        await pilot_a.press("a")
        await pilot_a.pause()
        await pilot_a.press(*"on it", "enter")
        await app_a.workers.wait_for_complete()

        def acked_in_b() -> bool:
            return app_b.screen.table.get_cell(target, "state") == "acked"

        await until(acked_in_b)
        assert "ann" in app_b.screen.table.get_cell(target, "by")
        assert app_b.alerts.get(target).ack_comment == "on it"

        # The daemon goes away: both TUIs say so and keep running.
        await core.server.stop()
        await until(lambda: app_b.link_notice == CONNECTION_LOST)
        await pilot_b.pause()
        assert CONNECTION_LOST in str(app_b.screen.query_one("#view").render())


def test_run_attached_without_a_daemon_leaves_the_choice_to_the_caller(sock_dir: Path) -> None:
    from camwatch.tui.app import run_attached

    assert run_attached(sock_dir / "none.sock") is None
    stale_socket(sock_dir / "stale.sock")
    assert run_attached(sock_dir / "stale.sock") is None
