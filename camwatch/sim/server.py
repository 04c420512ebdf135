"""The simulated camera fleet: one asyncio RTSP server for every camera.

`SimServer` owns everything it starts: the TCP listener, the shared UDP RTP and
RTCP sockets, one frame ticker per frame rate (all cameras of that rate are
served from the same timer), the fault scheduler, the session reaper and the
encoder threads. `stop()` closes all of it.

    async with SimServer(build_scenario("healthy", cameras=4)) as sim:
        print(sim.urls())
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .auth import DigestAuthority
from .camera import SimCamera, TcpSink, UdpSink
from .connection import RtspConnection, Session, new_session_id
from .encoder import LoopCache, LoopSpec
from .events import change_times, light_at, lights_of, next_change
from .faults import Occurrence, active, next_boundary
from .scenario import CameraSpec, Scenario
from .session import SessionState, TransportRequest

log = logging.getLogger("camwatch.sim")

DEFAULT_SESSION_TIMEOUT = 60.0
DEFAULT_SEND_BUFFER = 512 * 1024  # bytes queued per TCP client before frames are dropped
UDP_SEND_BUFFER = 4 * 1024 * 1024  # the shared UDP socket's queue in asyncio
MAX_CONNECTIONS = 4096
_START_ACTIONS = {"offline", "disconnect"}  # drop clients when these start


class SimServer:
    def __init__(
        self,
        scenario: Scenario,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        session_timeout: float = DEFAULT_SESSION_TIMEOUT,
        send_buffer_limit: int = DEFAULT_SEND_BUFFER,
        truth_path: str | Path | None = None,
        encode_workers: int = 2,
        encode_all_first: bool = False,
    ) -> None:
        """encode_all_first: encode every loop the scenario's faults and events
        need before the clock starts (an evaluation wants no encoder load and
        no late switch while it runs); otherwise they are encoded in the
        background, soonest first."""
        self.scenario = scenario
        self.host = host
        self.port = port
        self.session_timeout = float(session_timeout)
        self.send_buffer_limit = send_buffer_limit
        self.truth_path = Path(truth_path) if truth_path else None
        self.auth = DigestAuthority()
        self.cameras: dict[str, SimCamera] = {}
        self.sessions: dict[str, Session] = {}
        self.connections: set[RtspConnection] = set()
        self.udp_ports: tuple[int, int] = (0, 0)
        self.counters: Counter[str] = Counter()
        self.started_wall = 0.0
        self.started_monotonic = 0.0
        self._cache = LoopCache(workers=encode_workers)
        self._server: asyncio.Server | None = None
        self._udp: tuple[asyncio.DatagramTransport, asyncio.DatagramTransport] | None = None
        self._udp_sessions: dict[tuple[str, int], Session] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._truth: list[dict[str, Any]] = []
        self._truth_index: dict[tuple[int, int], dict[str, Any]] = {}
        self._running = False
        self._encode_all_first = encode_all_first

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        if self._running:
            return
        loop = asyncio.get_running_loop()
        self._make_cameras()
        try:
            # Bind first so a busy port fails fast, before seconds of encoding.
            self._server = await loop.create_server(
                lambda: RtspConnection(self), self.host, self.port, backlog=1024
            )
            self.port = self._server.sockets[0].getsockname()[1]
            await self._open_udp()
            await self._encode_base_loops()
            if self._encode_all_first:
                await asyncio.gather(*(self._cache.load(spec) for spec in self._variants()))
        except BaseException:
            await self.stop()
            raise
        self._running = True
        self.started_wall = time.time()
        self.started_monotonic = loop.time()
        self._prefetch_variants()
        self._write_truth()  # an empty list until the first fault starts
        for fps, cams in self._groups().items():
            self._spawn(self._ticker(fps, cams), f"sim-ticker-{fps:g}")
        self._spawn(self._scheduler(), "sim-scheduler")
        self._spawn(self._reaper(), "sim-reaper")

    async def stop(self) -> None:
        self._running = False
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions.values()):
            self.end_session(session)
        for conn in list(self.connections):
            conn.abort()
        if self._udp is not None:
            for transport in self._udp:
                transport.abort()
            self._udp = None
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        await asyncio.sleep(0)  # let connection_lost callbacks run
        await asyncio.to_thread(self._cache.close)
        self._finish_truth()

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro, name=name))

    # -- cameras and loops -----------------------------------------------------
    def _make_cameras(self) -> None:
        if self.cameras:
            return
        seed = self.scenario.seed
        for index, spec in enumerate(self.scenario.cameras):
            if seed is None:
                rng_seed = int.from_bytes(os.urandom(8), "big")
                phase_seed = int.from_bytes(os.urandom(8), "big")
            else:  # reproducible SSRCs, sequence numbers, losses and GOP phases for a given seed
                rng_seed = zlib.crc32(f"{seed}:{index}:{spec.name}".encode())
                phase_seed = zlib.crc32(f"{seed}:gop-phase:{spec.name}".encode())
            base = self._base_spec(spec)
            # Real fleets spread their keyframes over the GOP; a sim whose cameras all
            # start at frame 0 would send every keyframe in the same tick.
            phase = phase_seed % base.gop_frames
            self.cameras[spec.name] = SimCamera(spec, base, self._cache, rng_seed, phase)

    def _base_spec(self, spec: CameraSpec) -> LoopSpec:
        """The camera's healthy loop in its usual light (events change the light)."""
        gops = max(1, round(self.scenario.loop / spec.gop))
        return LoopSpec(
            codec=spec.codec,
            width=spec.width,
            height=spec.height,
            fps=spec.fps,
            gop_frames=spec.gop_frames,
            gops=gops,
            bitrate=spec.bitrate,
            scene=spec.scene,
            overlay=spec.overlay,
            style=spec.style,
            noise=spec.sensor_noise,
            ir=spec.ir,
        )

    async def _encode_base_loops(self) -> None:
        specs = {cam.base for cam in self.cameras.values()}
        loops = await asyncio.gather(*(self._cache.load(spec) for spec in specs))
        by_spec = {loop.spec: loop for loop in loops}
        for cam in self.cameras.values():
            cam.loop = by_spec[cam.base]

    def _prefetch_variants(self) -> None:
        """Start encoding every loop the scenario's faults and events need, soonest first."""
        for spec in self._variants():
            self._cache.request(spec)

    def _variants(self) -> list[LoopSpec]:
        """Loops beyond the base ones, in the order the scenario first needs them."""
        sc = self.scenario
        found: list[tuple[float, LoopSpec]] = []
        for name, camera in self.cameras.items():
            events = sc.events_for(name)
            for first, light in lights_of(events, camera.base.ir):
                found.append((first, camera.lit(light)))
            for fault in sc.faults_for(name):
                occurrence = Occurrence(fault, 0, fault.start, fault.end)
                end = fault.end if fault.end is not None else float("inf")
                moments = [fault.start]
                moments += [x for e in events for x in change_times(e) if fault.start < x < end]
                for t in moments:
                    light = light_at(events, t, None, camera.base.ir)
                    found.append((t, camera.loop_spec_for([occurrence], light)))
        bases = {camera.base for camera in self.cameras.values()}
        out: list[LoopSpec] = []
        for _t, spec in sorted(found, key=lambda item: item[0]):
            if spec not in bases and spec not in out:
                out.append(spec)
        return out

    def _groups(self) -> dict[float, list[SimCamera]]:
        groups: dict[float, list[SimCamera]] = {}
        for cam in self.cameras.values():
            groups.setdefault(cam.spec.fps, []).append(cam)
        return groups

    async def _ticker(self, fps: float, cameras: list[SimCamera]) -> None:
        """One timer for all cameras of this rate; absolute deadlines, no drift."""
        loop = asyncio.get_running_loop()
        period = 1.0 / fps
        start = loop.time()
        k = 0
        while True:
            k += 1
            delay = start + k * period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.5:  # starved of CPU: skip the missed frames rather than burst
                missed = int(-delay / period)
                k += missed
                self.counters["late_ticks"] += missed
            wall = time.time()
            for cam in cameras:
                try:
                    cam.tick(k, wall)
                except Exception:
                    self.counters["tick_errors"] += 1
                    log.exception("camera %s failed to send a frame", cam.name)

    # -- faults and ground truth ----------------------------------------------
    def elapsed(self) -> float:
        """Seconds since the sim started serving (the scenario's clock)."""
        return asyncio.get_running_loop().time() - self.started_monotonic

    async def _scheduler(self) -> None:
        sc = self.scenario
        faults, events, repeat = sc.faults, sc.events, sc.repeat
        scripted = sorted({f.camera for f in faults} | {e.camera for e in events})
        while True:
            t = self.elapsed()
            for name in scripted:
                camera = self.cameras[name]
                camera.light = light_at(sc.events_for(name), t, repeat, camera.base.ir)
                self._apply(camera, active(sc.faults_for(name), t, repeat))
            edges = [next_boundary(faults, t, repeat), next_change(events, t, repeat)]
            following = min((e for e in edges if e is not None), default=None)
            if following is None:
                return
            await asyncio.sleep(max(0.0, following - self.elapsed()) + 0.001)

    def _apply(self, camera: SimCamera, occurrences: list[Occurrence]) -> None:
        before = {(id(o.fault), o.index) for o in camera.occurrences}
        now = {(id(o.fault), o.index) for o in occurrences}
        for occ in camera.occurrences:
            if (id(occ.fault), occ.index) not in now:
                self._truth_ended(occ)
        started = [o for o in occurrences if (id(o.fault), o.index) not in before]
        camera.apply_faults(occurrences)
        for occ in started:
            self._truth_started(occ)
            kind = occ.fault.kind
            if kind in _START_ACTIONS or (kind in ("auth", "notfound") and occ.fault.param("drop")):
                self.drop_camera_clients(camera)

    def _truth_started(self, occ: Occurrence) -> None:
        fault = occ.fault
        entry: dict[str, Any] = {
            "camera": fault.camera,
            "fault": fault.kind,
            "start": occ.start,
            "end": occ.end,
            "start_unix": self.started_wall + occ.start,
            "end_unix": None if occ.end is None else self.started_wall + occ.end,
            "occurrence": occ.index,
            "params": fault.params_dict(),
        }
        self._truth.append(entry)
        self._truth_index[(id(fault), occ.index)] = entry
        self._write_truth()

    def _truth_ended(self, occ: Occurrence) -> None:
        self._truth_index.pop((id(occ.fault), occ.index), None)
        self._write_truth()

    def _finish_truth(self) -> None:
        """At stop, a fault still running ends now (its scheduled end never came)."""
        if not self._running and self.started_wall and self._truth_index:
            stopped = time.time() - self.started_wall
            for entry in self._truth_index.values():
                if entry["end"] is None or entry["end"] > stopped:
                    entry["end"], entry["end_unix"] = stopped, self.started_wall + stopped
                    entry["cut_short"] = True
            self._truth_index.clear()
            self._write_truth()

    def truth(self) -> list[dict[str, Any]]:
        """Fault occurrences that have started so far, with scheduled windows."""
        return [dict(entry, params=dict(entry["params"])) for entry in self._truth]

    def _write_truth(self) -> None:
        if self.truth_path is None:
            return
        data = json.dumps(self.truth(), indent=1)
        directory = self.truth_path.parent
        try:
            fd, tmp = tempfile.mkstemp(prefix=".truth-", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
            os.replace(tmp, self.truth_path)
        except OSError as exc:
            log.error("cannot write ground truth to %s: %s", self.truth_path, exc)

    # -- connections and sessions ----------------------------------------------
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def register_connection(self, conn: RtspConnection) -> bool:
        if not self._running or len(self.connections) >= MAX_CONNECTIONS:
            self.counters["rejected_connections"] += 1
            return False
        self.connections.add(conn)
        self.counters["connections"] += 1
        return True

    def connection_closed(self, conn: RtspConnection) -> None:
        self.connections.discard(conn)
        for session in list(conn.sessions.values()):
            self.end_session(session)

    def new_session(
        self,
        camera: SimCamera,
        conn: RtspConnection,
        wanted: TransportRequest,
        channels: tuple[int, int] | None,
    ) -> Session:
        session = Session(new_session_id(), camera, conn, wanted, channels, self.now())
        self.sessions[session.id] = session
        conn.sessions[session.id] = session
        return session

    def start_playing(self, session: Session) -> None:
        camera = session.camera
        seq = camera.new_seq()
        rng = camera.rng
        conn = session.conn
        if session.channels is not None:
            assert conn.transport is not None
            sink: TcpSink | UdpSink = TcpSink(
                session.id, camera.ssrc, seq, rng, conn.transport,
                session.channels[0], self.send_buffer_limit,
            )  # fmt: skip
        else:
            assert self._udp is not None and session.transport.client_port is not None
            host = conn.peer[0]
            rtp_port, rtcp_port = session.transport.client_port
            sink = UdpSink(
                session.id, camera.ssrc, seq, rng, self._udp[0], self._udp[1],
                (host, rtp_port), (host, rtcp_port), UDP_SEND_BUFFER,
            )  # fmt: skip
            self._udp_sessions[(host, rtcp_port)] = session
        camera.attach(sink)
        session.state = SessionState.PLAYING
        session.play_started = self.now()

    def stop_playing(self, session: Session) -> None:
        session.camera.detach(session.id)
        session.state = SessionState.READY
        session.play_started = None

    def end_session(self, session: Session) -> None:
        self.stop_playing(session)
        self.sessions.pop(session.id, None)
        session.conn.sessions.pop(session.id, None)
        addr = session.rtcp_addr
        if addr is not None and self._udp_sessions.get(addr) is session:
            del self._udp_sessions[addr]

    def drop_camera_clients(self, camera: SimCamera) -> None:
        """Close every connection holding a session of camera (a camera reboot)."""
        for conn in {s.conn for s in self.sessions.values() if s.camera is camera}:
            self.counters["dropped_connections"] += 1
            conn.abort()

    def on_udp_rtcp(self, addr: tuple[str, int]) -> None:
        session = self._udp_sessions.get((addr[0], addr[1]))
        if session is not None:
            session.last_seen = self.now()

    async def _reaper(self) -> None:
        """Expire silent sessions, idle connections and disconnect-fault victims."""
        interval = max(0.05, min(1.0, self.session_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            now = self.now()
            for session in list(self.sessions.values()):
                if now - session.last_seen > self.session_timeout:
                    self.counters["expired_sessions"] += 1
                    conn = session.conn
                    self.end_session(session)
                    if session.channels is not None and not conn.sessions:
                        conn.close()
                    continue
                after = session.camera.disconnect_after
                started = session.play_started
                if after is not None and started is not None and now - started >= after:
                    self.counters["dropped_connections"] += 1
                    session.conn.abort()
            for conn in list(self.connections):
                if not conn.sessions and now - conn.last_seen > self.session_timeout:
                    conn.close() if not conn.silenced else conn.abort()

    async def _open_udp(self) -> None:
        loop = asyncio.get_running_loop()
        rtp_sock, rtcp_sock = _udp_pair(self.host)
        try:
            rtp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=rtp_sock)
        except BaseException:
            rtp_sock.close()
            rtcp_sock.close()
            raise
        try:
            rtcp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=rtcp_sock)
        except BaseException:
            rtp.abort()
            rtcp_sock.close()
            raise
        self._udp = (rtp, rtcp)
        self.udp_ports = (rtp_sock.getsockname()[1], rtcp_sock.getsockname()[1])

    # -- addresses and reports ------------------------------------------------
    def host_for_sdp(self) -> str:
        return self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"

    def url(self, camera: str, with_credentials: bool = False) -> str:
        spec = self.cameras[camera].spec if camera in self.cameras else None
        if spec is None:
            raise KeyError(camera)
        host = f"[{self.host}]" if ":" in self.host else self.host
        userinfo = ""
        if with_credentials and spec.user is not None and spec.password is not None:
            userinfo = f"{quote(spec.user, safe='')}:{quote(spec.password, safe='')}@"
        return f"rtsp://{userinfo}{host}:{self.port}/{quote(camera)}"

    def urls(self) -> dict[str, str]:
        return {name: self.url(name) for name in self.cameras}

    def stats(self) -> dict[str, Any]:
        cameras = {name: cam.stats() for name, cam in self.cameras.items()}
        return {
            "cameras": cameras,
            "connections": len(self.connections),
            "sessions": len(self.sessions),
            "counters": dict(self.counters),
            "elapsed": self.elapsed() if self._running else None,
        }


class _Udp(asyncio.DatagramProtocol):
    """The shared RTP/RTCP sockets: incoming datagrams are client RTCP or NAT probes."""

    def __init__(self, server: SimServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server.on_udp_rtcp(addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable after a UDP client went away: its session will expire.
        self.server.counters["udp_errors"] += 1


def _udp_pair(host: str) -> tuple[socket.socket, socket.socket]:
    """Bind an even RTP port and the next one for RTCP on host."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(32):
        rtp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            rtp.bind((host, 0))
            port = rtp.getsockname()[1]
            if port % 2 or port >= 65535:
                rtp.close()
                continue
            rtcp = socket.socket(family, socket.SOCK_DGRAM)
            try:
                rtcp.bind((host, port + 1))
            except OSError:
                rtcp.close()
                rtp.close()
                continue
        except OSError:
            rtp.close()
            raise
        for sock in (rtp, rtcp):
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
        return rtp, rtcp
    raise OSError(f"no free pair of UDP ports on {host}")
