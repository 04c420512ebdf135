"""The camera inventory: `cameras.toml` parsed, validated and resolved.

`examples/cameras.toml` documents the schema. Resolution order for every
per-camera key: built-in default < [defaults] < [sites.NAME] < the [[camera]]
table. Tags add up along that chain; thresholds merge key by key; everything
else is replaced. The [rules] section is validated by the rule engine's own
parser (camwatch.alerts.rules), the single authority on its format.

Validation collects every problem before raising `ConfigError`, each naming
the file, the camera or section and the key. No message and no repr ever
contains a password: URLs are shown redacted and secret values never echoed.
"""

from __future__ import annotations

import difflib
import math
import os
import stat
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from .paths import default_config_path
from .redact import redact_text

__all__ = [
    "CameraConfig",
    "ConfigError",
    "FrozenMap",
    "Inventory",
    "Region",
    "camera_from_url",
    "load_inventory",
    "parse_inventory",
]

RTSP_SCHEMES = ("rtsp", "rtsps", "rtspt")
TRANSPORTS = ("tcp", "udp", "auto")
THUMBNAIL_MODES = ("on", "pixelate", "off")  # in order of strictness
MAX_CONFIG_BYTES = 8 * 1024 * 1024
MAX_PASSWORD_FILE_BYTES = 4096
MAX_NAME_CHARS = 64


# ------------------------------------------------------------------------- values


class FrozenMap(Mapping[str, Any]):
    """A read-only, hashable mapping (config tables stay immutable and comparable)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return FrozenMap((k, _freeze(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


_EMPTY = FrozenMap()


@dataclass(frozen=True, slots=True)
class Region:
    """A normalized image region; coordinates are fractions of width and height."""

    kind: str  # "rect" | "polygon"
    points: tuple[tuple[float, float], ...]  # a rect is stored as its 4 corners


@dataclass(frozen=True, slots=True)
class CameraConfig:
    name: str
    url: str  # never carries credentials
    substream: str | None = None
    site: str = ""  # "" = no site
    tags: tuple[str, ...] = ()
    transport: str = "tcp"
    enabled: bool = True
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    stall_timeout: float = 5.0
    connect_timeout: float = 5.0
    sample_interval: float = 1.0
    healthy_sample_interval: float = 4.0  # while the picture is healthy; 0: sample_interval
    read_every: float = 0.2  # s between timed reads of a TCP stream; 0: as data arrives
    privacy_masks: tuple[Region, ...] = ()
    motion_zones: tuple[Region, ...] = ()
    motion_masks: tuple[Region, ...] = ()
    thresholds: Mapping[str, float] = _EMPTY
    thumbnails: str = "on"

    def display_url(self) -> str:
        """The monitored URL with the user name and `***` for the password."""
        url = self.stream_url()
        if not self.username:
            return url
        parts = urlsplit(url)
        secret = ":***" if self.password else ""
        netloc = f"{quote(self.username, safe='')}{secret}@{parts.netloc}"
        return urlunsplit(parts._replace(netloc=netloc))

    def stream_url(self) -> str:
        """What camwatch monitors: the substream when set (it is cheaper)."""
        return self.substream or self.url


class UnknownCameraError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True, slots=True, repr=False)
class Inventory:
    path: Path | None
    cameras: tuple[CameraConfig, ...]
    sites: Mapping[str, Mapping[str, Any]] = _EMPTY
    sections: Mapping[str, Mapping[str, Any]] = _EMPTY  # store, privacy, rules, notify, ...
    warnings: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # Sections may hold webhook tokens: show only names.
        names = ", ".join(c.name for c in self.cameras)
        return f"Inventory(path={self.path!s}, cameras=[{names}], sites={sorted(self.sites)})"

    def camera(self, name: str) -> CameraConfig:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise UnknownCameraError(
            f'no camera named "{name}" in {self.path or "the inventory"}'
            + _suggest(name, [c.name for c in self.cameras])
        )

    def select(self, selector: str | None) -> tuple[CameraConfig, ...]:
        """Cameras matching a name, site or tag ("a,b" = union), inventory order.

        None selects every enabled camera. A site or tag selects its enabled
        cameras; a camera named explicitly is selected even if disabled.
        """
        if selector is None or not selector.strip():
            return tuple(c for c in self.cameras if c.enabled)
        wanted = [s.strip() for s in selector.split(",") if s.strip()]
        unknown = [w for w in wanted if not any(_matches(c, w) for c in self.cameras)]
        if unknown:
            choices = (
                [c.name for c in self.cameras]
                + [c.site for c in self.cameras if c.site]
                + [t for c in self.cameras for t in c.tags]
            )
            raise UnknownCameraError(
                f'"{unknown[0]}" is not a camera, site or tag in {self.path or "the inventory"}'
                + _suggest(unknown[0], choices)
            )
        return tuple(
            c
            for c in self.cameras
            if any(c.name == w or (c.enabled and _matches(c, w)) for w in wanted)
        )


def _matches(cam: CameraConfig, selector: str) -> bool:
    return selector in (cam.name, cam.site) or selector in cam.tags


class ConfigError(Exception):
    """The inventory is invalid; `.problems` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = [redact_text(p) for p in problems]
        super().__init__("\n".join(self.problems))


# --------------------------------------------------------------------- validators


class _Invalid(Exception):
    """One or more problems with a value: (sub-location, message) pairs."""

    def __init__(self, message: str, sub: str = "") -> None:
        super().__init__(message)
        self.items: list[tuple[str, str]] = [(sub, message)]

    @classmethod
    def many(cls, items: list[tuple[str, str]]) -> _Invalid:
        err = cls(items[0][1], items[0][0])
        err.items = items
        return err


Validator = Callable[[Any], Any]

_TYPE_NAMES = {bool: "boolean", int: "integer", float: "float", str: "string"}


def _type(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a string, got {_type(value)}")
    if not value.strip():
        raise _Invalid("must not be empty")
    return value.strip()


def _name(value: Any) -> str:
    text = _text(value)
    if len(text) > MAX_NAME_CHARS:
        raise _Invalid(f"longer than {MAX_NAME_CHARS} characters")
    if "," in text or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise _Invalid("must not contain commas or control characters")
    return text


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected true or false, got {_type(value)}")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"expected a number, got {_type(value)}")
    if not math.isfinite(value):
        raise _Invalid("expected a finite number")
    return float(value)


def _positive(value: Any) -> float:
    number = _number(value)
    if number <= 0:
        raise _Invalid(f"expected a number greater than 0, got {number:g}")
    return number


def _non_negative(value: Any) -> float:
    number = _number(value)
    if number < 0:
        raise _Invalid(f"expected a number of 0 or more, got {number:g}")
    return number


def _read_every(value: Any) -> float:
    # The poller reads at most once a second (camwatch/rtsp/poller.py): longer
    # periods would hold a camera's frames in the socket for no gain.
    number = _non_negative(value)
    if number > 1.0:
        raise _Invalid(f"expected seconds from 0 to 1, got {number:g}")
    return number


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _Invalid(f"expected a whole number greater than 0, got {_type(value)} {value!r}")
    return value


def _enum(*choices: str) -> Validator:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value.strip().lower() not in choices:
            got = f'"{value}"' if isinstance(value, str) else _type(value)
            raise _Invalid(f"expected one of {', '.join(choices)}, got {got}")
        return value.strip().lower()

    return check


def _list_of(item: Validator, *, non_empty: bool = False) -> Validator:
    def check(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise _Invalid(f"expected an array, got {_type(value)}")
        if non_empty and not value:
            raise _Invalid("must not be empty")
        out, errors = [], []
        for i, element in enumerate(value, 1):
            try:
                out.append(item(element))
            except _Invalid as exc:
                errors.extend((f"#{i}{sub}", msg) for sub, msg in exc.items)
        if errors:
            raise _Invalid.many(errors)
        return tuple(out)

    return check


def _tags(value: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_list_of(_name)(value)))


def _threshold_keys() -> tuple[str, ...]:
    """The keys a `thresholds` table may hold: the rules' (camwatch.alerts.rules) then
    the image analyzers' (camwatch.imaging); the Core hands the table to both."""
    # Imported here: imaging imports this module, and pulls numpy in.
    from .alerts.rules import RULE_THRESHOLD_KEYS
    from .imaging import ANALYSIS_KEYS

    return (*RULE_THRESHOLD_KEYS, *sorted(ANALYSIS_KEYS))


def _thresholds(value: Any) -> FrozenMap:
    if not isinstance(value, dict):
        raise _Invalid(f"expected a table of rule = number, got {_type(value)}")
    valid = _threshold_keys()
    out, errors = {}, []
    for key, number in value.items():
        if key not in valid:
            hint = _suggest(key, valid) or f"; valid keys: {', '.join(valid)}"
            errors.append((f".{key}", f"unknown key{hint}"))
            continue
        try:
            out[key] = _number(number)
        except _Invalid as exc:
            errors.append((f".{key}", str(exc)))
            continue
        if (problem := _analysis_range_problem(key, out[key])) is not None:
            errors.append((f".{key}", problem))
    if errors:
        raise _Invalid.many(errors)
    return FrozenMap(out)


def _analysis_range_problem(key: str, number: float) -> str | None:
    """Why an image analyzer's threshold is out of its range (checked at load, so a
    bad value is named with its file and camera, not when the camera starts)."""
    from .analysis.settings import AnalysisSettings
    from .imaging import ANALYSIS_KEYS

    if key not in ANALYSIS_KEYS:
        return None
    try:
        AnalysisSettings.from_thresholds({key: number})
    except ValueError as exc:
        return str(exc).split(": ", 1)[-1]  # the value and its range; the key is named
    return None


def _fraction(value: Any) -> float:
    number = _number(value)
    if not 0.0 <= number <= 1.0:
        raise _Invalid(f"coordinates are fractions of the image from 0 to 1, got {number:g}")
    return number


def _region(value: Any) -> Region:
    if isinstance(value, list):
        return _rect(value)
    if isinstance(value, dict) and set(value) == {"polygon"}:
        return _polygon(value["polygon"])
    raise _Invalid("a region is [x, y, w, h] or { polygon = [[x, y], ...] }")


def _rect(value: list[Any]) -> Region:
    if len(value) != 4:
        raise _Invalid(f"a rectangle is [x, y, w, h] (4 numbers), got {len(value)} values")
    x, y, w, h = (_fraction(v) for v in value)
    if w <= 0 or h <= 0:
        raise _Invalid("rectangle width and height must be greater than 0")
    if x + w > 1.0 + 1e-9 or y + h > 1.0 + 1e-9:
        raise _Invalid("rectangle extends past the image (x + w and y + h must be at most 1)")
    return Region("rect", ((x, y), (x + w, y), (x + w, y + h), (x, y + h)))


def _polygon(value: Any) -> Region:
    if not isinstance(value, list) or len(value) < 3:
        raise _Invalid("a polygon needs at least 3 points [[x, y], ...]")
    points = []
    for point in value:
        if not isinstance(point, list) or len(point) != 2:
            raise _Invalid("each polygon point is [x, y]")
        points.append((_fraction(point[0]), _fraction(point[1])))
    return Region("polygon", tuple(points))


def _pair(value: Any) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2:
        raise _Invalid(f"expected [width, height], got {_type(value)}")
    return (_positive_int(value[0]), _positive_int(value[1]))


def _listen(value: Any) -> str:
    text = _text(value)
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _Invalid(f'expected "host:port" such as "127.0.0.1:9108", got "{text}"')
    return text


def _http_url(value: Any) -> str:
    text = _text(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _Invalid(f'expected an http:// or https:// URL, got "{_safe_url(text)}"')
    return text


def _webhook(value: Any) -> FrozenMap:
    if not isinstance(value, dict):
        raise _Invalid(f"expected a table {{ url = ... }}, got {_type(value)}")
    if "url" not in value:
        raise _Invalid('missing "url"')
    try:
        url = _http_url(value["url"])
    except _Invalid as exc:
        raise _Invalid(str(exc), ".url") from None
    return _freeze({**value, "url": url})


def _argv(value: Any) -> tuple[str, ...]:
    return _list_of(_text, non_empty=True)(value)


# --------------------------------------------------------------------- the schema

CAMERA_SCHEMA: dict[str, Validator] = {
    "name": _name,
    "url": _text,
    "substream": _text,
    "site": _name,
    "transport": _enum(*TRANSPORTS),
    "tags": _tags,
    "credentials": _name,
    "enabled": _bool,
    "stall_timeout": _positive,
    "connect_timeout": _positive,
    "sample_interval": _non_negative,
    "healthy_sample_interval": _non_negative,
    "read_every": _read_every,
    "privacy_masks": _list_of(_region),
    "motion_zones": _list_of(_region),
    "motion_masks": _list_of(_region),
    "thresholds": _thresholds,
    "thumbnails": _enum(*THUMBNAIL_MODES),
}
DEFAULTS_SCHEMA = {k: v for k, v in CAMERA_SCHEMA.items() if k not in ("name", "url", "substream")}
SITE_SCHEMA = {k: v for k, v in DEFAULTS_SCHEMA.items() if k != "site"} | {"description": _text}
CREDENTIAL_SCHEMA: dict[str, Validator] = {
    "username": _text,
    "password_env": _text,
    "password_file": _text,
}
# Sections interpreted by other subsystems; extend a schema here to add a key.
SECTION_SCHEMAS: dict[str, dict[str, Validator]] = {
    "store": {"path": _text, "retention_days": _positive, "flush_interval": _positive},
    "privacy": {"thumbnails": _enum(*THUMBNAIL_MODES)},
    "rules": {},  # checked by camwatch.alerts.rules.parse_rules_config in _rules
    "notify": {},  # checked by camwatch.alerts.notify.parse_notify_config in _notify
    "tui": {
        "theme": _text,
        "colors": _enum("auto", "truecolor", "256", "16", "mono"),
        "mouse": _bool,
        "pixels": _enum("auto", "kitty", "sixel", "off"),
    },
    "analysis": {
        "size": _pair,
        "thumbnail_size": _pair,
        "grid": _pair,
        "baseline_minutes": _positive,
    },
    "metrics": {"listen": _listen},
}
TOP_LEVEL = ("camera", "defaults", "sites", "credentials", *SECTION_SCHEMAS)
BUILTIN_DEFAULTS: dict[str, Any] = {
    "site": "",
    "transport": "tcp",
    "enabled": True,
    "stall_timeout": 5.0,
    "connect_timeout": 5.0,
    "sample_interval": 1.0,
    "healthy_sample_interval": 4.0,
    "read_every": 0.2,
    "privacy_masks": (),
    "motion_zones": (),
    "motion_masks": (),
    "thumbnails": "on",
    "credentials": None,
}


# ------------------------------------------------------------------ problem list


class _Problems:
    def __init__(self, label: str) -> None:
        self.label = label
        self.items: list[str] = []

    def add(self, where: str, key: str | None, message: str) -> None:
        key_part = f' key "{key}":' if key else ""
        self.items.append(redact_text(f"{self.label}: {where}:{key_part} {message}"))

    def invalid(self, where: str, key: str, exc: _Invalid) -> None:
        for sub, message in exc.items:
            self.add(where, f"{key}{' ' + sub if sub.startswith('#') else sub}", message)

    def unknown(self, where: str, key: str, valid: Iterable[str], hint: str = "") -> None:
        valid = list(valid)
        hint = (
            _SECRET_HINTS.get(key.lower())
            or _suggest(key, valid)
            or hint
            or f"; valid keys: {', '.join(valid)}"
        )
        self.add(where, key, f"unknown key{hint}")


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(dict.fromkeys(choices)), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


_PASSWORD_HINT = "; passwords go in [credentials.NAME] as password_env or password_file"
_SECRET_HINTS = {"password": _PASSWORD_HINT, "pass": _PASSWORD_HINT, "passwd": _PASSWORD_HINT}


_UNKNOWN_HINTS = {
    "user": "; user names go in the url (rtsp://user@host/) or in [credentials.NAME]",
    "username": "; user names go in the url (rtsp://user@host/) or in [credentials.NAME]",
}


def _check_table(
    table: Any, schema: Mapping[str, Validator], where: str, problems: _Problems
) -> dict[str, Any]:
    """Validate one table against a schema; returns the valid, normalized keys."""
    if not isinstance(table, dict):
        problems.add(where, None, f"expected a table, got {_type(table)}")
        return {}
    out: dict[str, Any] = {}
    for key, value in table.items():
        validator = schema.get(key)
        if validator is None:
            problems.unknown(where, key, schema, _UNKNOWN_HINTS.get(key.lower(), ""))
            continue
        try:
            out[key] = validator(value)
        except _Invalid as exc:
            problems.invalid(where, key, exc)
    return out


def _named_tables(
    doc: dict[str, Any], section: str, schema: Mapping[str, Validator], problems: _Problems
) -> dict[str, dict[str, Any]]:
    raw = doc.get(section, {})
    if not isinstance(raw, dict):
        problems.add(f"[{section}]", None, f"expected tables [{section}.NAME], got {_type(raw)}")
        return {}
    out = {}
    singular = {"sites": "site", "credentials": "credentials"}[section]
    for name, table in raw.items():
        where = f'{singular} "{name}"'
        try:
            _name(name)
        except _Invalid as exc:
            problems.add(where, None, f"invalid name: {exc}")
            continue
        out[name] = _check_table(table, schema, where, problems)
    return out


# -------------------------------------------------------------------------- URLs


def _safe_url(url: str) -> str:
    """A URL fit for an error message, even when it cannot be parsed."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return redact_text(url)
    userinfo, _, tail = rest.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}" if user else f"{scheme}://***@{tail}"


@dataclass(frozen=True, slots=True)
class _ParsedUrl:
    url: str  # without credentials
    username: str | None
    password: str | None = field(repr=False)


def _parse_rtsp_url(url: str) -> _ParsedUrl:
    shown = _safe_url(url)
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise _Invalid(f'"{shown}" contains blanks or control characters')
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in RTSP_SCHEMES:
        raise _Invalid(f'"{shown}": the scheme must be rtsp://, rtsps:// or rtspt://')
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    if "@" in rest[authority_end:]:
        raise _Invalid(
            f'"{shown}": "@" after the host; if the password contains "/", "?", "#" or "@",'
            " percent-encode them (%2F, %3F, %23, %40)"
        )
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise _Invalid(f'"{shown}": invalid host or port') from None
    if not parts.hostname or not port_ok:
        raise _Invalid(f'"{shown}": host missing or port invalid')
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, has_colon, password = userinfo.partition(":")
    clean = urlunsplit((scheme.lower(), hostport, parts.path, parts.query, parts.fragment))
    return _ParsedUrl(
        url=clean,
        username=unquote(user) or None,
        password=unquote(password) if has_colon and password else None,
    )


# ------------------------------------------------------------------- credentials


@dataclass(slots=True)
class _Secret:
    username: str | None
    password: str | None = field(repr=False)
    error: tuple[str, str] | None = None  # (key, message), reported once with its users
    users: list[str] = field(default_factory=list)


def _file_mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None


def _read_password_file(raw: str, base_dir: Path) -> str:
    path = Path(raw).expanduser()
    path = path if path.is_absolute() else base_dir / path
    try:
        info = path.stat()
    except OSError:
        raise _Invalid(f"{path}: no such file") from None
    if not stat.S_ISREG(info.st_mode):
        raise _Invalid(f"{path}: not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise _Invalid(
            f"{path} is accessible by other users (mode {mode:04o}); run: chmod 600 {path}"
        )
    if info.st_size > MAX_PASSWORD_FILE_BYTES:
        raise _Invalid(f"{path}: too large for a password file")
    try:
        secret = path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Invalid(f"{path}: cannot read ({type(exc).__name__})") from None
    if not secret:
        raise _Invalid(f"{path} is empty")
    return secret


def _resolve_secret(spec: Mapping[str, Any], env: Mapping[str, str], base_dir: Path) -> _Secret:
    username = spec.get("username")
    if ("password_env" in spec) == ("password_file" in spec):
        return _Secret(username, None)  # reported by _check_credential_refs
    if "password_env" in spec:
        var = spec["password_env"]
        if var not in env:
            return _Secret(
                username, None, ("password_env", f"environment variable {var} is not set")
            )
        return _Secret(username, env[var])
    try:
        return _Secret(username, _read_password_file(spec["password_file"], base_dir))
    except _Invalid as exc:
        return _Secret(username, None, ("password_file", str(exc)))


# ----------------------------------------------------------------------- parsing


@dataclass
class _Context:
    label: str
    path: Path
    env: Mapping[str, str]
    problems: _Problems
    defaults: dict[str, Any]
    sites: dict[str, dict[str, Any]]
    credentials: dict[str, dict[str, Any]]
    privacy_thumbnails: str = "on"
    secrets: dict[str, _Secret] = field(default_factory=dict)
    file_mode: int | None = None
    warnings: list[str] = field(default_factory=list)

    def inline_password_problem(self, camera: bool = True) -> str | None:
        """Why a password inside a URL is refused, or None if it is accepted."""
        if self.file_mode is None:
            return f"contains a password but the permissions of {self.path} cannot be checked"
        if not self.file_mode & 0o044:
            return None
        alternative = (
            ", or move the password to a [credentials.NAME] entry (password_env or password_file)"
            if camera
            else ""
        )
        return (
            f"contains a password but {self.path} is readable by other users "
            f"(mode {self.file_mode:04o}); run chmod 600 {self.path}{alternative}"
        )


def parse_inventory(text: str, path: Path, env: Mapping[str, str] | None = None) -> Inventory:
    """Parse and validate inventory text read from `path` (used for messages,
    relative paths and the permission check on inline passwords)."""
    path = Path(path)
    label = str(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{label}: TOML syntax error: {exc}"]) from None
    problems = _Problems(label)
    for key in doc:
        if key not in TOP_LEVEL:
            problems.unknown("top level", key, TOP_LEVEL, _top_level_hint(key))
    sections = _sections(doc, problems)
    ctx = _Context(
        label=label,
        path=path,
        env=os.environ if env is None else env,
        problems=problems,
        defaults=_check_table(doc.get("defaults", {}), DEFAULTS_SCHEMA, "[defaults]", problems),
        sites=_named_tables(doc, "sites", SITE_SCHEMA, problems),
        credentials=_named_tables(doc, "credentials", CREDENTIAL_SCHEMA, problems),
        privacy_thumbnails=sections["privacy"].get("thumbnails", "on"),
        file_mode=_file_mode(path),
    )
    _check_credential_refs(ctx)
    _check_notify_secrets(sections["notify"], ctx)
    cameras = _cameras(doc, ctx)
    _report_secret_errors(ctx)
    if problems.items:
        raise ConfigError(problems.items)
    return Inventory(
        path=path,
        cameras=cameras,
        sites=_freeze(ctx.sites),
        sections=_freeze(sections),
        warnings=tuple(ctx.warnings),
    )


def _top_level_hint(key: str) -> str:
    if key in CAMERA_SCHEMA:
        return " (camera keys belong in a [[camera]] table or in [defaults])"
    return ""


def load_inventory(path: Path | None = None, env: Mapping[str, str] | None = None) -> Inventory:
    """Read and validate the inventory (default: the XDG config path)."""
    path = Path(path) if path is not None else default_config_path(env)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: no such file; create it (see examples/cameras.toml) or pass --config FILE"]
        ) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError([f"{path}: larger than {MAX_CONFIG_BYTES} bytes"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte offset {exc.start})"]) from None
    return parse_inventory(text, path, env)


def _sections(doc: dict[str, Any], problems: _Problems) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, schema in SECTION_SCHEMAS.items():
        raw = doc.get(name, {})
        if name == "rules":
            out[name] = _rules(raw, problems)
        elif name == "notify":
            out[name] = _notify(raw, problems)
        else:
            out[name] = _check_table(raw, schema, f"[{name}]", problems)
    store = out["store"]
    if "path" in store:
        store["path"] = str(Path(store["path"]).expanduser())
    return out


def _rules(raw: Any, problems: _Problems) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.add("[rules]", None, f"expected tables [rules.NAME], got {_type(raw)}")
        return {}
    from .alerts.rules import RuleConfigError, parse_rules_config  # the format's owner

    try:
        parse_rules_config(raw)
    except RuleConfigError as exc:
        problems.items.extend(redact_text(f"{problems.label}: {p}") for p in exc.problems)
    return raw


def _notify(raw: Any, problems: _Problems) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.add("[notify]", None, f"expected a table, got {_type(raw)}")
        return {}
    from .alerts.notify import NotifyConfigError, parse_notify_config  # the format's owner

    try:
        parse_notify_config(raw)
    except NotifyConfigError as exc:
        problems.items.extend(redact_text(f"{problems.label}: {p}") for p in exc.problems)
        return {}
    return raw


def _check_notify_secrets(notify: Mapping[str, Any], ctx: _Context) -> None:
    hooks = notify.get("webhooks", ())
    hooks = hooks if isinstance(hooks, list | tuple) else [hooks]
    urls = [("webhooks", w.get("url", "") if isinstance(w, dict) else str(w)) for w in hooks]
    apprise = notify.get("apprise", ())
    urls += [("apprise", u) for u in ([apprise] if isinstance(apprise, str) else apprise)]
    for key, url in urls:
        netloc = urlsplit(url).netloc if "://" in url else ""
        userinfo = netloc.rpartition("@")[0]
        if ":" in userinfo and (why := ctx.inline_password_problem(camera=False)):
            ctx.problems.add("[notify]", key, f'"{_safe_url(url)}" {why}')


# ----------------------------------------------------------------------- cameras


def _cameras(doc: dict[str, Any], ctx: _Context) -> tuple[CameraConfig, ...]:
    raw = doc.get("camera", [])
    if isinstance(raw, dict):
        ctx.problems.add("[camera]", None, "write cameras as [[camera]] tables (double brackets)")
        return ()
    if not isinstance(raw, list):
        ctx.problems.add("top level", "camera", f"expected [[camera]] tables, got {_type(raw)}")
        return ()
    if not raw:
        ctx.problems.add("top level", None, "no cameras: add at least one [[camera]] table")
    _check_duplicates(raw, ctx)
    cameras = (_camera(index, table, ctx) for index, table in enumerate(raw, 1))
    return tuple(cam for cam in cameras if cam is not None)


def _check_duplicates(raw: list[Any], ctx: _Context) -> None:
    seen: dict[str, int] = {}
    for index, table in enumerate(raw, 1):
        name = table.get("name") if isinstance(table, dict) else None
        if not isinstance(name, str) or not name.strip():
            continue
        name = name.strip()
        if name in seen:
            ctx.problems.add(
                f'camera "{name}"',
                "name",
                f"duplicate camera name (camera #{index} and camera #{seen[name]})",
            )
        else:
            seen[name] = index


def _camera_label(index: int, table: Any) -> str:
    name = table.get("name") if isinstance(table, dict) else None
    if isinstance(name, str) and name.strip():
        return f'camera "{name.strip()}"'
    return f"camera #{index}"


def _camera(index: int, table: Any, ctx: _Context) -> CameraConfig | None:
    where = _camera_label(index, table)
    before = len(ctx.problems.items)
    own = _check_table(table, CAMERA_SCHEMA, where, ctx.problems)
    for key in ("name", "url"):
        if isinstance(table, dict) and key not in table:
            ctx.problems.add(where, key, "missing (every camera needs a name and a url)")
    merged = _merge(own, ctx, where)
    urls = _camera_urls(own, where, ctx)
    if len(ctx.problems.items) > before or urls is None:
        return None
    main, sub = urls
    username, password = _camera_credentials(own, merged, main, sub, where, ctx)
    return CameraConfig(
        name=own["name"],
        url=main.url,
        substream=sub.url if sub else None,
        site=merged["site"],
        tags=merged["tags"],
        transport=merged["transport"],
        enabled=merged["enabled"],
        username=username,
        password=password,
        stall_timeout=merged["stall_timeout"],
        connect_timeout=merged["connect_timeout"],
        sample_interval=merged["sample_interval"],
        healthy_sample_interval=merged["healthy_sample_interval"],
        read_every=merged["read_every"],
        privacy_masks=merged["privacy_masks"],
        motion_zones=merged["motion_zones"],
        motion_masks=merged["motion_masks"],
        thresholds=merged["thresholds"],
        thumbnails=_stricter(ctx.privacy_thumbnails, merged["thumbnails"]),
    )


def _stricter(a: str, b: str) -> str:
    return max(a, b, key=THUMBNAIL_MODES.index)


def _merge(own: dict[str, Any], ctx: _Context, where: str) -> dict[str, Any]:
    """Resolve defaults < site < camera for one camera."""
    site_name = own.get("site", ctx.defaults.get("site", ""))
    site = ctx.sites.get(site_name, {})
    if site_name and site_name not in ctx.sites and ctx.sites:
        hint = _suggest(site_name, ctx.sites)
        if hint:
            ctx.warnings.append(f'{ctx.label}: {where}: site "{site_name}" is not in [sites]{hint}')
    layers = [BUILTIN_DEFAULTS, ctx.defaults, site, own]
    merged = {k: v for layer in layers for k, v in layer.items() if k in DEFAULTS_SCHEMA}
    merged["site"] = site_name
    tags = tuple(dict.fromkeys(t for layer in layers[1:] for t in layer.get("tags", ())))
    merged["tags"] = tags
    thresholds: dict[str, float] = {}
    for layer in (ctx.defaults, site, own):
        thresholds.update(layer.get("thresholds", {}))
    merged["thresholds"] = FrozenMap(thresholds)
    return merged


def _camera_urls(
    own: dict[str, Any], where: str, ctx: _Context
) -> tuple[_ParsedUrl, _ParsedUrl | None] | None:
    parsed: dict[str, _ParsedUrl] = {}
    for key in ("url", "substream"):
        if key not in own:
            continue
        try:
            parsed[key] = _parse_rtsp_url(own[key])
        except _Invalid as exc:
            ctx.problems.invalid(where, key, exc)
            continue
        if parsed[key].password is not None and (why := ctx.inline_password_problem()):
            ctx.problems.add(where, key, why)
    if "url" not in parsed or ("substream" in own and "substream" not in parsed):
        return None
    return parsed["url"], parsed.get("substream")


def _camera_credentials(
    own: dict[str, Any],
    merged: dict[str, Any],
    main: _ParsedUrl,
    sub: _ParsedUrl | None,
    where: str,
    ctx: _Context,
) -> tuple[str | None, str | None]:
    in_urls = [p for p in (main, sub) if p is not None and p.username is not None]
    if in_urls:
        if "credentials" in own:
            ctx.problems.add(where, "credentials", "the url already carries a user name; keep one")
        if len({(p.username, p.password) for p in in_urls}) > 1:
            ctx.problems.add(where, "substream", "url and substream carry different credentials")
        return in_urls[0].username, in_urls[0].password
    name = merged.get("credentials")
    if name is None:
        return None, None
    if name not in ctx.credentials:
        if "credentials" in own:  # inherited references are reported where they are written
            ctx.problems.add(where, "credentials", _unknown_credentials(name, ctx))
        return None, None
    secret = ctx.secrets.get(name)
    if secret is None:
        secret = _resolve_secret(ctx.credentials[name], ctx.env, ctx.path.parent)
        ctx.secrets[name] = secret
    secret.users.append(own["name"])
    return secret.username, secret.password


def _unknown_credentials(name: str, ctx: _Context) -> str:
    return f"no [credentials.{name}] entry{_suggest(name, ctx.credentials)}"


def _check_credential_refs(ctx: _Context) -> None:
    """Shape of every [credentials] entry, and references from defaults and sites."""
    for name, spec in ctx.credentials.items():
        where = f'credentials "{name}"'
        if "username" not in spec:
            ctx.problems.add(where, "username", "missing")
        if ("password_env" in spec) == ("password_file" in spec):
            ctx.problems.add(where, None, "give exactly one of password_env or password_file")
    tables = [("[defaults]", ctx.defaults)]
    tables += [(f'site "{name}"', site) for name, site in ctx.sites.items()]
    for where, table in tables:
        ref = table.get("credentials")
        if ref is not None and ref not in ctx.credentials:
            ctx.problems.add(where, "credentials", _unknown_credentials(ref, ctx))


def _report_secret_errors(ctx: _Context) -> None:
    for name, secret in ctx.secrets.items():
        if secret.error is None:
            continue
        key, message = secret.error
        users = ", ".join(f'"{u}"' for u in secret.users)
        plural = "cameras" if len(secret.users) > 1 else "camera"
        ctx.problems.add(f'credentials "{name}"', key, f"{message} (used by {plural} {users})")


# ------------------------------------------------------------------ ad-hoc camera


def camera_from_url(url: str, name: str | None = None, transport: str = "tcp") -> CameraConfig:
    """A camera for `camwatch probe rtsp://user:pass@host/path` (no inventory).

    Credentials come from the URL, percent-decoded. Raises ConfigError.
    """
    problems: list[str] = []
    try:
        parsed = _parse_rtsp_url(_text(url))
    except _Invalid as exc:
        raise ConfigError([f"URL: {exc}"]) from None
    try:
        transport = _enum(*TRANSPORTS)(transport)
    except _Invalid as exc:
        problems.append(f"transport: {exc}")
    if problems:
        raise ConfigError(problems)
    host = urlsplit(parsed.url).hostname or "camera"
    return CameraConfig(
        name=name or host,
        url=parsed.url,
        transport=transport,
        username=parsed.username,
        password=parsed.password,
    )
