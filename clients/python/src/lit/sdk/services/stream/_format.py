"""Formatting as ``systemctl status`` prints it, so ``status()`` reads the same as the terminal.

The TypeScript client formats the same way; both are checked against one set of test vectors
(``clients/testdata/format.json``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional
from zoneinfo import ZoneInfo

_IEC_UNITS = (
    ("E", 1024**6),
    ("P", 1024**5),
    ("T", 1024**4),
    ("G", 1024**3),
    ("M", 1024**2),
    ("K", 1024),
)

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
"""systemd's English weekday names, by ``datetime.weekday()`` (Monday is 0)."""


def format_bytes(count: int) -> str:
    """Formats a byte count as systemd's ``format_bytes()`` does (src/basic/format-util.c).

    Below 1024 the count and ``B``; above, one truncated (not rounded) decimal and an IEC unit.

    Examples:
        >>> format_bytes(900), format_bytes(1024), format_bytes(1500), format_bytes(3 * 1024**2)
        ('900B', '1.0K', '1.4K', '3.0M')
    """
    for suffix, factor in _IEC_UNITS:
        if count >= factor:
            whole, rest = divmod(count, factor)
            return f"{whole}.{rest * 10 // factor}{suffix}"
    return f"{count}B"


def format_timestamp(moment: datetime, zone: Optional[str] = None) -> str:
    """Formats a moment as systemd's FORMAT_TIMESTAMP, ``%a %Y-%m-%d %H:%M:%S %Z``.

    Args:
        moment: An aware datetime.
        zone: An IANA zone name; default: this process's local zone, as systemctl uses the caller's.

    Examples:
        >>> from datetime import datetime, timezone
        >>> format_timestamp(datetime(2024, 7, 24, 18, 32, 23, tzinfo=timezone.utc), "America/Chicago")
        'Wed 2024-07-24 13:32:23 CDT'
    """
    local = moment.astimezone() if zone is None else moment.astimezone(ZoneInfo(zone))
    # Not strftime: its %a follows LC_TIME (``Mi`` in a German locale, once an app calls
    # setlocale(LC_ALL, "")). systemd writes the weekday from a table of its own, so its output reads
    # the same in every locale (format_timestamp_style() in src/basic/time-util.c); so does this.
    return (
        f"{_WEEKDAYS[local.weekday()]} {local.year:04d}-{local.month:02d}-{local.day:02d} "
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d} {local.tzname() or ''}"
    )
