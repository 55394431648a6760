"""What text PostgreSQL can hold: no NUL character, no lone surrogate."""

from __future__ import annotations


def text_problem(value: str) -> str | None:
    """Return why ``value`` cannot be stored, or None when it can."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (lone surrogate)"
    return None


def storable(value: str) -> bool:
    """Tell whether ``value`` can be stored or compared in the database."""
    return text_problem(value) is None
