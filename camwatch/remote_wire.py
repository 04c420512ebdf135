"""The wire format between a camwatch daemon and its viewers: one JSON object per line.

Values are the core's frozen dataclasses, sent field by field and rebuilt from
their type hints, so adding a field to `CameraState` needs no change here. The
one exception is `CameraState.analysis`, the analyzer's result with numpy
arrays: its scalar fields and small arrays (the motion grid) travel as plain
JSON and arrive as an `AnalysisView`, a read-only object with the same
attribute names. Anything that does not decode raises `WireError` with what
was wrong, never another exception.

Event kinds: "state" (CameraState), "status" (StatusChanged), "alert"
(AlertEvent) and "fleet" (FleetHealth, every few seconds). A viewer ignores
a kind it does not know, so a kind added here needs no version change.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import functools
import json
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .alerts.model import Alert, AlertEvent, Silence
from .fleethealth import FleetHealth
from .state import CameraState, FrameSample, StatusChanged

PROTOCOL = "camwatch"
VERSION = 1
MAX_LINE = 8 * 1024 * 1024  # what a viewer accepts: a full 1080p RGB thumbnail fits
MAX_REQUEST_LINE = 64 * 1024  # what the daemon accepts from a viewer
MAX_THUMB_SIDE = 2048
MAX_ANALYSIS_ARRAY = 4096  # elements; the motion grid has 144
MAX_ANALYSIS_FIELDS = 64
MAX_INFLIGHT = 64  # requests a viewer may have open (a page of tiles asks for 30 thumbnails)
MAX_ARG = 1000  # characters of any string argument
MAX_REASON = 1000  # characters of a FleetHealth's reason (the fleet writes about 100)
CLOSE_TIMEOUT_S = 1.0

EVENT_KINDS: dict[type, str] = {
    CameraState: "state",
    StatusChanged: "status",
    AlertEvent: "alert",
    FleetHealth: "fleet",
}
EVENT_TYPES: dict[str, type] = {kind: cls for cls, kind in EVENT_KINDS.items()}


class WireError(ValueError):
    """A line or value that is not a valid message of this protocol."""


class RemoteError(Exception):
    """The daemon cannot be served or attached to; the message is fit for the user."""


class RemoteAccessError(RemoteError):
    """The socket exists but this user may not use it."""


# --- lines --------------------------------------------------------------------------


def dump(message: Mapping[str, Any]) -> bytes:
    """One message as one line (compact JSON + newline)."""
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return text.encode() + b"\n"


def _json_default(value: object) -> Any:
    # numpy numbers that are not float/int subclasses (float32, int64 ...) and arrays
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot send a {type(value).__name__}")


def load(line: bytes) -> dict[str, Any]:
    """Parse one line into a message object with a string "t"."""
    try:
        obj = json.loads(line)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("t"), str):
        raise WireError('a message must be a JSON object with a string "t"')
    return obj


# --- values to JSON -----------------------------------------------------------------


def to_wire(value: object) -> Any:
    """A core value as JSON-ready data: dataclasses as objects, enums as their values."""
    if value is None or isinstance(value, bool | int | float | str):
        return value.value if isinstance(value, enum.Enum) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return encoder(type(value))(value)
    if isinstance(value, tuple | list):
        return [to_wire(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise WireError(f"cannot send a {type(value).__name__}")


Encoder = Callable[[Any], Any]


@functools.cache
def encoder(cls: type) -> Encoder:
    """An encoding function for a dataclass type, planned once from its type hints."""
    hints = typing.get_type_hints(cls)
    special: dict[str, Encoder] = {"analysis": analysis_to_wire} if cls is CameraState else {}
    plan = [(f.name, special.get(f.name) or _field(hints[f.name])) for f in dataclasses.fields(cls)]

    def encode(value: Any) -> dict[str, Any]:
        return {name: enc(getattr(value, name)) for name, enc in plan}

    return encode


def _plain(value: Any) -> Any:
    # json writes str/int/float (and their StrEnum/IntEnum subclasses) and tuples as they are
    return value


def _field(tp: Any) -> Encoder:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) != 1:
            return to_wire
        inner = _field(options[0])
        return _plain if inner is _plain else (lambda v: None if v is None else inner(v))
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _field(args[0])
            return _plain if item is _plain else (lambda v: [item(i) for i in v])
        return to_wire
    if isinstance(tp, type):
        if issubclass(tp, str | int | float) and not issubclass(tp, bool | enum.Flag):
            return _plain  # includes StrEnum and IntEnum
        if tp is bool:
            return _plain
        if dataclasses.is_dataclass(tp):
            return encoder(tp)
    return to_wire


def analysis_to_wire(analysis: object) -> dict[str, Any] | None:
    """The scalar fields and small arrays of an analysis result (conditions travel with
    the state already; anything bulky or nested stays on the daemon)."""
    if analysis is None:
        return None
    if dataclasses.is_dataclass(analysis) and not isinstance(analysis, type):
        items = [(f.name, getattr(analysis, f.name)) for f in dataclasses.fields(analysis)]
    elif isinstance(analysis, AnalysisView):
        items = list(analysis.as_dict().items())
    else:
        items = [(k, v) for k, v in vars(analysis).items() if not k.startswith("_")]
    out: dict[str, Any] = {}
    for name, value in items[:MAX_ANALYSIS_FIELDS]:
        data = _small(value)
        if data is not _SKIP:
            out[name] = data
    return out


_SKIP = object()
_SCALARS = (type(None), bool, int, float, str)
_SCALAR_TYPES = frozenset(_SCALARS)


def _small(value: object) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, _SCALARS):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= MAX_ANALYSIS_ARRAY else _SKIP
    if isinstance(value, tuple | list) and len(value) <= MAX_ANALYSIS_ARRAY:
        items = [_small(v) for v in value]
        return _SKIP if any(i is _SKIP or isinstance(i, dict) for i in items) else items
    return _SKIP


# --- JSON to values -----------------------------------------------------------------


class AnalysisView:
    """A remote viewer's read-only copy of the daemon's analysis result.

    Same attribute names as `camwatch.analysis.AnalysisResult` for the fields
    that travel (scalars, tuples, and the motion grid as a tuple of row tuples);
    reading a field that did not travel raises AttributeError, so code written
    for the real result keeps working through `getattr(result, name, None)`.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, object]) -> None:
        object.__setattr__(self, "_values", types.MappingProxyType(dict(values)))

    def __getattr__(self, name: str) -> object:
        if name == "_values":  # not set yet (copy/pickle): never recurse
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"analysis has no field {name!r}") from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("AnalysisView is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("AnalysisView is read-only")

    def __eq__(self, other: object) -> bool:
        """Equal to another view with the same values, or to the analysis result it
        was made from (so a viewer's state equals the daemon's)."""
        if isinstance(other, AnalysisView):
            return self._values == other._values
        if dataclasses.is_dataclass(other) and not isinstance(other, type):
            return self._values == AnalysisView.from_wire(analysis_to_wire(other))._values
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._values.items())))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items() if k != "motion_grid")
        return f"AnalysisView({inner})"

    def as_dict(self) -> dict[str, object]:
        return dict(self._values)

    @classmethod
    def from_wire(cls, data: object) -> AnalysisView | None:
        if data is None:
            return None
        if not isinstance(data, dict) or len(data) > MAX_ANALYSIS_FIELDS:
            raise WireError("analysis must be an object of at most 64 fields")
        return cls({str(k): _frozen(v, str(k)) for k, v in data.items()})


def _frozen(value: object, where: str) -> object:
    kind = type(value)
    if kind is list:
        items = value  # type: ignore[assignment]
        if all(type(v) in _SCALAR_TYPES for v in items):  # the common case: a row of numbers
            return tuple(items)
        return tuple(_frozen(v, where) for v in items)
    if kind in _SCALAR_TYPES:
        return value
    raise WireError(f"analysis field {where!r}: unexpected {kind.__name__}")


Decoder = Callable[[object], Any]
_OVERRIDES: dict[type, dict[str, Decoder]] = {CameraState: {"analysis": AnalysisView.from_wire}}


def from_wire(tp: Any, value: object) -> Any:
    """Rebuild a value of type `tp` (a dataclass, enum, tuple, union or scalar)."""
    return decoder(tp)(value)


def decode_dataclass(cls: type, value: object, where: str = "value") -> Any:
    try:
        return decoder(cls)(value)
    except WireError as exc:
        raise WireError(f"{where}: {exc}") from None


@functools.cache
def decoder(tp: Any) -> Decoder:
    """A decoding function for type `tp`, built once from its type hints: decoding
    thousands of states a second must not re-read the hints for every value."""
    origin = typing.get_origin(tp)
    if tp is Any or tp is object:
        return _identity
    if origin is typing.Union or origin is types.UnionType:
        return _union(typing.get_args(tp))
    if tp is type(None):
        return _none
    if origin is tuple:
        return _tuple(typing.get_args(tp))
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return _dataclass(tp)
        if issubclass(tp, enum.Enum):
            return _enum(tp)
        if tp in (float, int, str, bool):
            return _scalar(tp)
    raise TypeError(f"no wire decoder for {tp!r}")


def _identity(value: object) -> object:
    return value


def _none(value: object) -> None:
    if value is not None:
        raise WireError("expected null")


def _dataclass(cls: type) -> Decoder:
    hints = typing.get_type_hints(cls)
    special = _OVERRIDES.get(cls, {})
    fields = [
        (f.name, special.get(f.name) or decoder(hints[f.name])) for f in dataclasses.fields(cls)
    ]
    name = cls.__name__

    def decode(value: object) -> Any:
        if not isinstance(value, dict):
            raise WireError(f"expected an object for {name}")
        kwargs = {}
        for field, decode_field in fields:
            if field in value:  # absent: a field this peer does not know, its default applies
                try:
                    kwargs[field] = decode_field(value[field])
                except WireError as exc:
                    raise WireError(f"{field}: {exc}") from None
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise WireError(f"{name}: {exc}") from None

    return decode


def _union(args: tuple[Any, ...]) -> Decoder:
    nullable = type(None) in args
    options = [decoder(a) for a in args if a is not type(None)]

    def decode(value: object) -> Any:
        if value is None and nullable:
            return None
        for option in options[:-1]:
            try:
                return option(value)
            except WireError:
                continue
        return options[-1](value)

    return decode


def _tuple(args: tuple[Any, ...]) -> Decoder:
    if len(args) == 2 and args[1] is Ellipsis:
        item = decoder(args[0])

        def decode_all(value: object) -> tuple[Any, ...]:
            if type(value) is not list:
                raise WireError("expected a list")
            out = []
            for i, v in enumerate(value):
                try:
                    out.append(item(v))
                except WireError as exc:
                    raise WireError(f"[{i}]: {exc}") from None
            return tuple(out)

        return decode_all
    items = [decoder(a) for a in args]

    def decode_fixed(value: object) -> tuple[Any, ...]:
        if type(value) is not list or len(value) != len(items):
            raise WireError(f"expected a list of {len(items)} items")
        return tuple(d(v) for d, v in zip(items, value, strict=True))

    return decode_fixed


def _enum(cls: type[enum.Enum]) -> Decoder:
    def decode(value: object) -> Any:
        try:
            return cls(value)
        except ValueError:
            raise WireError(f"{value!r} is not a {cls.__name__}") from None

    return decode


def _scalar(tp: type) -> Decoder:
    if tp is float:

        def decode_float(value: object) -> float:
            kind = type(value)
            if kind is float:
                return value  # type: ignore[return-value]
            if kind is int:
                return float(value)  # type: ignore[arg-type]
            raise WireError(f"expected float, got {kind.__name__}")

        return decode_float

    def decode(value: object) -> Any:
        if type(value) is not tp:
            raise WireError(f"expected {tp.__name__}, got {type(value).__name__}")
        return value

    return decode


# --- events -------------------------------------------------------------------------


def encode_event(message: object) -> bytes | None:
    """A bus message as a line, or None for kinds viewers do not receive."""
    kind = EVENT_KINDS.get(type(message))
    if kind is None:
        return None
    _check(message, kind)  # never send what a viewer would reject
    return dump({"t": kind, "v": to_wire(message)})


def decode_event(message: Mapping[str, Any]) -> object:
    kind = message["t"]
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise WireError(f"unknown event {kind!r}")
    value = decode_dataclass(cls, message.get("v"), kind)
    _check(value, kind)
    return value


def _check(value: object, kind: str) -> None:
    """The checks beyond types that some kinds have (the decoder enforces types)."""
    check = _CHECKS.get(type(value))
    if check is None:
        return
    try:
        check(value)
    except WireError as exc:
        raise WireError(f"{kind}: {exc}") from None


def check_fleet(health: FleetHealth) -> None:
    """WireError unless the figures can be true: viewers and logs show them as
    they come, so NaN (which JSON lets through), a negative rate or more live
    cameras than cameras stop here."""
    for field in dataclasses.fields(health):
        value = getattr(health, field.name)
        if isinstance(value, bool | str) or value is None:
            continue
        if not (math.isfinite(value) and value >= 0):
            raise WireError(f"{field.name}: {value!r} is not a finite, non-negative number")
    if health.live > health.cameras:
        raise WireError(f"live: {health.live} live cameras out of {health.cameras}")
    if health.shards < 1:
        raise WireError(f"shards: {health.shards}, at least 1 process runs cameras")
    if len(health.reason) > MAX_REASON:
        raise WireError(f"reason: over {MAX_REASON} characters")


_CHECKS: dict[type, Callable[[Any], None]] = {FleetHealth: check_fleet}


def decode_alert(value: object) -> Alert:
    return decode_dataclass(Alert, value, "alert")


def decode_alerts(value: object) -> list[Alert]:
    if not isinstance(value, list):
        raise WireError("expected a list of alerts")
    return [decode_dataclass(Alert, v, f"alerts[{i}]") for i, v in enumerate(value)]


def decode_silence(value: object) -> Silence:
    return decode_dataclass(Silence, value, "silence")


# --- thumbnails ---------------------------------------------------------------------


def thumb_to_wire(sample: FrameSample) -> dict[str, Any]:
    """A frame's RGB image (uint8 HxWx3) as base64 with its shape; the gray plane stays home."""
    rgb = sample.rgb
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3:
        raise WireError("thumbnail must be a uint8 HxWx3 array")
    h, w, c = rgb.shape
    if c != 3 or not (0 < h <= MAX_THUMB_SIDE and 0 < w <= MAX_THUMB_SIDE):
        raise WireError(f"thumbnail of shape {rgb.shape} is not sendable")
    data = base64.b64encode(np.ascontiguousarray(rgb).tobytes()).decode("ascii")
    return {
        "camera": sample.camera,
        "at": sample.at,
        "pts_s": sample.pts_s,
        "shape": [h, w, 3],
        "rgb": data,
    }


def thumb_from_wire(value: object) -> FrameSample:
    """Rebuild a FrameSample (read-only arrays) from `thumb_to_wire` data."""
    if not isinstance(value, dict):
        raise WireError("thumbnail: expected an object")
    shape = value.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) != 3
        or not all(type(n) is int for n in shape)
        or shape[2] != 3
        or not all(0 < n <= MAX_THUMB_SIDE for n in shape[:2])
    ):
        raise WireError(f"thumbnail: bad shape {shape!r}")
    try:
        raw = base64.b64decode(str(value.get("rgb", "")), validate=True)
    except (binascii.Error, ValueError):
        raise WireError("thumbnail: rgb is not base64") from None
    h, w, _ = shape
    if len(raw) != h * w * 3:
        raise WireError(f"thumbnail: {len(raw)} bytes for a {h}x{w} RGB image")
    rgb = np.frombuffer(raw, np.uint8).reshape(h, w, 3)
    weights = np.array([77, 150, 29], np.uint16)  # BT.601 luma in 8-bit fixed point
    gray = ((rgb.astype(np.uint16) * weights).sum(axis=2) >> 8).astype(np.uint8)
    gray.flags.writeable = False
    try:
        camera = decoder(str)(value.get("camera"))
        at = decoder(float)(value.get("at"))
        pts = decoder(float)(value.get("pts_s", 0.0))
    except WireError as exc:
        raise WireError(f"thumbnail: {exc}") from None
    return FrameSample(camera, at, pts, gray, rgb)
