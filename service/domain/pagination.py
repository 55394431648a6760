"""Rocket.Chat's ``offset``/``count`` paging of list endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.domain.errors import InvalidQuery

DEFAULT_COUNT = 50
MAX_COUNT = 100
LIST_QUERY_PARAMETERS = frozenset({"offset", "count", "uid"})  # uid: accepted, ignored


@dataclass(frozen=True, slots=True)
class Page:
    """Which slice of a list to return."""

    offset: int = 0
    count: int = DEFAULT_COUNT

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Page:
        """Read ``offset`` and ``count``; a count over 100 is capped, like Rocket.Chat's."""
        if any(name not in LIST_QUERY_PARAMETERS for name in query):
            raise InvalidQuery("must NOT have additional properties")
        offset = _non_negative(query, "offset", 0)
        count = min(_non_negative(query, "count", DEFAULT_COUNT), MAX_COUNT)
        return cls(offset, count)


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
