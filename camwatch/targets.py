"""From inventory entries to what the monitors need."""

from __future__ import annotations

from .camera import CameraTarget, MonitorSettings
from .config import CameraConfig


def target_of(cfg: CameraConfig) -> CameraTarget:
    return CameraTarget(
        name=cfg.name,
        url=cfg.stream_url(),
        display_url=cfg.display_url(),
        username=cfg.username,
        password=cfg.password,
        transport=cfg.transport,
        site=cfg.site,
        tags=cfg.tags,
    )


def settings_of(cfg: CameraConfig, base: MonitorSettings = MonitorSettings()) -> MonitorSettings:
    from dataclasses import replace

    return replace(
        base,
        stall_timeout=cfg.stall_timeout,
        connect_timeout=cfg.connect_timeout,
        sample_interval=cfg.sample_interval,
        healthy_sample_interval=cfg.healthy_sample_interval or None,
        read_every=cfg.read_every,
        reconnect_after_stall=max(base.reconnect_after_stall, cfg.stall_timeout * 3),
    )
