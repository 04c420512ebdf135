"""Sequence parameter set parsing: codec, profile, level, size, frame rate.

H.264 7.3.2.1.1 and H.265 7.3.2.2. Only what a health report needs is kept,
but every field before the VUI timing info is walked exactly, including the
rarely used parts (scaling lists, PCM, inter-predicted reference picture
sets), since one misread bit shifts everything after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .nal import BitReader, BitstreamError, split_annexb, unescape_rbsp

__all__ = ["SpsError", "SpsInfo", "parse_h264_sps", "parse_h265_sps", "parse_sps"]

_MAX_DIMENSION = 16384


class SpsError(ValueError):
    """An SPS that cannot be parsed (wrong NAL type, truncated, impossible values)."""


@dataclass(frozen=True, slots=True)
class SpsInfo:
    codec: str  # "h264" | "h265"
    profile: str  # FFmpeg's names: "Baseline", "Constrained Baseline", "Main", "High", "Main 10"
    level: str  # "3.1", "4.0", "1b"
    width: int  # after cropping (H.264 frame cropping / H.265 conformance window)
    height: int
    fps: float | None  # from VUI timing info, when present
    bit_depth: int = 8
    chroma_format: str = "4:2:0"


_CHROMA = {0: "4:0:0", 1: "4:2:0", 2: "4:2:2", 3: "4:4:4"}
# (SubWidthC, SubHeightC) by chroma_format_idc (H.264 table 6-1, H.265 table 6-1).
_SUBSAMPLING = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}


def parse_sps(codec: str, nal: bytes) -> SpsInfo:
    """Dispatch on codec name ("h264" or "h265"/"hevc")."""
    if codec == "h264":
        return parse_h264_sps(nal)
    if codec in ("h265", "hevc"):
        return parse_h265_sps(nal)
    raise SpsError(f"no SPS parser for codec {codec!r}")


def _unit(nal: bytes, header_len: int, codec: str) -> bytes:
    """The NAL unit itself, tolerating a leading start code, at least header + 1 byte."""
    nal = bytes(nal)
    if nal[:2] == b"\x00\x00":
        parts = split_annexb(nal)
        nal = parts[0] if parts else b""
    if len(nal) <= header_len:
        raise SpsError(f"{codec} SPS too short: {len(nal)} bytes")
    return nal


# -- H.264 ---------------------------------------------------------------------

_H264_HIGH = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
_H264_PROFILES = {
    66: "Baseline",
    77: "Main",
    88: "Extended",
    100: "High",
    110: "High 10",
    122: "High 4:2:2",
    244: "High 4:4:4 Predictive",
    44: "CAVLC 4:4:4",
    83: "Scalable Baseline",
    86: "Scalable High",
    118: "Multiview High",
    128: "Stereo High",
    134: "MFC High",
    138: "Multiview Depth High",
}


def parse_h264_sps(nal: bytes) -> SpsInfo:
    """Parse an H.264 SPS NAL unit (1-byte header included)."""
    nal = _unit(nal, 1, "H.264")
    if nal[0] & 0x9F != 7:
        raise SpsError(f"not an H.264 SPS: NAL header byte 0x{nal[0]:02x}")
    try:
        return _h264(BitReader(unescape_rbsp(nal[1:])))
    except BitstreamError as exc:
        raise SpsError(f"truncated H.264 SPS ({len(nal)} bytes): {exc}") from None


def _h264(r: BitReader) -> SpsInfo:
    profile_idc = r.u(8)
    constraints = r.u(8)
    level_idc = r.u(8)
    r.ue()  # seq_parameter_set_id
    chroma_format_idc, separate_planes, bit_depth = 1, False, 8
    if profile_idc in _H264_HIGH:
        chroma_format_idc = r.ue()
        if chroma_format_idc > 3:
            raise SpsError(f"H.264 SPS chroma_format_idc {chroma_format_idc} is invalid")
        if chroma_format_idc == 3:
            separate_planes = r.flag()
        bit_depth = r.ue() + 8
        r.ue()  # bit_depth_chroma_minus8
        r.skip(1)  # qpprime_y_zero_transform_bypass_flag
        if r.flag():  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if r.flag():
                    _skip_h264_scaling_list(r, 16 if i < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        r.skip(1)
        r.se()
        r.se()
        for _ in range(_bounded(r.ue(), 255, "num_ref_frames_in_pic_order_cnt_cycle")):
            r.se()
    r.ue()  # max_num_ref_frames
    r.skip(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = r.ue() + 1
    height_map_units = r.ue() + 1
    frame_mbs_only = r.flag()
    if not frame_mbs_only:
        r.skip(1)  # mb_adaptive_frame_field_flag
    r.skip(1)  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = height_map_units * 16 * (1 if frame_mbs_only else 2)
    if r.flag():  # frame_cropping_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        array_type = 0 if separate_planes else chroma_format_idc
        sub_w, sub_h = _SUBSAMPLING[array_type]
        unit_x = 1 if array_type == 0 else sub_w
        unit_y = (1 if array_type == 0 else sub_h) * (1 if frame_mbs_only else 2)
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    _check_size("H.264", width, height)
    fps = _optional(_h264_vui_fps, r)
    return SpsInfo(
        codec="h264",
        profile=_h264_profile(profile_idc, constraints),
        level=_h264_level(level_idc, profile_idc, constraints),
        width=width,
        height=height,
        fps=fps,
        bit_depth=bit_depth,
        chroma_format=_CHROMA[chroma_format_idc],
    )


def _skip_h264_scaling_list(r: BitReader, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt != 0:
            nxt = (last + r.se() + 256) % 256
        last = nxt or last


def _h264_vui_fps(r: BitReader) -> float | None:
    if not r.flag():  # vui_parameters_present_flag
        return None
    if r.flag() and r.u(8) == 255:  # aspect_ratio_info_present_flag, aspect_ratio_idc
        r.skip(32)  # sar_width, sar_height
    if r.flag():  # overscan_info_present_flag
        r.skip(1)
    if r.flag():  # video_signal_type_present_flag
        r.skip(4)  # video_format, video_full_range_flag
        if r.flag():  # colour_description_present_flag
            r.skip(24)
    if r.flag():  # chroma_loc_info_present_flag
        r.ue()
        r.ue()
    if not r.flag():  # timing_info_present_flag
        return None
    units, scale = r.u(32), r.u(32)
    # A frame is two field ticks in H.264 (equation E-34 with fixed field pairs).
    return round(scale / (2 * units), 3) if units and scale else None


def _h264_profile(idc: int, constraints: int) -> str:
    set1, set3 = constraints & 0x40, constraints & 0x10
    if idc == 66 and set1:
        return "Constrained Baseline"
    if idc in (110, 122) and set3:
        return f"{_H264_PROFILES[idc]} Intra"
    if idc == 244 and set3:
        return "High 4:4:4 Intra"
    return _H264_PROFILES.get(idc, f"profile {idc}")


def _h264_level(idc: int, profile_idc: int, constraints: int) -> str:
    if idc == 9 or (idc == 11 and constraints & 0x10 and profile_idc in (66, 77, 88)):
        return "1b"
    return f"{idc // 10}.{idc % 10}"


# -- H.265 ---------------------------------------------------------------------

_H265_PROFILES = {
    1: "Main",
    2: "Main 10",
    3: "Main Still Picture",
    4: "Rext",
    5: "High Throughput 4:4:4",
    9: "SCC",
}


def parse_h265_sps(nal: bytes) -> SpsInfo:
    """Parse an H.265 SPS NAL unit (2-byte header included)."""
    nal = _unit(nal, 2, "H.265")
    if nal[0] & 0xFE != 33 << 1:
        raise SpsError(f"not an H.265 SPS: NAL header byte 0x{nal[0]:02x}")
    try:
        return _h265(BitReader(unescape_rbsp(nal[2:])))
    except BitstreamError as exc:
        raise SpsError(f"truncated H.265 SPS ({len(nal)} bytes): {exc}") from None


def _h265(r: BitReader) -> SpsInfo:
    r.skip(4)  # sps_video_parameter_set_id
    max_sub_layers = r.u(3) + 1
    r.skip(1)  # sps_temporal_id_nesting_flag
    profile, level = _h265_profile_tier_level(r, max_sub_layers)
    r.ue()  # sps_seq_parameter_set_id
    chroma_format_idc = r.ue()
    if chroma_format_idc > 3:
        raise SpsError(f"H.265 SPS chroma_format_idc {chroma_format_idc} is invalid")
    separate_planes = r.flag() if chroma_format_idc == 3 else False
    width, height = r.ue(), r.ue()
    if r.flag():  # conformance_window_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        sub_w, sub_h = _SUBSAMPLING[0 if separate_planes else chroma_format_idc]
        width -= sub_w * (left + right)
        height -= sub_h * (top + bottom)
    _check_size("H.265", width, height)
    bit_depth = r.ue() + 8
    fps = _optional(_h265_rest_fps, r, max_sub_layers)
    return SpsInfo(
        codec="h265",
        profile=profile,
        level=level,
        width=width,
        height=height,
        fps=fps,
        bit_depth=bit_depth,
        chroma_format=_CHROMA[chroma_format_idc],
    )


def _h265_profile_tier_level(r: BitReader, max_sub_layers: int) -> tuple[str, str]:
    r.skip(2)  # general_profile_space
    r.skip(1)  # general_tier_flag
    profile_idc = r.u(5)
    compatibility = r.u(32)
    r.skip(48)  # source flags and constraint flags
    level_idc = r.u(8)
    present = [(r.flag(), r.flag()) for _ in range(max_sub_layers - 1)]
    if max_sub_layers > 1:
        r.skip(2 * (9 - max_sub_layers))  # reserved_zero_2bits up to 8 entries
    for profile_present, level_present in present:
        if profile_present:
            r.skip(88)
        if level_present:
            r.skip(8)
    if profile_idc == 0:  # some encoders only set the compatibility flag
        profile_idc = next((j for j in range(1, 32) if compatibility & (1 << (31 - j))), 0)
    profile = _H265_PROFILES.get(profile_idc, f"profile {profile_idc}")
    return profile, f"{level_idc // 30}.{level_idc % 30 // 3}"


def _h265_rest_fps(r: BitReader, max_sub_layers: int) -> float | None:
    """Walk from bit_depth_chroma to the VUI and return its frame rate."""
    r.ue()  # bit_depth_chroma_minus8
    log2_max_poc_lsb = r.ue() + 4
    ordering_all = r.flag()
    for _ in range(max_sub_layers if ordering_all else 1):
        r.ue()
        r.ue()
        r.ue()
    for _ in range(6):  # coding/transform block sizes, transform hierarchy depths
        r.ue()
    if r.flag() and r.flag():  # scaling_list_enabled, sps_scaling_list_data_present
        _skip_h265_scaling_list_data(r)
    r.skip(2)  # amp_enabled_flag, sample_adaptive_offset_enabled_flag
    if r.flag():  # pcm_enabled_flag
        r.skip(8)
        r.ue()
        r.ue()
        r.skip(1)
    _skip_st_ref_pic_sets(r, _bounded(r.ue(), 64, "num_short_term_ref_pic_sets"))
    if r.flag():  # long_term_ref_pics_present_flag
        for _ in range(_bounded(r.ue(), 32, "num_long_term_ref_pics_sps")):
            r.skip(log2_max_poc_lsb + 1)
    r.skip(2)  # sps_temporal_mvp_enabled_flag, strong_intra_smoothing_enabled_flag
    if not r.flag():  # vui_parameters_present_flag
        return None
    return _h265_vui_fps(r)


def _skip_h265_scaling_list_data(r: BitReader) -> None:
    for size_id in range(4):
        for _ in range(0, 6, 3 if size_id == 3 else 1):
            if not r.flag():  # scaling_list_pred_mode_flag
                r.ue()  # scaling_list_pred_matrix_id_delta
                continue
            if size_id > 1:
                r.se()  # scaling_list_dc_coef_minus8
            for _ in range(min(64, 1 << (4 + (size_id << 1)))):
                r.se()


def _skip_st_ref_pic_sets(r: BitReader, count: int) -> None:
    # Each set is (negative deltas, positive deltas); later sets may be coded
    # relative to the previous one, so their sizes must be tracked (7.4.8).
    sets: list[tuple[list[int], list[int]]] = []
    for idx in range(count):
        if idx and r.flag():  # inter_ref_pic_set_prediction_flag
            sets.append(_predicted_rps(r, sets[idx - 1]))
            continue
        negatives, positives = [], []
        poc = 0
        for _ in range(_bounded(r.ue(), 16, "num_negative_pics")):
            poc -= r.ue() + 1
            r.skip(1)
            negatives.append(poc)
        poc = 0
        for _ in range(_bounded(r.ue(), 16, "num_positive_pics")):
            poc += r.ue() + 1
            r.skip(1)
            positives.append(poc)
        sets.append((negatives, positives))


def _predicted_rps(r: BitReader, ref: tuple[list[int], list[int]]) -> tuple[list[int], list[int]]:
    sign = r.u(1)
    delta_rps = (1 - 2 * sign) * (r.ue() + 1)
    ref_neg, ref_pos = ref
    ref_deltas = ref_neg + ref_pos
    use: list[bool] = []
    for _ in range(len(ref_deltas) + 1):
        used_by_curr = r.flag()
        use.append(used_by_curr or r.flag())
    # Equations 7-61 and 7-62: which predicted deltas survive, by sign.
    candidates = [d + delta_rps for d, u in zip(ref_deltas, use, strict=False) if u]
    if use[len(ref_deltas)]:
        candidates.append(delta_rps)
    negatives = sorted((d for d in candidates if d < 0), reverse=True)
    positives = sorted(d for d in candidates if d > 0)
    return negatives, positives


def _h265_vui_fps(r: BitReader) -> float | None:
    if r.flag() and r.u(8) == 255:  # aspect_ratio_info_present_flag, aspect_ratio_idc
        r.skip(32)
    if r.flag():  # overscan_info_present_flag
        r.skip(1)
    if r.flag():  # video_signal_type_present_flag
        r.skip(4)
        if r.flag():  # colour_description_present_flag
            r.skip(24)
    if r.flag():  # chroma_loc_info_present_flag
        r.ue()
        r.ue()
    r.skip(3)  # neutral_chroma_indication, field_seq, frame_field_info_present
    if r.flag():  # default_display_window_flag
        for _ in range(4):
            r.ue()
    if not r.flag():  # vui_timing_info_present_flag
        return None
    units, scale = r.u(32), r.u(32)
    return round(scale / units, 3) if units and scale else None


# -- shared ----------------------------------------------------------------------


def _check_size(codec: str, width: int, height: int) -> None:
    if not (0 < width <= _MAX_DIMENSION and 0 < height <= _MAX_DIMENSION):
        raise SpsError(f"{codec} SPS gives an impossible picture size {width}x{height}")


def _bounded(value: int, limit: int, name: str) -> int:
    if value > limit:
        raise BitstreamError(f"{name} = {value} exceeds {limit}")
    return value


def _optional(parse: Callable[..., float | None], *args: object) -> float | None:
    """The frame rate is a bonus: a VUI we cannot walk must not lose the size."""
    try:
        return parse(*args)
    except (BitstreamError, SpsError):
        return None
