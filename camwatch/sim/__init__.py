"""Simulated RTSP camera fleet with scripted faults (`camwatch sim`).

Public API:

- `SimServer(scenario, host="127.0.0.1", port=0)`: async context manager;
  `url(camera)`, `urls()`, `truth()`, `stats()`, `port`.
- `build_scenario(name_or_path, cameras=None, **overrides) -> Scenario`.
- `SimProcess(cameras=..., scenario=...)`: the same in a child process.
"""

from .process import SimProcess, SimProcessError
from .scenario import CameraSpec, Scenario, ScenarioError, build_scenario, load_scenario
from .server import SimServer

__all__ = [
    "CameraSpec",
    "Scenario",
    "ScenarioError",
    "SimProcess",
    "SimProcessError",
    "SimServer",
    "build_scenario",
    "load_scenario",
]
