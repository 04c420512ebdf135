"""FleetHealth over the daemon's Unix socket: a real RemoteServer and real clients
(and a hand-written daemon for lines the real one never sends)."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import overloaded_fleet

from camwatch.bus import LocalBus
from camwatch.control import MemoryControl
from camwatch.fleethealth import FleetHealth
from camwatch.remote import RemoteServer, connect, serve
from camwatch.remote_wire import MAX_REASON, WireError, decode_event, dump, encode_event, load

HEALTH = overloaded_fleet(
    at=1_700_000_000.5, samples_per_s=33.9, superseded_per_s=1.25, decode_cpu_pct=98.5,
    decode_wait_ms=None, loop_lag_p50_ms=1.5, loop_lag_p99_ms=41.0, shards=2,
)  # fmt: skip


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="cwf", dir="/tmp"))  # Unix socket paths: 108 bytes
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
async def daemon(sock_dir: Path) -> AsyncIterator[tuple[LocalBus, RemoteServer]]:
    bus = LocalBus()
    server = serve(bus, MemoryControl(bus), sock_dir / "d.sock")
    await server.start()
    yield bus, server
    await server.stop()


async def until(check: Callable[[], object], limit: float = 3.0) -> None:
    async with asyncio.timeout(limit):
        while not check():  # noqa: ASYNC110 - nothing to wait on but the mailbox
            await asyncio.sleep(0.01)


def fleet_line(**changes: object) -> bytes:
    """A fleet line as the wire carries it, with fields replaced by raw JSON values."""
    value = json.loads(encode_event(HEALTH) or b"")["v"]
    value.update(changes)
    return dump({"t": "fleet", "v": value})


def test_fleet_health_round_trips_equal() -> None:
    line = encode_event(HEALTH)
    assert line is not None and line.startswith(b'{"t":"fleet"')
    back = decode_event(load(line))
    assert isinstance(back, FleetHealth) and back == HEALTH
    calm = replace(HEALTH, overloaded=False, reason="", sample_interval_s=None, shards=1)
    assert decode_event(load(encode_event(calm) or b"")) == calm


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (fleet_line(cameras=-1), "cameras: -1 is not a finite, non-negative number"),
        (fleet_line(live=300), "live: 300 live cameras out of 217"),
        (fleet_line(shards=0), "shards: 0"),
        (fleet_line(samples_per_s="fast"), "samples_per_s: expected float, got str"),
        (fleet_line(overloaded=1), "overloaded: expected bool, got int"),
        (fleet_line(cameras=True), "cameras: expected int, got bool"),
        (fleet_line(reason="x" * (MAX_REASON + 1)), "reason: over 1000 characters"),
        (b'{"t":"fleet","v":{"at":1.0,"cameras":1}}\n', "fleet: FleetHealth: .*missing"),
        (b'{"t":"fleet","v":[1,2]}\n', "expected an object for FleetHealth"),
        (fleet_line(loop_lag_p99_ms=None).replace(b"null", b"NaN", 1), "not a finite"),
        (fleet_line(decode_cpu_pct=None).replace(b"null", b"Infinity", 1), "not a finite"),
    ],
)
def test_malformed_fleet_lines_are_wire_errors(line: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        decode_event(load(line))


def test_the_daemon_never_sends_a_fleet_health_a_viewer_would_reject() -> None:
    with pytest.raises(WireError, match="fleet: decode_cpu_pct: nan"):
        encode_event(replace(HEALTH, decode_cpu_pct=float("nan")))


async def test_fleet_health_published_on_the_daemon_reaches_the_viewer_equal(
    daemon: tuple[LocalBus, RemoteServer],
) -> None:
    bus, server = daemon
    rbus, _ = await connect(server.path, reconnect=False)
    try:
        sub = rbus.subscribe()
        # One the daemon refuses to send (logged there) must not stop the next one.
        bus.publish(replace(HEALTH, loop_lag_p99_ms=float("inf")))
        bus.publish(HEALTH)
        recovered = replace(HEALTH, at=HEALTH.at + 5, overloaded=False, reason="")
        bus.publish(recovered)
        got: list[object] = []
        await until(lambda: got.extend(sub.get_nowait()) or len(got) >= 2)
        assert got == [HEALTH, recovered]
        assert all(type(m) is FleetHealth for m in got)
        assert rbus.link.bad_lines == 0
    finally:
        await rbus.aclose()


async def test_a_malformed_fleet_line_from_the_daemon_is_skipped_not_fatal(
    sock_dir: Path,
) -> None:
    """A daemon (here hand-written) that sends a bad fleet line: the viewer counts
    it as a bad line, stays connected, and takes the good one after it."""
    path = sock_dir / "fake.sock"
    done = asyncio.Event()

    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(dump({"t": "hello", "proto": "camwatch", "version": 1}))
        await reader.readline()  # the viewer's hello
        writer.write(dump({"t": "sync", "names": [], "reload": False}))
        writer.write(fleet_line(live=-3))
        writer.write(fleet_line(samples_per_s=[1, 2]))
        writer.write(encode_event(HEALTH) or b"")
        await writer.drain()
        await done.wait()
        writer.close()

    fake = await asyncio.start_unix_server(talk, path=str(path))
    try:
        rbus, _ = await connect(path, reconnect=False)
        sub = rbus.subscribe()
        got: list[object] = []
        await until(lambda: got.extend(sub.get_nowait()) or got)
        assert got == [HEALTH]
        assert rbus.link.bad_lines == 2 and rbus.connected
        done.set()
        await rbus.aclose()
    finally:
        done.set()
        fake.close()
        await fake.wait_closed()
