"""Each simulated fault is observable by real clients in the stream it serves."""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import time
from typing import Any

import numpy as np
import pytest
from simfixtures import (
    RawRtsp,
    RtpCapture,
    camera,
    digest_header,
    frame_times,
    keyframes,
    laplacian_var,
    loss_ratio,
    mad,
    scenario,
)

from camwatch.sim.server import SimServer

STALL_AT = 2.0
OBSERVE = 5.0


async def _observe_streams() -> dict[str, Any]:
    cams = [
        camera("control"),
        camera("stall"),
        camera("lossy", bitrate=600_000),
        camera("bursty", bitrate=600_000),
        camera("slow"),
        camera("jittery"),
        camera("calming"),
        camera("thin"),
    ]
    faults = [
        ("stall", "stall", STALL_AT, None, {}),
        ("lossy", "packet_loss", 0.0, None, {"percent": 10.0}),
        ("bursty", "packet_loss", 0.0, None, {"percent": 10.0, "burst": 4.0}),
        ("slow", "low_fps", 0.0, None, {"fps": 2.0}),
        ("jittery", "jitter", 0.0, None, {"ms": 300.0}),
        ("calming", "jitter", 0.0, 3.0, {"ms": 500.0}),
        ("thin", "bitrate_drop", 0.0, None, {"bitrate": "30k"}),
    ]
    async with SimServer(scenario(cams, faults)) as sim:
        start = sim.started_monotonic
        captures = {c.name: RtpCapture(sim.url(c.name)) for c in cams}
        await asyncio.gather(*(c.__aenter__() for c in captures.values()))
        await asyncio.sleep(start + 3.5 - time.monotonic())
        stalled = captures["stall"]
        answers = [await stalled.request("OPTIONS"), await stalled.request("GET_PARAMETER")]
        await asyncio.sleep(start + OBSERVE - time.monotonic())
        stats = sim.stats()
        await asyncio.gather(*(c.__aexit__(None) for c in captures.values()))
    return {"start": start, "captures": captures, "answers": answers, "stats": stats}


@pytest.fixture(scope="module")
def streams() -> dict[str, Any]:
    return asyncio.run(_observe_streams())


def after(packets: list, t: float) -> list:
    return [p for p in packets if p.arrival >= t]


def test_stall_stops_rtp_while_rtsp_still_answers(streams: dict[str, Any]) -> None:
    start = streams["start"]
    packets = streams["captures"]["stall"].packets
    assert [p for p in packets if p.arrival < start + STALL_AT]
    assert after(packets, start + STALL_AT + 0.2) == []
    assert streams["answers"] == [200, 200]
    assert len(after(streams["captures"]["control"].packets, start + STALL_AT + 0.2)) > 20


def test_packet_loss_ratio_matches_the_configured_percentage(streams: dict[str, Any]) -> None:
    lossy = streams["captures"]["lossy"].packets
    assert len(lossy) > 150
    assert 0.05 <= loss_ratio(lossy) <= 0.15
    assert loss_ratio(streams["captures"]["control"].packets) == 0.0
    assert streams["stats"]["cameras"]["lossy"]["packets_lost"] > 0


def test_bursty_loss_comes_in_runs(streams: dict[str, Any]) -> None:
    packets = streams["captures"]["bursty"].packets
    gaps = [((b.seq - a.seq) & 0xFFFF) - 1 for a, b in itertools.pairwise(packets)]
    runs = [g for g in gaps if g > 0]
    assert 0.03 <= loss_ratio(packets) <= 0.25
    assert statistics.mean(runs) >= 2.0  # independent 10% loss would average ~1.1


def test_low_fps_sends_the_configured_rate(streams: dict[str, Any]) -> None:
    start = streams["start"]
    frames = [f for f in frame_times(streams["captures"]["slow"].packets) if f[0] >= start + 2.0]
    rate = len(frames) / (OBSERVE - 2.0)
    assert 1.3 <= rate <= 2.7
    steps = {(b[1] - a[1]) & 0xFFFFFFFF for a, b in itertools.pairwise(frames)}
    assert steps == {45000}  # 90 kHz / 2 fps
    control = [f for f in frame_times(streams["captures"]["control"].packets)]
    assert len([f for f in control if f[0] >= start + 2.0]) / (OBSERVE - 2.0) > 8


def _arrival_spread(packets: list) -> float:
    frames = frame_times(packets)
    first_ts = frames[0][1]
    offsets = [t - ((ts - first_ts) & 0xFFFFFFFF) / 90000 for t, ts in frames]
    offsets.sort()
    return offsets[int(len(offsets) * 0.95)] - offsets[int(len(offsets) * 0.05)]


def test_jitter_spreads_frame_arrivals(streams: dict[str, Any]) -> None:
    assert _arrival_spread(streams["captures"]["jittery"].packets) > 0.15
    assert _arrival_spread(streams["captures"]["control"].packets) < 0.1


def test_frames_held_back_by_jitter_are_not_overtaken_when_it_ends(
    streams: dict[str, Any],
) -> None:
    # The fault ends 3 s in with up to 0.5 s of frames still held: they go out
    # before the first frame sent without delay, so sequence numbers stay in order.
    packets = streams["captures"]["calming"].packets
    seqs = [p.seq for p in packets]
    assert len(seqs) > 100
    steps = [(b - a) & 0xFFFF for a, b in itertools.pairwise(seqs)]
    assert all(step == 1 for step in steps), sorted(set(steps))
    assert after(packets, streams["start"] + 3.8)  # and it goes on flowing


def test_bitrate_drop_serves_a_smaller_stream(streams: dict[str, Any]) -> None:
    start = streams["start"]

    def rate(name: str) -> float:
        return sum(p.size for p in after(streams["captures"][name].packets, start + 2.5))

    assert rate("thin") < 0.3 * rate("control")


# --- image faults -------------------------------------------------------------

LOOKS = ["frozen", "black", "covered", "defocus", "moved", "noise", "low_light", "overexposure"]


async def _decode_looks() -> dict[str, list[np.ndarray]]:
    cams = [camera("control"), *(camera(look) for look in LOOKS)]
    faults = [(look, look, 0.0, None, {}) for look in LOOKS]
    async with SimServer(scenario(cams, faults)) as sim:
        begin = sim.started_monotonic + 2.5  # past the switch at a keyframe
        jobs = [keyframes(sim.url(c.name), begin, begin + 8.0, 3) for c in cams]
        decoded = await asyncio.gather(*jobs)
    return {c.name: frames for c, frames in zip(cams, decoded, strict=True)}


@pytest.fixture(scope="module")
def looks() -> dict[str, list[np.ndarray]]:
    return asyncio.run(_decode_looks())


def test_every_look_decodes_keyframes(looks: dict[str, list[np.ndarray]]) -> None:
    for name, frames in looks.items():
        assert len(frames) == 3, name
        assert frames[0].shape == (180, 320), name


def test_control_keyframes_change_but_frozen_ones_do_not(looks: dict[str, list]) -> None:
    control, frozen = looks["control"], looks["frozen"]
    assert mad(control[0], control[1]) > 0.5
    assert mad(frozen[0], frozen[1]) < 0.05 and mad(frozen[1], frozen[2]) < 0.05


def test_black_covered_dark_and_bright_looks(looks: dict[str, list]) -> None:
    control = looks["control"][0]
    assert control.mean() > 60 and control.std() > 25
    assert looks["black"][0].mean() < 20
    covered = looks["covered"][0]
    assert covered.mean() < 50 and covered.std() < 6
    low = looks["low_light"][0]
    assert low.mean() < 40 and low.mean() < control.mean() / 3
    bright = looks["overexposure"][0]
    assert (bright >= 230).mean() > 0.5


def test_defocus_lowers_sharpness_and_snow_raises_it(looks: dict[str, list]) -> None:
    sharp = laplacian_var(looks["control"][0])
    assert laplacian_var(looks["defocus"][0]) < 0.3 * sharp
    snow = looks["noise"]
    assert laplacian_var(snow[0]) > 2 * sharp
    assert mad(snow[0], snow[1]) > 10  # snow changes from frame to frame


def test_moved_view_is_the_control_view_shifted(looks: dict[str, list]) -> None:
    moved, control = looks["moved"][0].astype(np.float32), looks["control"][0]
    dx, dy = round(0.12 * 320), round(0.08 * 180)
    unshifted = mad(moved, control)
    # The camera panned right/down: its pixel (y, x) shows the scene at (y+dy, x+dx).
    shifted = mad(moved[30:-dy, :-dx], control[30 + dy :, dx:])  # skip the clock
    assert unshifted > 10
    assert shifted < unshifted / 3


# --- session faults -------------------------------------------------------------


async def wait_until(t: float) -> None:
    await asyncio.sleep(max(0.0, t - time.monotonic()))


async def test_offline_drops_clients_then_refuses_or_ignores_requests() -> None:
    cams = [camera("cam"), camera("off"), camera("quiet")]
    faults = [
        ("off", "offline", 1.0, 2.5, {}),
        ("quiet", "offline", 1.0, None, {"mode": "silent"}),
    ]
    async with SimServer(scenario(cams, faults)) as sim:
        start = sim.started_monotonic
        async with RtpCapture(sim.url("off")) as victim, RtpCapture(sim.url("cam")) as bystander:
            await wait_until(start + 1.5)
            assert not victim.connected and victim.packets
            refused = await RawRtsp.connect(sim.port)
            with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
                await refused.request("DESCRIBE", sim.url("off"))
            ignored = await RawRtsp.connect(sim.port)
            with pytest.raises(TimeoutError):
                await ignored.request("DESCRIBE", sim.url("quiet"), within=1.0)
            await wait_until(start + 2.8)
            back = await RawRtsp.connect(sim.port)
            assert (await back.request("DESCRIBE", sim.url("off"))).status == 200
            assert bystander.connected
            assert after(bystander.packets, start + 2.0)
            for client in (refused, ignored, back):
                await client.close()


async def test_disconnect_drops_playing_clients_after_a_while() -> None:
    cams = [camera("flaky")]
    async with SimServer(
        scenario(cams, [("flaky", "disconnect", 0.0, None, {"after": 1.0})])
    ) as sim:
        client = await RawRtsp.connect(sim.port)
        resp = await client.request(
            "SETUP", f"{sim.url('flaky')}/trackID=0", {"Transport": "RTP/AVP/TCP;interleaved=0-1"}
        )
        session = resp.headers["session"].split(";")[0]
        assert (await client.request("PLAY", sim.url("flaky"), {"Session": session})).status == 200
        began = time.monotonic()
        assert await client.closed_by_peer(within=4.0)
        assert 0.9 <= time.monotonic() - began <= 3.0
        await client.close()


async def test_notfound_and_auth_windows_come_and_go(tmp_path) -> None:
    truth_file = tmp_path / "truth.json"
    cams = [camera("gone"), camera("locked")]
    faults = [
        ("gone", "notfound", 1.0, 2.5, {}),
        ("locked", "auth", 1.0, 2.5, {"user": "admin", "password": "pw"}),
    ]
    async with SimServer(scenario(cams, faults), truth_path=truth_file) as sim:
        start = sim.started_monotonic
        client = await RawRtsp.connect(sim.port)
        gone, locked = sim.url("gone"), sim.url("locked")
        assert (await client.request("DESCRIBE", gone)).status == 200
        assert (await client.request("DESCRIBE", locked)).status == 200
        assert sim.truth() == []
        await wait_until(start + 1.3)
        assert (await client.request("DESCRIBE", gone)).status == 404
        challenge = await client.request("DESCRIBE", locked)
        assert challenge.status == 401
        auth = digest_header(
            "admin", "pw", "DESCRIBE", locked, challenge.headers["www-authenticate"]
        )
        assert (await client.request("DESCRIBE", locked, {"Authorization": auth})).status == 200
        await wait_until(start + 2.8)
        assert (await client.request("DESCRIBE", gone)).status == 200
        assert (await client.request("DESCRIBE", locked)).status == 200
        truth = sim.truth()
        await client.close()
    assert [(t["camera"], t["fault"], t["start"], t["end"]) for t in truth] == [
        ("gone", "notfound", 1.0, 2.5),
        ("locked", "auth", 1.0, 2.5),
    ]
    assert abs(truth[0]["start_unix"] - (sim.started_wall + 1.0)) < 1e-6
    assert truth[1]["params"]["user"] == "admin"
    assert json.loads(truth_file.read_text()) == truth


async def test_repeating_schedule_records_each_occurrence() -> None:
    cams = [camera("cam")]
    made = scenario(cams, [("cam", "stall", 0.3, 0.8, {})])
    from dataclasses import replace

    async with SimServer(replace(made, repeat=1.0)) as sim:
        start = sim.started_monotonic
        await wait_until(start + 0.5)
        assert sim.cameras["cam"].stalled
        await wait_until(start + 0.95)
        assert not sim.cameras["cam"].stalled
        await wait_until(start + 2.4)
        truth = sim.truth()
    assert [(t["start"], t["end"], t["occurrence"]) for t in truth] == [
        (0.3, 0.8, 0),
        (1.3, 1.8, 1),
        (2.3, 2.8, 2),
    ]
