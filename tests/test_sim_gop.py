"""The simulator spreads its cameras' keyframes over the GOP, reproducibly."""

from __future__ import annotations

import asyncio
import contextlib

from simfixtures import RtpCapture, camera, scenario

from camwatch.sim.server import SimServer

GOP_FRAMES = 10  # simfixtures.camera: 10 fps, 1 s GOP


async def _first_keyframe_ticks(sim: SimServer, names: list[str]) -> dict[str, int]:
    """The frame tick (mod the GOP) of the first picture each camera sent a new client."""
    async with contextlib.AsyncExitStack() as stack:
        caps = [await stack.enter_async_context(RtpCapture(sim.url(n))) for n in names]
        for _ in range(60):  # a client starts at a keyframe: at most one GOP away
            await asyncio.sleep(0.1)
            if all(cap.packets for cap in caps):
                break
    ticks = {}
    for name, cap in zip(names, caps, strict=True):
        cam = sim.cameras[name]
        assert cap.packets, name
        k = round(((cap.packets[0].timestamp - cam.ts0) & 0xFFFFFFFF) / cam.ts_step)
        ticks[name] = k % GOP_FRAMES
    return ticks


async def test_cameras_started_together_send_keyframes_in_different_ticks() -> None:
    names = [f"cam{i}" for i in range(4)]
    async with SimServer(scenario([camera(n) for n in names], seed=7)) as sim:
        ticks = await _first_keyframe_ticks(sim, names)
        phases = {n: sim.cameras[n].phase for n in names}
    assert len(set(ticks.values())) > 1, ticks
    # The first keyframe goes out `phase` ticks after the first tick (tick 1).
    assert ticks == {n: (1 + p) % GOP_FRAMES for n, p in phases.items()}


async def test_gop_phase_follows_the_seed_and_the_camera_name() -> None:
    def phases(seed: int, names: list[str]) -> dict[str, int]:
        sim = SimServer(scenario([camera(n) for n in names], seed=seed))
        sim._make_cameras()
        return {n: c.phase for n, c in sim.cameras.items()}

    names = [f"cam{i}" for i in range(8)]
    first = phases(7, names)
    assert phases(7, names) == first
    assert phases(7, list(reversed(names))) == first  # by name, not position
    assert phases(8, names) != first
    assert all(0 <= p < GOP_FRAMES for p in first.values())
