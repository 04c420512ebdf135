"""A reference RTSP server for the tests: Debian's gst-rtsp-server.

Run by /usr/bin/python3 (Debian's gi bindings), not by the project's Python:
    /usr/bin/python3 tests/servers/gst_rtsp.py --port 0 [--digest user:pass]
Mounts (all live test patterns, x264/x265 with a 1 s GOP):
    /h264      640x360 @ 15 fps H.264
    /h265      640x360 @ 15 fps H.265
    /h264-720  1280x720 @ 25 fps H.264
It prints `READY <port>` on stdout once it listens, and runs until killed.
"""

import argparse
import contextlib
import socket
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

MOUNTS = {
    "/h264": (
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=500 "
        "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=-1",
        640,
        360,
        15,
    ),
    "/h265": (
        "x265enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=500 "
        "! h265parse config-interval=-1 ! rtph265pay name=pay0 pt=96 config-interval=-1",
        640,
        360,
        15,
    ),
    "/h264-720": (
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=1500 "
        "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=-1",
        1280,
        720,
        25,
    ),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_line(encoder: str, width: int, height: int, fps: int) -> str:
    return (
        # Moving colour bars: textured, bright and never still, so a probe's
        # image checks see a healthy picture (the "ball" pattern is mostly black).
        "( videotestsrc is-live=true pattern=smpte horizontal-speed=3 ! "
        f"video/x-raw,width={width},height={height},framerate={fps}/1,format=I420 ! "
        f"{encoder.format(gop=fps)} )"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--digest", default=None, help="user:pass; requires Digest auth on every mount")
    args = ap.parse_args()
    Gst.init(None)
    port = args.port or free_port()
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    mounts = server.get_mount_points()
    for path, (encoder, w, h, fps) in MOUNTS.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(encoder, w, h, fps))
        factory.set_shared(True)
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)
        if args.digest:
            perms = GstRtspServer.RTSPPermissions()
            perms.add_permission_for_role("user", "media.factory.access", True)
            perms.add_permission_for_role("user", "media.factory.construct", True)
            factory.set_permissions(perms)
        mounts.add_factory(path, factory)
    if args.digest:
        user, password = args.digest.split(":", 1)
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_digest(user, password, token)
        server.set_auth(auth)
    if server.attach(None) == 0:
        print("FAILED to attach", file=sys.stderr)
        return 1
    print(f"READY {port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
