from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from gst import GstServer, start_server

from camwatch.fleethealth import FleetHealth

# Passwords chosen to need percent-encoding in a URL: '@' and ':' and '%'.
CAM_USER = "installer"
CAM_PASSWORD = "p@ss:w%rd-7"

OVERLOAD_REASON = "sampling every 6.2 s instead of 4.0 s: decode budget of 100% of a core exhausted"
CALM_FLEET = FleetHealth(
    at=1_700_000_000.0, cameras=217, live=217, sample_interval_s=4.0, nominal_interval_s=4.0,
    overloaded=False, reason="", samples_per_s=54.0, superseded_per_s=0.0, decode_cpu_pct=40.0,
    decode_budget_pct=100.0, decode_wait_ms=0.5, loop_lag_p50_ms=1.0, loop_lag_p99_ms=8.0,
)  # fmt: skip


def overloaded_fleet(**changes: object) -> FleetHealth:
    """The calm fleet sampled every 6.2 s instead of 4.0 s, as the core reports it."""
    busy = replace(
        CALM_FLEET, overloaded=True, reason=OVERLOAD_REASON, sample_interval_s=6.2, live=210
    )
    return replace(busy, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def gst_server() -> Iterator[GstServer]:
    server = start_server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gst_auth_server() -> Iterator[GstServer]:
    server = start_server(digest=f"{CAM_USER}:{CAM_PASSWORD}")
    yield server
    server.stop()
