"""Sans-I/O RTP layer: packets, RTCP, H.264/H.265 depacketizing, parameter sets.

Nothing here touches a socket or an event loop; the RTSP layer feeds bytes in.
"""

from .h264 import H264Depacketizer
from .h265 import H265Depacketizer
from .nal import AccessUnit, BitReader, BitstreamError, split_annexb, unescape_rbsp
from .packet import RtpError, RtpPacket, parse_rtp
from .params import h264_sprop_nals, h265_sprop_nals
from .rtcp import (
    SenderReport,
    build_receiver_report,
    build_sdes_cname,
    build_sender_report,
    parse_rtcp,
)
from .sps import SpsError, SpsInfo, parse_h264_sps, parse_h265_sps, parse_sps

__all__ = [
    "AccessUnit",
    "BitReader",
    "BitstreamError",
    "H264Depacketizer",
    "H265Depacketizer",
    "RtpError",
    "RtpPacket",
    "SenderReport",
    "SpsError",
    "SpsInfo",
    "build_receiver_report",
    "build_sdes_cname",
    "build_sender_report",
    "h264_sprop_nals",
    "h265_sprop_nals",
    "parse_h264_sps",
    "parse_h265_sps",
    "parse_rtcp",
    "parse_rtp",
    "parse_sps",
    "split_annexb",
    "unescape_rbsp",
]
