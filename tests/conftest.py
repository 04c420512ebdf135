from __future__ import annotations

from collections.abc import Iterator

import pytest
from gst import GstServer, start_server

# Passwords chosen to need percent-encoding in a URL: '@' and ':' and '%'.
CAM_USER = "installer"
CAM_PASSWORD = "p@ss:w%rd-7"


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
