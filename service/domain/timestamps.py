"""Time as Rocket.Chat shows it: UTC, millisecond precision, ``Date.prototype.toJSON()``."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Return the current UTC time at JavaScript's millisecond precision."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_timestamp(moment: datetime) -> str:
    """Return ``Date.prototype.toJSON()``'s form: UTC, three fraction digits, ``Z``."""
    # isoformat is C code and pads the year to four digits, as toJSON does; every
    # create formats five timestamps, and strftime took 5% of an API worker's CPU.
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"
