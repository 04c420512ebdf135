"""camwatch: a terminal-first health monitor for fleets of RTSP cameras.

The core (this package) never imports Textual: the headless paths (probe,
check, daemon, sim) must start fast and run where no terminal UI exists.
"""

__version__ = "0.1.0"
