"""Paging of list endpoints: Rocket.Chat's ``offset``/``count``, and an opaque cursor.

An offset costs the database a walk over every skipped row; a cursor names the last
row seen, so any page is one index seek away. Both are accepted together: the offset
then counts from the cursor's position.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.domain.errors import InvalidQuery

DEFAULT_COUNT = 50
MAX_COUNT = 100
# uid: Rocket.Chat's, accepted and ignored.
LIST_QUERY_PARAMETERS = frozenset({"offset", "count", "uid", "cursor"})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"(-?\d{1,18}):([0-9A-Za-z]{1,24})")
BAD_CURSOR = "must be a cursor from a previous page: 'cursor'"


@dataclass(frozen=True, slots=True)
class Cursor:
    """The position just after one row of a newest-first list: its time and id."""

    created_at: datetime
    id: str

    def encode(self) -> str:
        """Return the opaque form given to clients as ``nextCursor``."""
        micros = (self.created_at - _EPOCH) // timedelta(microseconds=1)
        return base64.urlsafe_b64encode(f"{micros}:{self.id}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, raw: str) -> Cursor:
        """Read a cursor given back by a client; anything else is a bad query."""
        try:
            text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidQuery(BAD_CURSOR) from None
        match = _CURSOR.fullmatch(text)
        if match is None:
            raise InvalidQuery(BAD_CURSOR)
        try:
            created_at = _EPOCH + timedelta(microseconds=int(match[1]))
        except OverflowError:
            raise InvalidQuery(BAD_CURSOR) from None
        return cls(created_at, match[2])


@dataclass(frozen=True, slots=True)
class Page:
    """Which slice of a list to return."""

    offset: int = 0
    count: int = DEFAULT_COUNT
    after: Cursor | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Page:
        """Read ``offset``, ``count`` and ``cursor``; a count over 100 is capped (Rocket.Chat)."""
        if any(name not in LIST_QUERY_PARAMETERS for name in query):
            raise InvalidQuery("must NOT have additional properties")
        offset = _non_negative(query, "offset", 0)
        count = min(_non_negative(query, "count", DEFAULT_COUNT), MAX_COUNT)
        cursor = query.get("cursor")
        return cls(offset, count, None if cursor is None else Cursor.decode(cursor))


# Past PostgreSQL's bigint any offset is past the end anyway.
MAX_OFFSET = 2**62


def _non_negative(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit():
        raise InvalidQuery(f"must be a non-negative integer: '{name}'")
    # However many digits: a count is capped at 100 and an offset is past the end.
    return MAX_OFFSET if len(raw) > 18 else min(int(raw), MAX_OFFSET)
