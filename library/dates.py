"""Times as people in the UK read them: '29 Nov 2026, 14:05', in their own time zone.

The library records times in UTC (ISO 8601 in the change log, a compact stamp in the names of
files in the trash); these turn them into local, readable text.  The zone is the reader's
(the app passes the browser's), else the UK's.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Europe/London"
TRASH_STAMP = "%Y%m%dT%H%M%S%fZ"  # store.Collection.trash_name
# Not strftime("%b"), which follows the server's locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def zone(name: str | None) -> ZoneInfo:
    """The named IANA time zone, or the UK's when the name is missing or unknown."""
    try:
        return ZoneInfo(name) if name else ZoneInfo(DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def parse_utc(stamp: str) -> dt.datetime | None:
    """A recorded time (ISO 8601, or a trash file's stamp) as an aware datetime; None if unreadable."""
    text = (stamp or "").strip()
    for reader in (dt.datetime.fromisoformat, lambda s: dt.datetime.strptime(s, TRASH_STAMP)):
        try:
            moment = reader(text)
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    return None


def readable(stamp: str | dt.datetime, zone_name: str | None = None, *, now: dt.datetime | None = None) -> str:
    """'29 Nov 2026, 14:05' in the reader's zone ('Today, 14:05' and 'Yesterday, 09:10' for the last
    two days); the stamp as it is when it cannot be read."""
    moment = stamp if isinstance(stamp, dt.datetime) else parse_utc(stamp)
    if moment is None:
        return str(stamp)
    local_zone = zone(zone_name)
    local = moment.astimezone(local_zone)
    today = (now or dt.datetime.now(dt.timezone.utc)).astimezone(local_zone).date()
    clock = local.strftime("%H:%M")
    if local.date() == today:
        return f"Today, {clock}"
    if local.date() == today - dt.timedelta(days=1):
        return f"Yesterday, {clock}"
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}, {clock}"
