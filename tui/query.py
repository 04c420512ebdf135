"""The `/` filter language: words, and field:value terms, all of which must match.

north            name, site or tag contains "north", or a state word starts with it
site:north       the site contains "north"
state:off        the state word starts with "off" (offline)
tag:lobby  name:cam-0  sev:crit  rule:loss  camera:gate
"""

from __future__ import annotations

from dataclasses import dataclass

from camwatch.alerts.model import Alert
from camwatch.state import CameraState

from .format import Look, alert_state_word

CAMERA_FIELDS = ("name", "site", "tag", "state")
ALERT_FIELDS = ("camera", "site", "sev", "rule", "state")
_ALIASES = {"severity": "sev", "cam": "camera", "status": "state", "tags": "tag"}


class QueryError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Query:
    terms: tuple[tuple[str | None, str], ...] = ()
    text: str = ""

    def __bool__(self) -> bool:
        return bool(self.terms)


def parse_query(text: str, fields: tuple[str, ...]) -> Query:
    terms: list[tuple[str | None, str]] = []
    for token in text.split():
        field, sep, value = token.partition(":")
        if not sep:
            terms.append((None, token.lower()))
            continue
        field = _ALIASES.get(field.lower(), field.lower())
        if field not in fields:
            raise QueryError(f"unknown filter field {field!r}: use {', '.join(fields)}")
        if value:
            terms.append((field, value.lower()))
    return Query(tuple(terms), text.strip())


def match_camera(query: Query, state: CameraState, look: Look) -> bool:
    name, site = state.name.lower(), state.site.lower()
    tags = [t.lower() for t in state.tags]
    states = (look.word, state.status.value)
    for field, value in query.terms:
        if field == "name":
            ok = value in name
        elif field == "site":
            ok = value in site
        elif field == "tag":
            ok = any(value in t for t in tags)
        elif field == "state":
            ok = any(s.startswith(value) for s in states)
        else:
            ok = (
                value in name
                or value in site
                or any(value in t for t in tags)
                or any(s.startswith(value) for s in states)
            )
        if not ok:
            return False
    return True


def match_alert(query: Query, alert: Alert) -> bool:
    camera, site, rule = alert.camera.lower(), alert.site.lower(), alert.rule.lower()
    sev, state = alert.severity.value, alert_state_word(alert)
    for field, value in query.terms:
        if field == "camera":
            ok = value in camera
        elif field == "site":
            ok = value in site
        elif field == "sev":
            ok = sev.startswith(value)
        elif field == "rule":
            ok = value in rule
        elif field == "state":
            ok = state.startswith(value)
        else:
            ok = (
                value in camera
                or value in site
                or value in rule
                or value in alert.reason.lower()
                or sev.startswith(value)
            )
        if not ok:
            return False
    return True
