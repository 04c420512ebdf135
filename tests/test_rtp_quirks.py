"""H.264 and H.265 depacketizers: the packet forms and camera quirks both codecs share.

Each test runs once per codec (the `codec` fixture); packets are handcrafted
(rtpfixtures). What only one codec has is tested in test_rtp_h264.py and
test_rtp_h265.py.
"""

from __future__ import annotations

import random

import pytest
from rtpfixtures import BODY, CODECS, SC, Codec, Stream, annexb, counters, feed, with_marker

from camwatch.rtp import split_annexb
from camwatch.rtp.nal import MAX_RESYNC_UNITS


@pytest.fixture(params=sorted(CODECS))
def codec(request: pytest.FixtureRequest) -> Codec:
    return CODECS[request.param]


# -- packet forms ---------------------------------------------------------------


def test_single_nal_packets_make_one_access_unit(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    nals = (*codec.params, codec.idr)
    [au] = feed(d, [s.pkt(n, 3000, marker=n is codec.idr) for n in nals])
    assert au.data == annexb(*nals)
    assert (au.rtp_timestamp, au.keyframe, au.nal_types) == (3000, True, codec.types(*nals))
    assert (au.packets, au.size) == (len(nals), sum(map(len, nals)))
    assert codec.stored_params(d) == codec.params
    assert counters(d) == (0, 0, 0, 0)


def test_aggregate_then_fragments(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    fragments = codec.fragment(codec.idr, 700)
    packets = [s.pkt(codec.aggregate(*codec.params), 0)]
    packets += [s.pkt(f, 0, marker=f is fragments[-1]) for f in fragments]
    [au] = feed(d, packets)
    assert len(fragments) == 5
    assert split_annexb(au.data) == [*codec.params, codec.idr]
    assert au.packets == len(packets)
    assert counters(d) == (0, 0, 0, 0)


def test_non_key_access_unit_with_two_slices(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    out = feed(d, codec.keyframe(s, 0) + codec.picture(s, 3600, codec.p, codec.p_slice2))
    assert [a.keyframe for a in out] == [True, False]
    assert out[1].data == annexb(codec.p, codec.p_slice2)
    assert out[1].nal_types == codec.types(codec.p, codec.p_slice2)


def test_fragment_with_start_and_end_bits_in_one_packet(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    [one] = codec.fragment(codec.key2, len(codec.key2))
    assert one[codec.header_len] & 0xC0 == 0xC0  # start and end bits both set
    [au] = feed(d, [s.pkt(codec.aggregate(*codec.params), 0), s.pkt(one, 0, marker=True)])
    assert split_annexb(au.data) == [*codec.params, codec.key2]
    assert au.keyframe  # for H.265, a CRA is an IRAP picture
    assert d.fu_errors == 0


# -- quirks ---------------------------------------------------------------------


def test_start_codes_and_padding_inside_a_single_nal_payload(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    a, b, c = (*codec.params, codec.sei)[-3:]
    glued = a + SC + b + b"\x00\x00\x01" + c + b"\x00\x00"  # 4- and 3-byte start codes
    [au] = feed(d, [s.pkt(glued, 0), s.pkt(codec.idr, 0, marker=True)])
    assert au.nal_types == codec.types(a, b, c, codec.idr)
    assert split_annexb(au.data) == [a, b, c, codec.idr]


def test_payload_that_starts_with_a_start_code(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    packets = [s.pkt(annexb(*codec.params), 0), s.pkt(SC + codec.idr, 0, marker=True)]
    [au] = feed(d, packets)
    assert au.nal_types == codec.types(*codec.params, codec.idr)
    assert au.data == annexb(*codec.params, codec.idr)


def test_annexb_stream_fragmented_as_one_fragmented_unit(codec: Codec) -> None:
    # A camera that fragments its encoder's whole output buffer under the SPS header.
    s, d = Stream(), codec.depacketizer()
    blob = SC.join((*codec.params, codec.idr))
    fragments = codec.fragment(blob, 900)
    [au] = feed(d, [s.pkt(f, 0, marker=f is fragments[-1]) for f in fragments])
    assert au.nal_types == codec.types(*codec.params, codec.idr)
    assert au.keyframe


def test_trailing_zero_padding_is_removed(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    fragments = codec.fragment(codec.idr, 1000)
    fragments[-1] += b"\x00\x00"
    packets = [s.pkt(codec.aggregate(*codec.params) + b"\x00\x00\x00", 0)]
    packets.append(s.pkt(codec.p_slice2 + b"\x00", 0))
    packets += [s.pkt(f, 0, marker=f is fragments[-1]) for f in fragments]
    [au] = feed(d, packets)
    assert split_annexb(au.data) == [*codec.params, codec.p_slice2, codec.idr]
    assert au.data.endswith(codec.idr)
    assert counters(d) == (0, 0, 0, 0)


def test_missing_marker_bit_timestamp_change_ends_the_unit(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    out = feed(d, [s.pkt(n, 0) for n in (*codec.params, codec.idr)])
    assert out == []
    [first] = feed(d, [s.pkt(codec.p, 3600)])
    assert (first.rtp_timestamp, first.nal_types) == (0, codec.types(*codec.params, codec.idr))
    [second] = d.flush()
    assert (second.rtp_timestamp, second.data) == (3600, annexb(codec.p))
    assert d.flush() == []


@pytest.mark.parametrize("aggregated", [False, True], ids=["single", "aggregated"])
def test_parameter_sets_marked_or_retimestamped_join_the_next_picture(
    codec: Codec, aggregated: bool
) -> None:
    # Reolink-style: parameter sets carry the marker bit and an older timestamp,
    # each in its own packet or all in one STAP-A / AP.
    s, d = Stream(), codec.depacketizer()
    if aggregated:
        ahead = [s.pkt(codec.aggregate(*codec.params), 100, marker=True)]
    else:
        ahead = [s.pkt(n, 100, marker=True) for n in codec.params]
    assert feed(d, ahead) == []
    packets = codec.picture(s, 3700, codec.idr)
    [au] = feed(d, packets)
    types = codec.types(*codec.params, codec.idr)
    assert (au.rtp_timestamp, au.nal_types, au.packets) == (3700, types, len(ahead + packets))
    assert au.data == annexb(*codec.params, codec.idr)


def test_sequence_wraps_around_inside_a_fragmented_nal(codec: Codec) -> None:
    s, d = Stream(seq=65535 - len(codec.params)), codec.depacketizer()
    packets = codec.keyframe(s, 0, fu_size=500)
    first_fragment = len(codec.params)
    assert [p.seq for p in packets[first_fragment : first_fragment + 3]] == [65535, 0, 1]
    [au] = feed(d, packets)
    assert au.data == annexb(*codec.params, codec.idr)
    assert counters(d) == (0, 0, 0, 0)


def test_loss_inside_a_fu_drops_the_unit_and_resyncs_on_the_next_keyframe(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    good = feed(d, codec.keyframe(s, 0))
    damaged = codec.picture(s, 3600, codec.p + BODY, fu_size=800)
    del damaged[2]  # a middle fragment is lost
    out = feed(d, damaged)
    # Undecodable until a keyframe.
    out += feed(d, codec.picture(s, 7200, codec.p) + codec.picture(s, 10800, codec.p))
    out += feed(d, codec.picture(s, 14400, *codec.params, codec.key2))
    out += feed(d, codec.picture(s, 18000, codec.p))
    assert len(good) == 1
    assert [a.rtp_timestamp for a in out] == [14400, 18000]
    assert d.units_dropped == 3  # the damaged unit and two P frames skipped while resyncing
    assert d.lost_packets_seen == 1
    assert d.fu_errors == 0  # loss explains the orphan fragments
    assert d.resyncs == 1


def test_loss_between_nal_units_of_one_picture(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    first_slice = codec.idr_slice2[:3] + BODY[:10]
    packets = codec.picture(s, 0, *codec.params, first_slice, codec.idr_slice2)
    del packets[len(codec.params)]  # the first slice (a single-NAL packet)
    out = feed(d, packets) + feed(d, codec.keyframe(s, 3600))
    assert [a.rtp_timestamp for a in out] == [3600]
    assert d.units_dropped == 1 and d.lost_packets_seen == 1


def test_whole_unit_lost_then_keyframe_starting_cleanly_is_kept(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    feed(d, codec.keyframe(s, 0))
    lost = codec.picture(s, 3600, codec.p)
    assert lost  # never delivered
    out = feed(
        d,
        codec.picture(s, 7200, codec.p)
        + codec.picture(s, 10800, codec.aud, *codec.params, codec.idr),
    )
    assert [a.rtp_timestamp for a in out] == [10800]
    assert d.units_dropped == 1  # the P frame that referenced the lost one


def test_after_a_gap_a_unit_must_show_it_starts_a_picture(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    feed(d, codec.keyframe(s, 0))
    packets = codec.keyframe(s, 3600)
    # The first parameter set's packet is lost; a later one may open an access unit,
    # so this one is kept (with the one seen earlier put back in front).
    [au] = feed(d, packets[1:])
    assert au.data == annexb(*codec.params, codec.idr)
    packets = codec.picture(s, 7200, codec.idr, fu_size=500)
    assert feed(d, packets[1:]) == []  # the first FU fragment is lost: not a clean start
    assert d.units_dropped == 1
    s.skip()
    # A slice that is not its picture's first (first_mb_in_slice != 0, or
    # first_slice_segment_in_pic_flag = 0) cannot start one either.
    assert feed(d, codec.picture(s, 10800, codec.idr_slice2)) == []
    assert d.units_dropped == 2


def test_duplicate_packet_is_discarded(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    packets = codec.keyframe(s, 0)
    packets.insert(2, packets[1])
    [au] = feed(d, packets)
    assert au.data == annexb(*codec.params, codec.idr)
    assert counters(d) == (0, 1, 0, 0)


def test_late_packet_after_a_gap_is_discarded(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    packets = codec.keyframe(s, 0) + codec.keyframe(s, 3600)
    late = packets.pop(1)
    packets.insert(len(codec.params) + 1, late)  # inside the keyframe's FU
    out = feed(d, packets)
    assert [a.rtp_timestamp for a in out] == [3600]
    assert d.packets_discarded == 1 and d.lost_packets_seen == 1


def test_fu_fragment_without_start_is_a_fu_error(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    fragments = codec.fragment(codec.idr, 1000)
    packets = [s.pkt(codec.aggregate(*codec.params), 0)] + [s.pkt(f, 0) for f in fragments[1:]]
    out = feed(d, packets[:-1]) + feed(d, [with_marker(packets[-1])])
    out += feed(d, codec.picture(s, 3600, codec.p)) + feed(d, codec.keyframe(s, 7200))
    assert [a.rtp_timestamp for a in out] == [7200]
    assert d.fu_errors == 1
    assert d.units_dropped == 2


def test_orphan_fragments_after_a_good_picture_are_a_fu_error(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    assert len(feed(d, codec.keyframe(s, 0))) == 1
    orphan = codec.fragment(codec.p, 500)[1:]
    out = feed(d, [s.pkt(f, 3000, marker=f is orphan[-1]) for f in orphan])
    assert out == [] and d.fu_errors == 1 and d.units_dropped == 1


def test_fu_start_while_another_fu_is_open_is_a_fu_error(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    first = codec.fragment(codec.idr, 1000)
    packets = [s.pkt(first[0], 0)] + [s.pkt(f, 0) for f in codec.fragment(codec.idr, 1000)]
    packets[-1] = with_marker(packets[-1])
    assert feed(d, packets) == []
    assert d.fu_errors == 1 and d.units_dropped == 1


def test_unit_ending_inside_a_fu_is_a_fu_error(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    fragments = codec.fragment(codec.idr, 1000)
    packets = [s.pkt(fragments[0], 0), s.pkt(fragments[1], 0, marker=True)]
    assert feed(d, packets) == []
    assert d.fu_errors == 1 and d.units_dropped == 1


def test_empty_payload_is_counted_and_harmless(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    *params, last = codec.params
    packets = [s.pkt(n, 0) for n in params] + [s.pkt(b"", 0), s.pkt(last, 0)]
    [au] = feed(d, [*packets, s.pkt(codec.idr, 0, marker=True)])
    assert au.data == annexb(*codec.params, codec.idr)
    assert au.packets == len(codec.params) + 2
    assert counters(d) == (0, 1, 0, 0)


GARBAGE = {
    "h264": [
        b"\x1e\x01\x02",  # reserved type 30
        b"\x1f",  # reserved type 31
        b"\xe5\x88\x84",  # forbidden_zero_bit set
        b"\x18\x00\x09\x67",  # STAP-A whose unit claims more bytes than remain
        b"\x18\x00",  # STAP-A cut inside a length
        b"\x7c\x85",  # FU-A without any data
        b"\x00\x00\x00\x00",  # zeros only
    ],
    "h265": [
        b"\x02\x00\xd0",  # TemporalId 0
        b"\x82\x01\xd0",  # forbidden_zero_bit
        b"\x7e\x01\x00",  # reserved type 63
        b"\x60\x01\x00\x20\x40",  # AP whose unit is longer than the packet
        b"\x62\x01",  # FU without FU header
        b"\x02",  # one byte
    ],
}


@pytest.mark.parametrize(
    ("name", "garbage"),
    [(name, g) for name, payloads in GARBAGE.items() for g in payloads],
    ids=lambda v: v.hex() if isinstance(v, bytes) else v,
)
def test_garbage_payload_drops_the_unit_and_never_raises(name: str, garbage: bytes) -> None:
    codec = CODECS[name]
    s, d = Stream(), codec.depacketizer()
    *params, last = codec.params
    packets = [s.pkt(n, 0) for n in params] + [s.pkt(garbage, 0), s.pkt(last, 0)]
    out = feed(d, [*packets, s.pkt(codec.idr, 0, marker=True)])
    assert out == []
    assert d.packets_discarded == 1 and d.units_dropped == 1
    [au] = feed(d, codec.keyframe(s, 3600))
    assert au.keyframe


def test_random_payloads_never_raise(codec: Codec) -> None:
    rng = random.Random(7)
    s, d = Stream(), codec.depacketizer()
    emitted = 0
    for i in range(4000):
        payload = rng.randbytes(rng.randrange(0, 60))
        if rng.random() < 0.05:
            s.skip(rng.randrange(1, 5))
        emitted += len(d.push(s.pkt(payload, (i // 7) * 3000, marker=rng.random() < 0.1)))
    d.flush()
    assert d.packets_discarded > 0
    assert emitted + d.units_dropped > 0


def test_first_packet_in_the_middle_of_a_unit(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    packets = codec.keyframe(s, 0)
    out = feed(d, packets[len(codec.params) + 1 :])
    out += feed(d, codec.picture(s, 3600, codec.p) + codec.keyframe(s, 7200))
    assert [a.rtp_timestamp for a in out] == [7200]


def test_stream_may_begin_with_a_non_key_picture(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    out = feed(d, codec.picture(s, 0, codec.p) + codec.keyframe(s, 3600))
    assert [a.keyframe for a in out] == [False, True]


def test_ssrc_change_restarts_and_resyncs(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    feed(d, codec.keyframe(s, 0))
    s2 = Stream(seq=5, ssrc=0x9999)
    out = feed(d, codec.picture(s2, 90, codec.p) + codec.keyframe(s2, 3690))
    assert [a.rtp_timestamp for a in out] == [3690]
    assert d.lost_packets_seen == 0


def test_large_sequence_jump_needs_two_consecutive_packets(codec: Codec) -> None:
    s, d = Stream(seq=100), codec.depacketizer()
    feed(d, codec.keyframe(s, 0))
    s.seq = 40000  # the camera restarted its sequence, same SSRC
    out = feed(d, codec.picture(s, 3600, codec.p) + codec.keyframe(s, 7200))
    assert [a.rtp_timestamp for a in out] == [7200]
    assert d.lost_packets_seen == 0
    assert d.packets_discarded == 1  # the first packet of the new sequence, on probation


def test_recovery_point_sei_ends_a_resync_without_idr(codec: Codec) -> None:
    # Periodic intra refresh: no IDR after the first, a recovery-point SEI instead.
    s, d = Stream(), codec.depacketizer()
    feed(d, codec.keyframe(s, 0))
    s.skip()
    out = feed(
        d,
        codec.picture(s, 3600, codec.p)
        + codec.picture(s, 7200, codec.sei, codec.p)
        + codec.picture(s, 10800, codec.recovery_sei, codec.p),
    )
    out += feed(d, codec.picture(s, 14400, codec.p))
    assert [(a.rtp_timestamp, a.keyframe) for a in out] == [(10800, False), (14400, False)]
    assert d.units_dropped == 2


def test_resync_gives_up_after_a_bounded_number_of_units(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer()
    feed(d, codec.keyframe(s, 0))
    s.skip()
    units = MAX_RESYNC_UNITS + 2
    out = feed(d, [s.pkt(codec.p[:40], 3600 * (i + 1), marker=True) for i in range(units)])
    assert [a.rtp_timestamp for a in out] == [3600 * (units - 1), 3600 * units]
    assert d.units_dropped == MAX_RESYNC_UNITS


def test_oversized_unit_is_dropped(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer(max_au_bytes=10_000)
    big = codec.idr[: codec.header_len + 1] + BODY * 4
    out = feed(d, codec.picture(s, 0, *codec.params, big) + codec.keyframe(s, 3600))
    assert [a.rtp_timestamp for a in out] == [3600]
    assert d.units_dropped == 1


# -- parameter sets -----------------------------------------------------------------


def test_sprop_parameter_sets_are_prepended_to_a_bare_keyframe(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer(codec.params)
    out = feed(d, codec.picture(s, 0, codec.idr) + codec.picture(s, 3600, codec.p))
    assert out[0].data == annexb(*codec.params, codec.idr)
    assert out[0].nal_types == codec.types(*codec.params, codec.idr)
    assert out[1].data == annexb(codec.p)  # only keyframes get them
    assert codec.stored_params(d) == (None,) * len(codec.params)  # nothing seen in-band yet


def test_sprop_parameter_sets_go_after_the_delimiter(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer(codec.params)
    out = feed(d, codec.picture(s, 0, codec.aud, codec.idr))
    out += feed(d, codec.picture(s, 3000, codec.aud, codec.p))
    assert out[0].data == annexb(codec.aud, *codec.params, codec.idr)
    assert out[1].data == annexb(codec.aud, codec.p)


def test_in_band_parameter_sets_replace_the_sdp_ones(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer(codec.params)
    *before, sps, pps = codec.params
    sps2 = codec.sps_variant()
    assert sps2 != sps
    feed(d, codec.picture(s, 0, *before, sps2, pps, codec.idr))
    assert codec.stored_params(d)[-2] == sps2
    [au] = feed(d, codec.picture(s, 3600, codec.idr))
    assert au.data == annexb(*before, sps2, pps, codec.idr)


def test_only_the_missing_parameter_set_is_added_after_the_delimiter(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer(codec.params)
    *before, pps = codec.params
    [au] = feed(d, codec.picture(s, 0, codec.aud, pps, codec.idr))
    assert au.data == annexb(codec.aud, *before, pps, codec.idr)


def test_sprop_given_as_annexb_blob(codec: Codec) -> None:
    s, d = Stream(), codec.depacketizer([annexb(*codec.params)])
    [au] = feed(d, codec.picture(s, 0, codec.idr))
    assert au.nal_types == codec.types(*codec.params, codec.idr)
