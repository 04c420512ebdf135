"""The camwatch terminal UI.

All data comes from the bus (camera states, alert events), drained at most
twice a second with only the latest state per camera kept; all actions go
through `Control`, in workers with a timeout. Nothing here waits on a camera
or the network, so a hung camera or core cannot freeze the screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

from camwatch.themes import DEFAULT_THEME, ThemeError, UnknownThemeError, camwatch_themes
from camwatch.themes import resolve_theme as _resolve_theme
from textual.app import App
from textual.binding import Binding, BindingType

from camwatch.alerts.model import Alert, AlertEvent
from camwatch.bus import Bus
from camwatch.control import Control, ControlError
from camwatch.fleethealth import ON_SCHEDULE, FleetHealth
from camwatch.pixels import parse_pixels, pixel_protocol
from camwatch.remote import ConnectionChanged, RemoteError, ThumbnailReady, attach
from camwatch.state import CameraState, StatusChanged
from camwatch.thumbs import Depth, parse_depth

from .commands import CamwatchCommands
from .model import AlertBook, FleetModel
from .screens.alerts import AlertsScreen
from .screens.camera import CameraScreen
from .screens.dialogs import SilenceRequest
from .screens.fleet import FleetScreen
from .screens.help import HelpScreen
from .thumbsvc import ThumbService, parse_mode

log = logging.getLogger(__name__)

ACTION_TIMEOUT_S = 10.0
LOAD_TIMEOUT_S = 10.0
EXIT_USAGE = 3
EXIT_UNAVAILABLE = 69  # sysexits EX_UNAVAILABLE: the daemon refused or is incompatible
EXIT_HANGUP = 129  # 128 + SIGHUP, as a shell reports it
OVERLOAD_TOAST_S = 30.0  # the health line keeps saying it; the toast is the nudge
RECOVERED = f"{ON_SCHEDULE} again"

# --colors also sets Textual's own colour system (Rich names); mono keeps Textual's guess.
_TEXTUAL_COLOR_SYSTEM = {Depth.TRUECOLOR: "truecolor", Depth.C256: "256", Depth.C16: "standard"}


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class CamwatchApp(App[int]):
    TITLE = "camwatch"
    MODES: ClassVar[dict] = {"fleet": FleetScreen, "alerts": AlertsScreen}
    DEFAULT_MODE = "fleet"
    COMMANDS = App.COMMANDS | {CamwatchCommands}
    CSS = "Screen { background: $background; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help"),
        Binding("colon", "command_palette", "Commands", show=False),
        Binding("1", "switch_mode('fleet')", "Fleet", show=False),
        Binding("2", "switch_mode('alerts')", "Alerts"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        bus: Bus,
        control: Control,
        *,
        theme: str = DEFAULT_THEME,
        colors: str = "auto",
        mouse: bool = True,
        thumbnails: str = "on",
        pixels: str = "auto",
        user: str | None = None,
        clock: Callable[[], float] = time.time,
        theme_dir: Path | str | None = None,
        refresh_interval: float = 0.5,
        thumb_interval: float = 3.0,
        pixel_blocks: int = 12,
        history: int = 60,
        mailbox: int = 8192,
    ) -> None:
        """Raises UnknownThemeError or ValueError (bad colors/thumbnails/pixels) before
        touching the terminal, so the caller can print a clear message.

        pixels: "auto" zooms with kitty's protocol inside kitty; "kitty" or "sixel"
        force one (the --pixels flag or [tui] pixels); "off" never."""
        themes, self.theme_errors = camwatch_themes(Path(theme_dir) if theme_dir else None)
        chosen = _resolve_theme(theme, themes)
        depth = parse_depth(colors)
        mode = parse_mode(thumbnails)
        zoom = pixel_protocol(parse_pixels(pixels))
        super().__init__()
        for t in themes.values():
            self.register_theme(t)
        self.theme = chosen.name
        self.bus = bus
        self.control = control
        self.clock = clock
        self.user = user or current_user()
        self.use_mouse = mouse
        self.depth = depth
        self.pixel_protocol = zoom  # kitty or sixel for the camera zoom; None: not available
        self.refresh_interval = refresh_interval
        self.fleet = FleetModel(history=history)
        self.alerts = AlertBook()
        self.thumbs = ThumbService(control, mode, depth, self.user, pixel_blocks, thumb_interval)
        self.fleet_view: FleetScreen | None = None
        self.alerts_loaded = asyncio.Event()
        self._mailbox = mailbox
        self._sub = bus.subscribe(mailbox)
        self._dropped_seen = 0
        self.fleet.replace_all(bus.states())
        self._hangup_installed = False
        self.link_notice: str | None = None  # set while the daemon connection is down

    # --- lifecycle -------------------------------------------------------------------

    def on_mount(self) -> None:
        self.set_interval(self.refresh_interval, self.drain)
        self.run_worker(self._load_alerts(), group="load", exit_on_error=False)
        for error in self.theme_errors:
            self.notify(error, title="theme file skipped", severity="warning", timeout=10)
        self._install_hangup()

    def on_unmount(self) -> None:
        unsubscribe = getattr(self.bus, "unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe(self._sub)
        else:
            self._sub.close()
        if self._hangup_installed:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)

    def _install_hangup(self) -> None:
        # The SSH connection dropping sends SIGHUP: leave through the normal exit so the
        # bus subscription and the caller's core are shut down, not killed mid-write.
        if threading.current_thread() is not threading.main_thread():
            return
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.hangup)
            self._hangup_installed = True

    def hangup(self) -> None:
        self.exit(return_code=EXIT_HANGUP)

    # --- data --------------------------------------------------------------------------

    def drain(self) -> None:
        """Take everything queued on the bus, keep the latest state per camera, and let
        the active screen update what changed."""
        messages = self._sub.get_nowait()
        changed: set[str] = set()
        alerts_changed = False
        if self._sub.dropped != self._dropped_seen:
            # The mailbox overflowed: states are recoverable from the bus, alerts are reloaded.
            self._dropped_seen = self._sub.dropped
            changed |= self.fleet.replace_all(self.bus.states())
            self.run_worker(self._load_alerts(), group="load", exit_on_error=False)
        latest: dict[str, CameraState] = {}
        thumbs = False
        health: FleetHealth | None = None
        for message in messages:
            if isinstance(message, CameraState):
                latest[message.name] = message
            elif isinstance(message, AlertEvent):
                self.alerts.apply(message)
                alerts_changed = True
            elif isinstance(message, StatusChanged):
                self.fleet.add_event(message)
                changed.add(message.camera)
            elif isinstance(message, ConnectionChanged):
                self._link_changed(message)
            elif isinstance(message, ThumbnailReady):
                thumbs = True
            elif isinstance(message, FleetHealth):
                health = message  # one every 5 s: the latest of a batch says it all
        changed |= self.fleet.apply(latest.values())
        if alerts_changed:
            changed |= self.fleet.note_alerts(self.alerts.values())
        if health is not None:
            self._health_changed(health)
        self.update_screen(changed, alerts_changed)
        if thumbs:
            poll = getattr(self.screen, "poll_thumbnails", None)
            if poll is not None:
                poll()

    def _health_changed(self, health: FleetHealth) -> None:
        """Keep it and toast an overload starting or ending; the fleet screen's line
        picks it up with the update that follows (repainted only if it reads differently)."""
        flipped = self.fleet.note_health(health)
        if flipped is True:
            self.notify(
                health.why,
                title="fleet overloaded",
                severity="warning",
                timeout=OVERLOAD_TOAST_S,
            )
        elif flipped is False:
            self.notify(RECOVERED, title="fleet recovered")

    def _link_changed(self, event: ConnectionChanged) -> None:
        """The daemon connection dropped or came back (attached viewers only)."""
        self.clear_notifications()
        if event.connected:
            self.link_notice = None
            self.notify(event.message, title="daemon")
        else:
            self.link_notice = event.message
            self.notify(event.message, title="daemon", severity="error", timeout=86400)
        self.update_screen(set(), False)

    def update_screen(self, changed: set[str], alerts_changed: bool) -> None:
        if not self.is_running:
            return  # shutting down: screens are losing their widgets
        refresh = getattr(self.screen, "refresh_data", None)
        if refresh is not None:
            refresh(changed, alerts_changed)

    async def _load_alerts(self) -> None:
        try:
            alerts = await asyncio.wait_for(self.control.active_alerts(), LOAD_TIMEOUT_S)
        except Exception as exc:  # shown, never fatal: the live feed still arrives
            self.notify(f"could not load alerts: {exc}", severity="error")
            return
        finally:
            self.alerts_loaded.set()
        self._merge_alerts(alerts)

    def _merge_alerts(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self.alerts.upsert(alert)
        self.update_screen(self.fleet.note_alerts(self.alerts.values()), True)

    def load_history(self, done: Callable[[], None] | None = None, limit: int = 200) -> None:
        async def load() -> None:
            try:
                alerts = await asyncio.wait_for(self.control.alert_history(limit), LOAD_TIMEOUT_S)
            except Exception as exc:
                self.notify(f"could not load alert history: {exc}", severity="error")
                alerts = []
            self._merge_alerts(alerts)
            if done is not None:
                done()

        self.run_worker(load(), group="load", exit_on_error=False)

    # --- navigation --------------------------------------------------------------------

    def open_camera(self, name: str) -> None:
        if name not in self.fleet.states:
            self.notify(f"unknown camera {name!r}", severity="error")
            return
        screen = self._camera_screen()
        if self.screen is screen:
            screen.show_camera(name)
            return
        while isinstance(self.screen, CameraScreen):
            self.pop_screen()
        screen.show_camera(name)
        self.push_screen(screen)

    def _camera_screen(self) -> CameraScreen:
        # One camera screen per mode (a screen lives in one stack), installed so that
        # leaving it keeps its widgets: the next camera opens without compose or restyle.
        key = f"camera-{self.current_mode}"
        if not self.is_screen_installed(key):
            self.install_screen(CameraScreen(), key)
        return self.get_screen(key)  # type: ignore[return-value]

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def show_history(self) -> None:
        self.switch_mode("alerts")

        def toggle() -> None:
            if isinstance(self.screen, AlertsScreen) and not self.screen.history:
                self.screen.action_history()

        self.call_after_refresh(toggle)

    def _to_fleet(self) -> FleetScreen | None:
        self.switch_mode("fleet")
        while isinstance(self.screen, CameraScreen):
            self.pop_screen()
        return self.fleet_view

    def fleet_do(self, action: str) -> None:
        view = self._to_fleet()
        if view is not None:
            getattr(view, f"action_{action}")()

    def fleet_sort(self, column: str) -> None:
        view = self._to_fleet()
        if view is not None:
            view.sort_by(column)

    # --- actions through Control ---------------------------------------------------------

    def acknowledge(self, alert_id: str, comment: str) -> None:
        async def ack() -> None:
            alert = await self.control.acknowledge(alert_id, self.user, comment)
            self._merge_alerts([alert])
            self.notify(f"acknowledged {alert.camera} · {alert.rule}")

        self._act("acknowledge", ack)

    def silence(self, request: SilenceRequest) -> None:
        async def silence() -> None:
            await self.control.silence(
                request.target_kind,
                request.target,
                request.duration_s,
                request.reason,
                self.user,
            )
            self.notify(f"silenced {request.target_kind} {request.target}")

        self._act("silence", silence)

    def capture_baseline(self, camera: str) -> None:
        async def baseline() -> None:
            await self.control.capture_baseline(camera, self.user)
            self.notify(f"baseline captured for {camera}")

        self._act("capture baseline", baseline)

    def _act(self, what: str, action: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            try:
                await asyncio.wait_for(action(), ACTION_TIMEOUT_S)
            except ControlError as exc:
                self.notify(str(exc), title=f"{what} refused", severity="error")
            except TimeoutError:
                self.notify(f"no answer in {ACTION_TIMEOUT_S:.0f} s", title=what, severity="error")
            except Exception as exc:  # the UI stays up; the error is shown and logged
                log.exception("%s failed", what)
                self.notify(
                    f"{type(exc).__name__}: {exc}", title=f"{what} failed", severity="error"
                )

        self.run_worker(run(), group="actions", exit_on_error=False)


def run_tui(bus: Bus, control: Control, **opts: object) -> int:
    """Run the TUI in this terminal until the user quits; returns the exit status.

    Options are CamwatchApp's keyword arguments. A bad theme, colour depth or
    thumbnails setting prints one clear line to stderr and returns 3.
    """
    app = build_app(bus, control, opts)
    if isinstance(app, int):
        return app
    app.run(mouse=app.use_mouse)
    return app.return_code or 0


def run_attached(path: Path | str | None = None, **opts: object) -> int | None:
    """Run the TUI on the daemon listening at `path` (default: the runtime socket).

    Returns None when no daemon answers there, so the caller can run its own
    core instead; a refused or incompatible daemon prints why and returns 69.
    """

    async def main() -> int | None:
        try:
            remote = await attach(path)
        except RemoteError as exc:
            print(f"camwatch: {exc}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        if remote is None:
            return None
        bus, control = remote
        try:
            app = build_app(bus, control, opts)
            if isinstance(app, int):
                return app
            await app.run_async(mouse=app.use_mouse)
            return app.return_code or 0
        finally:
            await bus.aclose()

    return asyncio.run(main())


def build_app(bus: Bus, control: Control, opts: dict[str, object]) -> CamwatchApp | int:
    """A CamwatchApp with these options, or the usage exit status after printing why
    (unknown theme, colour depth, thumbnails or pixels setting)."""
    colors = str(opts.get("colors", "auto"))
    try:
        depth = parse_depth(colors)
        if colors != "auto" and depth in _TEXTUAL_COLOR_SYSTEM:
            import textual.constants

            textual.constants.COLOR_SYSTEM = _TEXTUAL_COLOR_SYSTEM[depth]  # type: ignore[misc]
        return CamwatchApp(bus, control, **opts)  # type: ignore[arg-type]
    except (UnknownThemeError, ThemeError, ValueError) as exc:
        print(f"camwatch: {exc}", file=sys.stderr)
        return EXIT_USAGE
