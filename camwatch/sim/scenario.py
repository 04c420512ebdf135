"""Scenarios: which cameras the sim serves and which faults it plays, when.

A scenario comes from a TOML file (format documented in
examples/scenarios/README.md) or is built in:

- "healthy": N cameras (default 4), no faults.
- "demo": 16 cameras in two sites; stall, frozen, covered, packet loss,
  defocus and offline come and go, repeating every 4 minutes.
- "faults": every fault kind once, each on its own camera named after it,
  plus a "healthy" control camera; all run from 20 s to 80 s.
- "eval-healthy", "eval-faults", "eval-short": the scored evaluation's
  scenarios (see evalscenarios.py): healthy but hard scenes with light
  changes and day/night switches; every fault several times on varied scenes;
  a short mix of both for the test suite.

Besides faults, a scenario may script scene events (events.py): light
changes and IR day/night switches that a healthy camera goes through and that
never appear in the ground truth.

`build_scenario` applies command-line overrides (codec, size, fps, gop,
bitrate, seed, duration) as camera defaults: a value set on a camera in a
file still wins.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .events import Event, make_event
from .faults import FAULT_KINDS, Fault, FaultError, make_fault
from .scene import STYLE_NOISE, STYLES
from .units import parse_bitrate, parse_size

EVAL_BUILTINS = ("eval-healthy", "eval-faults", "eval-short")
BUILTINS = ("healthy", "demo", "faults", *EVAL_BUILTINS)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CAMERA_KEYS = {
    "name", "prefix", "count", "site", "codec", "size", "fps", "gop", "bitrate",
    "scene", "overlay", "user", "password", "qop", "style", "noise", "ir",
}  # fmt: skip
_DEFAULT_KEYS = {"codec", "size", "fps", "gop", "bitrate", "overlay"}
_OVERRIDE_KEYS = {"codec", "size", "width", "height", "fps", "gop", "bitrate", "overlay",
                  "seed", "duration", "loop"}  # fmt: skip
_TOP_KEYS = {
    "name", "duration", "repeat", "seed", "scenes", "loop", "defaults", "cameras", "faults",
    "events",
}  # fmt: skip


class ScenarioError(ValueError):
    """The scenario is invalid; the message names the file, field and reason."""


@dataclass(frozen=True)
class CameraSpec:
    name: str
    site: str = ""
    codec: str = "h264"
    width: int = 640
    height: int = 360
    fps: float = 15.0
    gop: float = 2.0  # seconds between keyframes
    bitrate: int = 500_000
    scene: int = 0
    overlay: bool = True
    user: str | None = None
    password: str | None = None
    qop: bool = False  # offer qop="auth" in the Digest challenge
    style: str = "street"  # scene style (scene.STYLES)
    noise: float | None = None  # sensor noise sigma; None: the style's usual
    ir: bool = False  # in IR night mode unless an event says otherwise

    @property
    def gop_frames(self) -> int:
        return max(1, round(self.gop * self.fps))

    @property
    def sensor_noise(self) -> float:
        return STYLE_NOISE[self.style] if self.noise is None else self.noise


@dataclass(frozen=True)
class Scenario:
    name: str
    cameras: tuple[CameraSpec, ...]
    faults: tuple[Fault, ...] = ()
    duration: float | None = None  # seconds; None: until stopped
    repeat: float | None = None  # the fault schedule recurs with this period
    seed: int | None = None  # None: random SSRCs, sequence numbers and losses
    loop: float = 8.0  # seconds of video per encoded loop
    events: tuple[Event, ...] = ()  # scene events: not faults, never in the truth

    def camera(self, name: str) -> CameraSpec:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise KeyError(name)

    def faults_for(self, name: str) -> tuple[Fault, ...]:
        return tuple(f for f in self.faults if f.camera == name)

    def events_for(self, name: str) -> tuple[Event, ...]:
        return tuple(e for e in self.events if e.camera == name)


def build_scenario(
    name_or_path: str | None, cameras: int | None = None, **overrides: Any
) -> Scenario:
    """A built-in scenario by name, or one loaded from a TOML file path.

    overrides: codec, size ("640x360"), width, height, fps, gop, bitrate, seed,
    duration, loop. Raises ScenarioError with a clear message.
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(overrides) - _OVERRIDE_KEYS)
    if unknown:
        raise ScenarioError(f"unknown scenario override(s): {', '.join(unknown)}")
    defaults = _camera_defaults(overrides, "command line")
    top = {k: overrides.pop(k) for k in ("seed", "duration", "loop") if k in overrides}
    name = name_or_path or "healthy"
    if name in BUILTINS:
        scenario = _builtin(name, cameras, defaults)
    else:
        path = Path(name)
        if not path.is_file():
            raise ScenarioError(
                f"no built-in scenario or file named {name!r} (built-ins: {', '.join(BUILTINS)})"
            )
        scenario = load_scenario(path, defaults, cameras)
    if top:
        scenario = replace(
            scenario,
            seed=int(top["seed"]) if "seed" in top else scenario.seed,
            duration=_positive(top.get("duration", scenario.duration), "duration", "command line"),
            loop=_positive(top.get("loop", scenario.loop), "loop", "command line") or 8.0,
        )
    return scenario


def _camera_defaults(values: dict[str, Any], where: str) -> dict[str, Any]:
    """Normalise codec/size/fps/gop/bitrate/overlay values into CameraSpec fields."""
    out: dict[str, Any] = {}
    if "size" in values:
        out["width"], out["height"] = _call(parse_size, values["size"], where)
    for key in ("width", "height"):
        if key in values:
            out[key] = int(values[key])
    if "codec" in values:
        codec = str(values["codec"]).lower().replace("hevc", "h265").replace("avc", "h264")
        if codec not in ("h264", "h265"):
            raise ScenarioError(f"{where}: codec {values['codec']!r} is not h264 or h265")
        out["codec"] = codec
    if "fps" in values:
        out["fps"] = _positive(values["fps"], "fps", where)
    if "gop" in values:
        out["gop"] = _positive(values["gop"], "gop", where)
    if "bitrate" in values:
        out["bitrate"] = _call(parse_bitrate, values["bitrate"], where)
    if "overlay" in values:
        out["overlay"] = bool(values["overlay"])
    return out


def _call(fn: Any, value: Any, where: str) -> Any:
    try:
        return fn(value)
    except ValueError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def _positive(value: Any, what: str, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ScenarioError(f"{where}: {what} must be a positive number, got {value!r}")
    return float(value)


# --- built-ins -------------------------------------------------------------


def _builtin(name: str, cameras: int | None, defaults: dict[str, Any]) -> Scenario:
    if cameras is not None and not 1 <= cameras <= 5000:
        raise ScenarioError(f"--cameras must be in 1..5000, got {cameras}")
    if name == "healthy":
        count = cameras or 4
        cams = [_camera(_numbered("cam", i, count), "", i, defaults) for i in range(count)]
        return Scenario(name="healthy", cameras=tuple(cams))
    if name == "demo":
        return _demo(cameras or 16, defaults)
    if name in EVAL_BUILTINS:
        from .evalscenarios import eval_scenario

        if cameras is not None:
            raise ScenarioError(f"the {name} scenario has a fixed set of cameras; drop --cameras")
        return eval_scenario(name, defaults)
    if cameras is not None:
        raise ScenarioError("the faults scenario has one camera per fault kind; drop --cameras")
    return _all_faults(defaults)


def _numbered(prefix: str, index: int, count: int) -> str:
    return f"{prefix}{index + 1:0{max(2, len(str(count)))}d}"


def _camera(name: str, site: str, index: int, defaults: dict[str, Any]) -> CameraSpec:
    return CameraSpec(name=name, site=site, scene=index % 4, **defaults)


def _demo(count: int, defaults: dict[str, Any]) -> Scenario:
    north = (count + 1) // 2
    cams = [
        _camera(_numbered(f"{site}-", i, count), site, n, defaults)
        for n, (site, i) in enumerate(
            [("north", i) for i in range(north)] + [("south", i) for i in range(count - north)]
        )
    ]
    plan = [
        ("south-03", "stall", 20, 70, {}),
        ("north-02", "packet_loss", 30, 200, {"percent": 8.0, "burst": 3.0}),
        ("north-05", "frozen", 40, 110, {}),
        ("south-06", "covered", 80, 150, {}),
        ("north-04", "defocus", 100, 170, {}),
        ("south-08", "offline", 120, 190, {}),
    ]
    names = {c.name for c in cams}
    faults = tuple(make_fault(c, k, s, e, p) for c, k, s, e, p in plan if c in names)
    return Scenario(name="demo", cameras=tuple(cams), faults=faults, repeat=240.0)


def _all_faults(defaults: dict[str, Any]) -> Scenario:
    names = ["healthy", *FAULT_KINDS]
    cams = [_camera(n.replace("_", "-"), "lab", i, defaults) for i, n in enumerate(names)]
    faults = tuple(make_fault(k.replace("_", "-"), k, 20.0, 80.0) for k in FAULT_KINDS)
    return Scenario(name="faults", cameras=tuple(cams), faults=faults)


# --- files -----------------------------------------------------------------


def load_scenario(
    path: str | Path, overrides: dict[str, Any] | None = None, cameras: int | None = None
) -> Scenario:
    """Read and validate a TOML scenario. Raises ScenarioError."""
    path = Path(path)
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{where}: not valid TOML: {exc}") from None
    return scenario_from_dict(data, where, overrides or {}, cameras)


def scenario_from_dict(
    data: dict[str, Any], where: str, overrides: dict[str, Any], cameras: int | None = None
) -> Scenario:
    _check_keys(data, _TOP_KEYS, where)
    defaults_table = data.get("defaults", {})
    if not isinstance(defaults_table, dict):
        raise ScenarioError(f"{where}: [defaults] must be a table")
    _check_keys(defaults_table, _DEFAULT_KEYS, f"{where} [defaults]")
    defaults = {**_camera_defaults(defaults_table, f"{where} [defaults]"), **overrides}
    scenes = int(data.get("scenes", 4))
    cams = _file_cameras(data.get("cameras", 4), cameras, defaults, scenes, where)
    names = [c.name for c in cams]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ScenarioError(f"{where}: camera names used twice: {', '.join(duplicates)}")
    repeat = _positive(data.get("repeat"), "repeat", where)
    faults = _file_faults(data.get("faults", []), set(names), repeat, where)
    events = _file_events(data.get("events", []), set(names), repeat, where)
    return Scenario(
        name=str(data.get("name", Path(where).stem)),
        cameras=tuple(cams),
        faults=faults,
        duration=_positive(data.get("duration"), "duration", where),
        repeat=repeat,
        seed=int(data["seed"]) if "seed" in data else None,
        loop=_positive(data.get("loop", 8.0), "loop", where) or 8.0,
        events=events,
    )


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})"
        )


def _file_cameras(
    value: Any, cameras: int | None, defaults: dict[str, Any], scenes: int, where: str
) -> list[CameraSpec]:
    if isinstance(value, int) and not isinstance(value, bool):
        count = cameras or value
        if not 1 <= count <= 5000:
            raise ScenarioError(f"{where}: cameras must be in 1..5000, got {count}")
        return [
            replace(_camera(_numbered("cam", i, count), "", i, defaults), scene=i % scenes)
            for i in range(count)
        ]
    if cameras is not None:
        raise ScenarioError(f"{where} lists its cameras; --cameras cannot change them")
    if not isinstance(value, list) or not value:
        raise ScenarioError(f"{where}: cameras must be a count or a non-empty [[cameras]] list")
    out: list[CameraSpec] = []
    for n, entry in enumerate(value, start=1):
        out.extend(_camera_entry(entry, defaults, scenes, f"{where} camera #{n}", len(out)))
    return out


def _camera_entry(
    entry: Any, defaults: dict[str, Any], scenes: int, where: str, first_index: int
) -> list[CameraSpec]:
    if not isinstance(entry, dict):
        raise ScenarioError(f"{where}: must be a table")
    _check_keys(entry, _CAMERA_KEYS, where)
    fields = {**defaults, **_camera_defaults(entry, where)}
    for key in ("site", "user", "password"):
        if key in entry:
            fields[key] = str(entry[key])
    if "qop" in entry:
        fields["qop"] = bool(entry["qop"])
    fields.update(_scene_fields(entry, where))
    if ("user" in fields) != ("password" in fields):
        raise ScenarioError(f"{where}: give both user and password, or neither")
    if "name" in entry:
        if "count" in entry or "prefix" in entry:
            raise ScenarioError(f"{where}: use either name, or prefix and count")
        names = [_valid_name(entry["name"], where)]
    else:
        count = entry.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 5000:
            raise ScenarioError(f"{where}: needs a name, or a count in 1..5000")
        prefix = str(entry.get("prefix", "cam"))
        names = [_valid_name(_numbered(prefix, i, count), where) for i in range(count)]
    out = []
    for i, name in enumerate(names):
        scene = int(entry.get("scene", (first_index + i) % max(1, scenes)))
        out.append(CameraSpec(name=name, scene=scene, **fields))
    return out


def _scene_fields(entry: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "style" in entry:
        if entry["style"] not in STYLES:
            raise ScenarioError(
                f"{where}: style {entry['style']!r} is not one of {', '.join(STYLES)}"
            )
        out["style"] = entry["style"]
    if "noise" in entry:
        noise = entry["noise"]
        if isinstance(noise, bool) or not isinstance(noise, int | float) or not 0 <= noise <= 64:
            raise ScenarioError(f"{where}: noise must be a sigma in [0, 64], got {noise!r}")
        out["noise"] = float(noise)
    if "ir" in entry:
        if not isinstance(entry["ir"], bool):
            raise ScenarioError(f"{where}: ir must be true or false, got {entry['ir']!r}")
        out["ir"] = entry["ir"]
    return out


def _valid_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ScenarioError(
            f"{where}: camera name {name!r} must be 1-64 letters, digits, '.', '_' or '-'"
        )
    return name


def _file_faults(
    value: Any, names: set[str], repeat: float | None, where: str
) -> tuple[Fault, ...]:
    return _scheduled(value, names, repeat, where, "fault", make_fault)


def _file_events(
    value: Any, names: set[str], repeat: float | None, where: str
) -> tuple[Event, ...]:
    return _scheduled(value, names, repeat, where, "event", make_event)


def _scheduled(
    value: Any, names: set[str], repeat: float | None, where: str, kind: str, make: Any
) -> tuple[Any, ...]:
    """A [[faults]] or [[events]] list: each entry on one or more cameras, in a time window."""
    if not isinstance(value, list):
        article = "an" if kind == "event" else "a"
        raise ScenarioError(f"{where}: {kind}s must be {article} [[{kind}s]] list")
    out: list[Any] = []
    for n, entry in enumerate(value, start=1):
        here = f"{where} {kind} #{n}"
        if not isinstance(entry, dict):
            raise ScenarioError(f"{here}: must be a table")
        for key in ("camera", kind, "start"):
            if key not in entry:
                raise ScenarioError(f"{here}: missing {key!r}")
        targets = entry["camera"] if isinstance(entry["camera"], list) else [entry["camera"]]
        params = {k: v for k, v in entry.items() if k not in ("camera", kind, "start", "end")}
        if isinstance(params.get("params"), dict):
            params = {**params, **params.pop("params")}
        for camera in targets:
            if camera not in names:
                raise ScenarioError(f"{here}: no camera named {camera!r}")
            try:
                item = make(camera, entry[kind], entry["start"], entry.get("end"), params)
            except FaultError as exc:
                raise ScenarioError(f"{here}: {exc}") from None
            if repeat and (item.end is None or item.end > repeat):
                raise ScenarioError(f"{here}: with repeat={repeat:g} the {kind} must end by then")
            out.append(item)
    return tuple(out)
