"""Where camwatch keeps its files, following the XDG base directory spec.

Every function takes an optional `env` mapping (default: os.environ) so tests
and the daemon's systemd environment can be reasoned about without patching.
XDG variables holding a relative path are ignored, as the spec requires.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "config_dir",
    "data_dir",
    "default_config_path",
    "default_db_path",
    "runtime_socket_path",
    "themes_dir",
]

APP = "camwatch"


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home and os.path.isabs(home) else Path.home()


def _xdg(env: Mapping[str, str], name: str, fallback: str) -> Path:
    value = env.get(name, "")
    if value and os.path.isabs(value):
        return Path(value)
    return _home(env) / fallback


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_CONFIG_HOME/camwatch, default ~/.config/camwatch."""
    return _xdg(_env(env), "XDG_CONFIG_HOME", ".config") / APP


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_DATA_HOME/camwatch, default ~/.local/share/camwatch."""
    return _xdg(_env(env), "XDG_DATA_HOME", ".local/share") / APP


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / "cameras.toml"


def default_db_path(env: Mapping[str, str] | None = None) -> Path:
    return data_dir(env) / "camwatch.db"


def themes_dir(env: Mapping[str, str] | None = None) -> Path:
    """User theme files (one TOML file per theme) live here."""
    return config_dir(env) / "themes"


def runtime_socket_path(env: Mapping[str, str] | None = None) -> Path:
    """The daemon's Unix socket.

    $CAMWATCH_SOCKET if set (a system daemon shared by several logins sets it
    to e.g. /run/camwatch/camwatch.sock), else $XDG_RUNTIME_DIR/camwatch.sock,
    else /tmp/camwatch-$UID.sock.
    """
    e = _env(env)
    explicit = e.get("CAMWATCH_SOCKET", "")
    if explicit:
        return Path(explicit)
    runtime = e.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime):
        return Path(runtime) / f"{APP}.sock"
    return Path("/tmp") / f"{APP}-{os.getuid()}.sock"
