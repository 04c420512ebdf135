"""Plain-text rendering of probe results: short lines, no colour, no Textual,
readable in a cron mail, a ticket or an 80-column SSH session."""

from __future__ import annotations

from .probe import ProbeResult
from .state import CameraState


def human_bitrate(bps: float | None) -> str:
    if not bps:
        return "-"
    if bps >= 1e6:
        return f"{bps / 1e6:.2f} Mbit/s"
    return f"{bps / 1e3:.0f} kbit/s"


def _video_line(state: CameraState) -> str:
    info = state.info
    if info is None:
        return "-"
    codec = {"h264": "H.264", "h265": "H.265"}.get(info.codec, info.codec)
    parts = [codec]
    if info.profile:
        parts.append(info.profile)
    if info.level:
        parts.append(f"level {info.level}")
    size = f"{info.width}x{info.height}" if info.width and info.height else "size unknown"
    return f"{' '.join(parts)}, {size}, {state.stats.fps:.1f} fps"


def probe_text(result: ProbeResult) -> str:
    s, st = result.state, result.state.stats
    lines = [
        f"camwatch probe {s.url}",
        f"  result       {result.verdict}: {s.status.value} ({s.reason})",
    ]
    if s.info is not None:
        transport = "TCP interleaved" if s.info.transport == "tcp" else "UDP"
        gop = f"{st.gop_s:.1f} s" if st.gop_s is not None else "-"
        first = f"{st.first_frame_ms:.0f} ms" if st.first_frame_ms is not None else "-"
        decode = f"{s.decode.keyframes_decoded} decoded"
        if s.decode.last_decode_ms is not None:
            decode += f" ({s.decode.last_decode_ms:.1f} ms each)"
        if s.decode.decode_errors:
            decode += f", {s.decode.decode_errors} failed"
        lines += [
            f"  transport    {transport}",
            f"  video        {_video_line(s)}",
            f"  bitrate      {human_bitrate(st.bitrate_bps)}   GOP {gop}",
            f"  packets      {st.packets_received} received, {st.packets_lost} lost "
            f"({st.loss_ratio:.2%})   jitter {st.jitter_ms:.1f} ms "
            f"(frames {st.frame_jitter_ms:.1f} ms)",
            f"  first frame  {first}   keyframes {decode}",
        ]
        if st.clock_drift_ppm is not None:
            lines.append(f"  camera clock {st.clock_drift_ppm:+.0f} ppm vs this machine")
    image = _image_line(s)
    if image:
        lines.append(f"  image        {image}")
    if result.problems:
        lines.append("  problems:")
        lines += [f"    - [{sev.value}] {text}" for sev, text in result.problems]
    return "\n".join(lines)


def _image_line(state: CameraState) -> str:
    """The figures an installer aiming a camera wants side by side."""
    a = state.analysis
    if a is None:
        return ""
    parts = [
        f"brightness {a.luma_mean:.0f}/255",  # type: ignore[attr-defined]
        f"contrast {a.contrast:.0f}",  # type: ignore[attr-defined]
        f"noise {a.noise_sigma:.1f}",  # type: ignore[attr-defined]
        f"sharpness {a.sharpness:.0f}",  # type: ignore[attr-defined]
    ]
    pct = getattr(a, "sharpness_pct", None)
    if pct is not None:
        parts[-1] += f" ({pct:.0f}% of baseline)"
    if state.motion_level is not None:
        parts.append(f"motion {state.motion_level:.0f}%")
    return "  ".join(parts)
