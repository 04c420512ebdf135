"""The camera inventory: real files in tmp_path, real permission bits.

Tests run as root, so they check file modes, never access.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest

from camwatch.alerts.rules import RULE_THRESHOLD_KEYS, RuleEngine
from camwatch.analysis.settings import AnalysisSettings
from camwatch.config import (
    CameraConfig,
    ConfigError,
    Inventory,
    Region,
    camera_from_url,
    load_inventory,
    parse_inventory,
)
from camwatch.imaging import ANALYSIS_KEYS, analysis_thresholds
from camwatch.paths import (
    config_dir,
    data_dir,
    default_config_path,
    default_db_path,
    runtime_socket_path,
    themes_dir,
)

EXAMPLES = Path(__file__).parent.parent / "examples"
SECRET = "Sup3r$ecret"


def write(tmp_path: Path, text: str, mode: int = 0o600, name: str = "cameras.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    path.chmod(mode)
    return path


def problems(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_inventory(path, env=env or {})
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


# ----------------------------------------------------------------------- examples


def test_minimal_example_gets_defaults() -> None:
    inv = load_inventory(EXAMPLES / "minimal.toml", env={})
    gate, yard = inv.cameras
    assert (gate.name, gate.url, gate.site, yard.site) == (
        "gate-1",
        "rtsp://192.168.1.64/Streaming/Channels/102",
        "",
        "depot",
    )
    assert (gate.transport, gate.enabled, gate.tags, gate.thumbnails) == ("tcp", True, (), "on")
    assert (gate.stall_timeout, gate.connect_timeout, gate.sample_interval) == (5.0, 5.0, 1.0)
    assert gate.read_every == 0.2
    assert (gate.username, gate.password, gate.substream) == (None, None, None)
    assert gate.stream_url() == gate.url == gate.display_url()


@pytest.fixture
def full_example(tmp_path: Path) -> Inventory:
    shutil.copy(EXAMPLES / "cameras.toml", tmp_path / "cameras.toml")
    (tmp_path / "cameras.toml").chmod(0o644)  # no password inside: may be world-readable
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "dahua.password").write_text("dahua pw\n")
    (secrets / "dahua.password").chmod(0o600)
    return load_inventory(tmp_path / "cameras.toml", env={"CAMWATCH_FLEET_PASSWORD": SECRET})


def test_full_example_resolves_every_level(full_example: Inventory) -> None:
    inv = full_example
    assert [c.name for c in inv.cameras] == ["depot-gate", "depot-yard-ptz", "hq-lobby", "hq-roof"]
    gate, ptz, lobby, roof = inv.cameras
    # defaults < site < camera, tags add up, thresholds merge key by key
    assert gate.tags == ("cctv", "outdoor", "entrance")
    assert gate.stall_timeout == 10.0 and lobby.stall_timeout == 5.0
    assert dict(gate.thresholds) == {"packet_loss": 0.01, "min_fps": 5.0}
    assert dict(ptz.thresholds) == {"packet_loss": 0.05, "min_fps": 5.0, "noise_sigma": 10.0}
    assert dict(lobby.thresholds) == {"packet_loss": 0.02, "min_fps": 5.0}
    assert (lobby.transport, roof.transport, gate.transport) == ("auto", "tcp", "tcp")
    assert (roof.enabled, lobby.thumbnails, ptz.sample_interval) == (False, "pixelate", 2.0)
    # credentials: env for the fleet, a 0600 file (newline stripped) for dahua
    assert (gate.username, gate.password) == ("monitor", SECRET)
    assert (ptz.username, ptz.password) == ("admin", "dahua pw")
    # regions
    assert gate.privacy_masks[0] == Region(
        "rect", ((0.0, 0.0), (0.25, 0.0), (0.25, 0.2), (0.0, 0.2))
    )
    assert gate.privacy_masks[1].kind == "polygon" and len(gate.privacy_masks[1].points) == 4
    assert gate.motion_masks[0].points[2] == (1.0, 1.0)
    # substreams are what camwatch monitors
    assert gate.stream_url() == "rtsp://10.1.20.11:554/Streaming/Channels/102"
    assert gate.display_url() == "rtsp://monitor:***@10.1.20.11:554/Streaming/Channels/102"
    # sections for other subsystems, frozen
    assert inv.sections["store"]["retention_days"] == 30
    assert not inv.sections["store"]["path"].startswith("~")
    assert inv.sections["rules"]["tags"]["ptz"]["moved"]["enabled"] is False
    assert inv.sections["notify"]["command"] == ("/usr/local/bin/page-oncall", "--team", "cctv")
    assert inv.sections["analysis"]["size"] == (320, 180)
    assert inv.sites["depot"]["description"] == "Bus depot, north gate"
    with pytest.raises(TypeError):
        inv.sections["store"]["path"] = "/tmp/x"  # type: ignore[index]


def test_select_and_camera_lookup(full_example: Inventory) -> None:
    inv = full_example
    names = lambda cams: [c.name for c in cams]  # noqa: E731
    assert names(inv.select(None)) == [
        "depot-gate",
        "depot-yard-ptz",
        "hq-lobby",
    ]  # hq-roof disabled
    assert names(inv.select("depot")) == ["depot-gate", "depot-yard-ptz"]
    assert names(inv.select("hq")) == ["hq-lobby"]
    assert names(inv.select("hq-roof")) == [
        "hq-roof"
    ]  # named explicitly: selected although disabled
    assert names(inv.select("ptz,hq-lobby")) == ["depot-yard-ptz", "hq-lobby"]
    assert names(inv.select("cctv")) == ["depot-gate", "depot-yard-ptz", "hq-lobby"]
    with pytest.raises(
        KeyError, match=r'"depto" is not a camera, site or tag.*did you mean "depot"'
    ):
        inv.select("depto")
    assert inv.camera("hq-lobby").site == "hq"
    with pytest.raises(KeyError, match=r'no camera named "hq-loby".*did you mean "hq-lobby"'):
        inv.camera("hq-loby")


def test_configs_are_hashable_and_comparable(full_example: Inventory, tmp_path: Path) -> None:
    again = load_inventory(tmp_path / "cameras.toml", env={"CAMWATCH_FLEET_PASSWORD": SECRET})
    assert again.cameras == full_example.cameras
    assert len({*again.cameras, *full_example.cameras}) == 4
    changed = load_inventory(tmp_path / "cameras.toml", env={"CAMWATCH_FLEET_PASSWORD": "other"})
    assert changed.cameras[0] != full_example.cameras[0]


# ---------------------------------------------------------------- every problem


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        cameras = []
        [defaults]
        trasport = "tcp"
        [[camera]]
        name = "gate-1"
        url = "rtsp://10.0.0.1/s"
        transport = "rtp"
        stall_timeout = -1
        tags = "outdoor"
        enabled = "yes"
        [[camera]]
        name = "gate-1"
        url = "http://10.0.0.2/s"
        [[camera]]
        url = "rtsp:///nohost"
        [[camera]]
        name = "cam4"
        url = "rtsp://10.0.0.4:99999/s"
        thumbnails = "blur"
        thresholds = { packet_loss = "high", min_fps = true }
        motion_zones = [[0.5, 0.5, 0.6, 0.1], { polygon = [[0, 0], [1, 1]] }, [0, 0, 2, 1], "x"]
        """,
    )
    got = problems(path)
    p = str(path)
    expected = [
        f'{p}: top level: key "cameras": unknown key (did you mean "camera"?)',
        f'{p}: [defaults]: key "trasport": unknown key (did you mean "transport"?)',
        f'{p}: camera "gate-1": key "name": duplicate camera name (camera #2 and camera #1)',
        f'{p}: camera "gate-1": key "transport": expected one of tcp, udp, auto, got "rtp"',
        f'{p}: camera "gate-1": key "stall_timeout": expected a number greater than 0, got -1',
        f'{p}: camera "gate-1": key "tags": expected an array, got string',
        f'{p}: camera "gate-1": key "enabled": expected true or false, got string',
        f'{p}: camera "gate-1": key "url": "http://10.0.0.2/s": the scheme must be rtsp://, '
        "rtsps:// or rtspt://",
        f'{p}: camera #3: key "url": "rtsp:///nohost": host missing or port invalid',
        f'{p}: camera #3: key "name": missing (every camera needs a name and a url)',
        f'{p}: camera "cam4": key "url": "rtsp://10.0.0.4:99999/s": invalid host or port',
        f'{p}: camera "cam4": key "thumbnails": expected one of on, pixelate, off, got "blur"',
        f'{p}: camera "cam4": key "thresholds.packet_loss": expected a number, got string',
        f'{p}: camera "cam4": key "thresholds.min_fps": expected a number, got boolean',
        f'{p}: camera "cam4": key "motion_zones #1": rectangle extends past the image '
        "(x + w and y + h must be at most 1)",
        f'{p}: camera "cam4": key "motion_zones #2": '
        "a polygon needs at least 3 points [[x, y], ...]",
        f'{p}: camera "cam4": key "motion_zones #3": coordinates are fractions of the image '
        "from 0 to 1, got 2",
        f'{p}: camera "cam4": key "motion_zones #4": a region is [x, y, w, h] or '
        "{ polygon = [[x, y], ...] }",
    ]
    assert sorted(got) == sorted(expected)


def test_unknown_threshold_keys_are_named_with_file_and_table(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [defaults.thresholds]
        jiter = 40
        [sites.north]
        thresholds = { offline = 5 }
        [[camera]]
        name = "gate-1"
        url = "rtsp://10.0.0.1/s"
        site = "north"
        thresholds = { paket_loss = 0.1, nosie_sigma = 8, min_fps = 5 }
        """,
    )
    got = problems(path)
    p = str(path)
    every = ", ".join((*RULE_THRESHOLD_KEYS, *sorted(ANALYSIS_KEYS)))
    assert sorted(got) == sorted(
        [
            f'{p}: [defaults]: key "thresholds.jiter": unknown key (did you mean "jitter"?)',
            # a rule without a threshold: nothing close, so every valid key is listed
            f'{p}: site "north": key "thresholds.offline": unknown key; valid keys: {every}',
            f'{p}: camera "gate-1": key "thresholds.paket_loss": unknown key '
            '(did you mean "packet_loss"?)',
            f'{p}: camera "gate-1": key "thresholds.nosie_sigma": unknown key '
            '(did you mean "noise_sigma"?)',
        ]
    )


def test_out_of_range_analysis_thresholds_are_named_at_load(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[camera]]
        name = "gate-1"
        url = "rtsp://10.0.0.1/s"
        thresholds = { black_luma = 300, frozen_cells_pct = 90, packet_loss = 0.1 }
        """,
    )
    p = str(path)
    assert problems(path) == [
        f'{p}: camera "gate-1": key "thresholds.black_luma": 300.0 is outside 0..255'
    ]


def test_every_threshold_key_is_accepted_and_read_by_the_rules_or_the_analysis(
    tmp_path: Path,
) -> None:
    # The Core hands the table to the rule engine and to analysis_thresholds: the
    # inventory accepts exactly what one of them reads.
    keys = (*RULE_THRESHOLD_KEYS, *sorted(ANALYSIS_KEYS))
    defaults = AnalysisSettings()
    values = [float(i + 1) for i in range(len(RULE_THRESHOLD_KEYS))]
    values += [float(getattr(defaults, k)) for k in sorted(ANALYSIS_KEYS)]  # in range
    table = ", ".join(f"{k} = {v}" for k, v in zip(keys, values, strict=True))
    path = write(
        tmp_path, f'[[camera]]\nname = "a"\nurl = "rtsp://h/s"\nthresholds = {{ {table} }}\n'
    )
    [cam] = load_inventory(path, env={}).cameras
    assert list(cam.thresholds) == list(keys)
    specs = RuleEngine(cameras=[cam]).specs_for("a")
    by_rules = {
        r for r in RULE_THRESHOLD_KEYS if r in specs and specs[r].threshold == cam.thresholds[r]
    }
    by_rules |= {"min_fps"} if specs["low_fps"].min_fps == cam.thresholds["min_fps"] else set()
    by_analysis = set(analysis_thresholds(cam.thresholds))
    assert by_rules == set(RULE_THRESHOLD_KEYS)
    assert by_analysis == set(ANALYSIS_KEYS)


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '[[camera]]\nname = "a"\nurl = "rtsp://h/s\n')
    (problem,) = problems(path)
    assert problem.startswith(f"{path}: TOML syntax error:")
    assert "line 3" in problem and "column" in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[camera]\nname = "a"\nurl = "rtsp://h/"\n', "write cameras as [[camera]] tables"),
        ("", "no cameras: add at least one [[camera]] table"),
        (
            'transport = "tcp"\n[[camera]]\nname = "a"\nurl = "rtsp://h/"\n',
            'top level: key "transport": unknown key (camera keys belong in a [[camera]]',
        ),
        ('[[camera]]\nname = "a,b"\nurl = "rtsp://h/"\n', "must not contain commas"),
        ('[[camera]]\nname = "a"\nurl = "rtsp://h/"\nuser = "admin"\n', "user names go in the url"),
        (
            '[[camera]]\nname = "a"\nurl = "rtsp://h/"\npassword = "x"\n',
            "passwords go in [credentials",
        ),
        ('[[camera]]\nname = "a"\nurl = "rtsp://h/ x"\n', "contains blanks or control characters"),
        ('[[camera]]\nname = "a"\nurl = 5\n', 'key "url": expected a string, got integer'),
        (
            '[[camera]]\nname = "a"\nurl = "rtsp://h/"\nprivacy_masks = [[0, 0, 0, 0.5]]\n',
            "width and height must be greater than 0",
        ),
        (
            '[[camera]]\nname = "a"\nurl = "rtsp://h/"\nstall_timeout = inf\n',
            "expected a finite number",
        ),
        (
            '[[camera]]\nname = "a"\nurl = "rtsp://h/"\nsample_interval = -0.5\n',
            "expected a number of 0 or more",
        ),
        (
            '[[camera]]\nname = "a"\nurl = "rtsp://h/"\nread_every = 5\n',
            'key "read_every": expected seconds from 0 to 1, got 5',
        ),
    ],
)
def test_single_problems(tmp_path: Path, text: str, expected: str) -> None:
    got = problems(write(tmp_path, text))
    assert len(got) == 1 and expected in got[0], got


def test_sections_are_validated(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[camera]]
        name = "a"
        url = "rtsp://h/"
        [store]
        retention_days = 0
        [privacy]
        thumbnails = "maybe"
        [rules.offline]
        severity = "fatal"
        raise_afer = 10
        [rules.packt_loss]
        threshold = 1
        [notify]
        webhooks = [{ url = "ftp://x/" }, { headers = {} }]
        command = []
        [tui]
        colors = "24bit"
        [analysis]
        size = [320]
        [metrics]
        listen = "9108"
        [logging]
        level = "debug"
        """,
    )
    got = problems(path)
    p = str(path)
    # [rules] is checked by the rule engine's parser: its problems come with the file name
    rules = [g for g in got if g.startswith(f"{p}: rules.")]
    # so is [notify], by the notifier's parser
    notify = sorted(g for g in got if g.startswith(f"{p}: notify."))
    assert notify == [
        f"{p}: notify.command: expected a non-empty list of strings (argv, no shell)",
        f"{p}: notify.webhooks[0].url: expected an http:// or https:// URL, got 'ftp://x/'",
        f"{p}: notify.webhooks[1].url: expected an http:// or https:// URL, got None",
    ]
    assert len(rules) == 3
    assert any("rules.offline.severity" in r and "fatal" in r for r in rules)
    assert any("rules.offline.raise_afer: unknown key" in r for r in rules)
    assert any("rules.packt_loss: unknown rule" in r for r in rules)
    assert sorted(g for g in got if g not in rules and g not in notify) == sorted(
        [
            f'{p}: [store]: key "retention_days": expected a number greater than 0, got 0',
            f'{p}: [privacy]: key "thumbnails": expected one of on, pixelate, off, got "maybe"',
            f'{p}: [tui]: key "colors": '
            'expected one of auto, truecolor, 256, 16, mono, got "24bit"',
            f'{p}: [analysis]: key "size": expected [width, height], got an array',
            f'{p}: [metrics]: key "listen": '
            'expected "host:port" such as "127.0.0.1:9108", got "9108"',
            f'{p}: top level: key "logging": unknown key; valid keys: '
            "camera, defaults, sites, credentials, store, privacy, rules, notify, tui, analysis, "
            "metrics",
        ]
    )


def test_privacy_off_wins_over_a_camera_turning_thumbnails_on(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [privacy]
        thumbnails = "pixelate"
        [[camera]]
        name = "a"
        url = "rtsp://h/"
        thumbnails = "on"
        [[camera]]
        name = "b"
        url = "rtsp://h/"
        thumbnails = "off"
        """,
    )
    assert [c.thumbnails for c in load_inventory(path, env={}).cameras] == ["pixelate", "off"]


def test_undeclared_site_is_a_label_with_a_typo_warning(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [sites.north]
        stall_timeout = 9
        [[camera]]
        name = "a"
        url = "rtsp://h/"
        site = "nroth"
        [[camera]]
        name = "b"
        url = "rtsp://h/"
        site = "elsewhere"
        """,
    )
    inv = load_inventory(path, env={})
    assert [(c.site, c.stall_timeout) for c in inv.cameras] == [("nroth", 5.0), ("elsewhere", 5.0)]
    assert inv.warnings == (
        f'{path}: camera "a": site "nroth" is not in [sites] (did you mean "north"?)',
    )


# ------------------------------------------------------------------- credentials

CAM_WITH = """
[credentials.fleet]
username = "viewer"
{spec}
[[camera]]
name = "gate-1"
url = "rtsp://10.0.0.1/s"
credentials = "fleet"
[[camera]]
name = "gate-2"
url = "rtsp://10.0.0.2/s"
credentials = "fleet"
"""


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_password_file_private_modes_accepted(tmp_path: Path, mode: int) -> None:
    secret = tmp_path / "fleet.pw"
    secret.write_text(SECRET + "\r\n")
    secret.chmod(mode)
    inv = load_inventory(
        write(tmp_path, CAM_WITH.format(spec=f'password_file = "{secret}"'), 0o644)
    )
    assert [(c.username, c.password) for c in inv.cameras] == [("viewer", SECRET)] * 2


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o610])
def test_password_file_readable_by_others_refused(tmp_path: Path, mode: int) -> None:
    secret = tmp_path / "fleet.pw"
    secret.write_text(SECRET)
    secret.chmod(mode)
    path = write(
        tmp_path, CAM_WITH.format(spec='password_file = "fleet.pw"')
    )  # relative to the file
    assert problems(path) == [
        f'{path}: credentials "fleet": key "password_file": {secret} is accessible by other users '
        f'(mode {mode:04o}); run: chmod 600 {secret} (used by cameras "gate-1", "gate-2")'
    ]


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing", "no such file"),
        ("directory", "not a regular file"),
        ("empty", "is empty"),
    ],
)
def test_password_file_problems(tmp_path: Path, setup: str, expected: str) -> None:
    target = tmp_path / "pw"
    if setup == "directory":
        target.mkdir()
    elif setup == "empty":
        target.write_text("\n")
        target.chmod(0o600)
    (problem,) = problems(write(tmp_path, CAM_WITH.format(spec=f'password_file = "{target}"')))
    assert expected in problem and 'credentials "fleet": key "password_file"' in problem


def test_missing_env_variable_names_the_cameras(tmp_path: Path) -> None:
    path = write(tmp_path, CAM_WITH.format(spec='password_env = "FLEET_PW"'), 0o644)
    assert problems(path, env={"OTHER": "x"}) == [
        f'{path}: credentials "fleet": key "password_env": '
        'environment variable FLEET_PW is not set (used by cameras "gate-1", "gate-2")'
    ]
    inv = load_inventory(path, env={"FLEET_PW": SECRET})
    assert inv.cameras[1].password == SECRET


def test_credential_shapes_and_references(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [defaults]
        credentials = "flet"
        [sites.north]
        credentials = "zzz"
        [credentials.fleet]
        username = "u"
        password_env = "A"
        password_file = "/x"
        [credentials.nouser]
        password_env = "B"
        [credentials.neither]
        username = "u"
        [[camera]]
        name = "a"
        url = "rtsp://h/"
        credentials = "fleeet"
        """,
    )
    p = str(path)
    assert sorted(problems(path)) == sorted(
        [
            f'{p}: [defaults]: key "credentials": '
            'no [credentials.flet] entry (did you mean "fleet"?)',
            f'{p}: site "north": key "credentials": no [credentials.zzz] entry',
            f'{p}: credentials "fleet": give exactly one of password_env or password_file',
            f'{p}: credentials "nouser": key "username": missing',
            f'{p}: credentials "neither": give exactly one of password_env or password_file',
            f'{p}: camera "a": key "credentials": '
            'no [credentials.fleeet] entry (did you mean "fleet"?)',
        ]
    )


INLINE = """
[[camera]]
name = "gate-1"
url = "rtsp://admin:p%40ss%3Aw%2Frd@10.0.0.1:554/s"
substream = "rtsp://10.0.0.1:554/sub"
"""


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_inline_password_accepted_in_private_file_and_decoded(tmp_path: Path, mode: int) -> None:
    cam = load_inventory(write(tmp_path, INLINE, mode), env={}).cameras[0]
    assert (cam.username, cam.password) == ("admin", "p@ss:w/rd")
    assert cam.url == "rtsp://10.0.0.1:554/s"
    assert cam.display_url() == "rtsp://admin:***@10.0.0.1:554/sub"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_inline_password_refused_in_readable_file(tmp_path: Path, mode: int) -> None:
    path = write(tmp_path, INLINE, mode)
    assert problems(path) == [
        f'{path}: camera "gate-1": key "url": contains a password but {path} is readable by other '
        f"users (mode {mode:04o}); run chmod 600 {path}, or move the password to a "
        "[credentials.NAME] entry (password_env or password_file)"
    ]


def test_inline_password_refused_when_the_file_cannot_be_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"permissions of .* cannot be checked"):
        parse_inventory(INLINE, tmp_path / "not-written.toml", env={})


def test_user_without_password_in_url_needs_no_private_file(tmp_path: Path) -> None:
    text = '[[camera]]\nname = "a"\nurl = "rtsp://viewer@10.0.0.1/s"\n'
    cam = load_inventory(write(tmp_path, text, 0o644), env={}).cameras[0]
    assert (cam.username, cam.password, cam.display_url()) == (
        "viewer",
        None,
        "rtsp://viewer@10.0.0.1/s",
    )


def test_url_credentials_conflicts(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [credentials.fleet]
        username = "u"
        password_env = "PW"
        [defaults]
        credentials = "fleet"
        [[camera]]
        name = "inherits"
        url = "rtsp://own:pw1@h/"
        [[camera]]
        name = "both"
        url = "rtsp://own:pw1@h/"
        credentials = "fleet"
        [[camera]]
        name = "split"
        url = "rtsp://own:pw1@h/"
        substream = "rtsp://other:pw2@h/sub"
        """,
    )
    p = str(path)
    assert sorted(problems(path, env={"PW": "x"})) == sorted(
        [
            f'{p}: camera "both": key "credentials": the url already carries a user name; keep one',
            f'{p}: camera "split": key "substream": url and substream carry different credentials',
        ]
    )


def test_no_password_in_any_message_or_repr(tmp_path: Path) -> None:
    secrets = ["s3cr3t-inline", "pa/ss-slash", "hash#pw", "envpass-9", "filepass-7", "hook-pw"]
    pwfile = tmp_path / "pw"
    pwfile.write_text("filepass-7")
    pwfile.chmod(0o644)  # refused: the message must still not show it
    path = write(
        tmp_path,
        f"""
        [credentials.envcred]
        username = "u"
        password_env = "PW"
        [credentials.filecred]
        username = "u"
        password_file = "{pwfile}"
        [notify]
        webhooks = [{{ url = "https://bot:hook-pw@hooks.example/x" }}]
        [[camera]]
        name = "inline"
        url = "rtsp://admin:s3cr3t-inline@10.0.0.1/s"
        [[camera]]
        name = "slash"
        url = "rtsp://admin:pa/ss-slash@10.0.0.2/s"
        [[camera]]
        name = "hash"
        url = "rtsp://admin:hash#pw@10.0.0.3/s"
        [[camera]]
        name = "typo"
        url = "rtsp://10.0.0.4/s"
        credentials = "envcred"
        transport = "rtsp://admin:s3cr3t-inline@x/"
        [[camera]]
        name = "file"
        url = "rtsp://10.0.0.5/s"
        credentials = "filecred"
        """,
        mode=0o644,
    )
    with pytest.raises(ConfigError) as info:
        load_inventory(path, env={"PW": "envpass-9"})
    text = str(info.value) + repr(info.value) + "\n".join(info.value.problems)
    assert len(info.value.problems) == 6
    for secret in secrets:
        assert secret not in text
    assert "admin:***@" in text
    # a valid inventory holding resolved passwords never shows them either
    ok = write(tmp_path, INLINE, 0o600, name="ok.toml")
    inv = load_inventory(ok, env={})
    shown = repr(inv) + repr(inv.cameras) + str(inv.cameras[0]) + inv.cameras[0].display_url()
    assert "p@ss:w/rd" not in shown and "p%40ss" not in shown
    assert inv.cameras[0].password == "p@ss:w/rd"


# ------------------------------------------------------------------ probe by URL


def test_camera_from_url() -> None:
    cam = camera_from_url(
        "rtsp://admin:p%40ss@192.168.1.64:554/Streaming/Channels/101", transport="UDP"
    )
    assert isinstance(cam, CameraConfig)
    assert (cam.name, cam.url, cam.transport) == (
        "192.168.1.64",
        "rtsp://192.168.1.64:554/Streaming/Channels/101",
        "udp",
    )
    assert (cam.username, cam.password) == ("admin", "p@ss")
    assert "p@ss" not in repr(cam)
    assert camera_from_url("rtsp://[::1]:8554/test", name="sim").name == "sim"
    with pytest.raises(ConfigError, match="scheme must be rtsp"):
        camera_from_url("http://admin:pw@h/")
    with pytest.raises(ConfigError, match="transport: expected one of tcp, udp, auto"):
        camera_from_url("rtsp://h/", transport="sctp")
    with pytest.raises(ConfigError) as info:
        camera_from_url("rtsp://admin:se/cret@h/")
    assert "se/cret" not in str(info.value) and "cret" not in str(info.value)


# -------------------------------------------------------------------- files, paths


def test_load_inventory_file_problems(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert problems(missing) == [
        f"{missing}: no such file; create it (see examples/cameras.toml) or pass --config FILE"
    ]
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b'[[camera]]\nname = "\xff"\n')
    assert problems(binary) == [f"{binary}: not UTF-8 text (byte offset 19)"]
    assert "cannot read" in problems(tmp_path)[0]  # a directory


def test_default_path_comes_from_xdg(tmp_path: Path) -> None:
    (tmp_path / "camwatch").mkdir()
    shutil.copy(EXAMPLES / "minimal.toml", tmp_path / "camwatch" / "cameras.toml")
    inv = load_inventory(env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert inv.path == tmp_path / "camwatch" / "cameras.toml"
    assert len(inv.cameras) == 2


def test_paths_follow_xdg() -> None:
    env = {
        "HOME": "/home/tech",
        "XDG_CONFIG_HOME": "/cfg",
        "XDG_DATA_HOME": "/data",
        "XDG_RUNTIME_DIR": "/run/user/1000",
    }
    assert config_dir(env) == Path("/cfg/camwatch")
    assert default_config_path(env) == Path("/cfg/camwatch/cameras.toml")
    assert themes_dir(env) == Path("/cfg/camwatch/themes")
    assert data_dir(env) == Path("/data/camwatch")
    assert default_db_path(env) == Path("/data/camwatch/camwatch.db")
    assert runtime_socket_path(env) == Path("/run/user/1000/camwatch.sock")
    assert runtime_socket_path({**env, "CAMWATCH_SOCKET": "/run/camwatch/c.sock"}) == Path(
        "/run/camwatch/c.sock"
    )
    # unset or relative XDG variables fall back to the spec's defaults
    bare = {"HOME": "/home/tech", "XDG_CONFIG_HOME": "relative/dir"}
    assert config_dir(bare) == Path("/home/tech/.config/camwatch")
    assert data_dir(bare) == Path("/home/tech/.local/share/camwatch")
    assert runtime_socket_path(bare) == Path(f"/tmp/camwatch-{os.getuid()}.sock")


def test_read_every_reaches_the_monitor_settings(tmp_path: Path) -> None:
    from camwatch.targets import settings_of

    inv = load_inventory(
        write(
            tmp_path,
            '[defaults]\nread_every = 0.5\n[[camera]]\nname = "a"\nurl = "rtsp://h/"\n'
            '[[camera]]\nname = "b"\nurl = "rtsp://h/b"\nread_every = 0\n',
        ),
        env={},
    )
    a, b = inv.cameras
    assert (settings_of(a).read_every, settings_of(b).read_every) == (0.5, 0.0)
