"""Paging: Rocket.Chat's offset and count, and the opaque cursor."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from service.domain.errors import InvalidQuery
from service.domain.pagination import Cursor, Page


def test_a_cursor_comes_back_as_it_went_out() -> None:
    cursor = Cursor(datetime(2026, 11, 29, 1, 2, 3, 456789, tzinfo=UTC), "65f0c0ffee0123456789abcd")
    encoded = cursor.encode()
    assert "=" not in encoded and encoded.isascii()
    assert Cursor.decode(encoded) == cursor
    assert Page.from_query({"cursor": encoded, "count": "5"}) == Page(0, 5, cursor)


def test_cursors_before_1970_round_trip() -> None:
    cursor = Cursor(datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC), "x")
    assert Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "%%%",
        "not-base64!",
        base64.urlsafe_b64encode(b"12:").decode(),
        base64.urlsafe_b64encode(b"12:a'b").decode(),
        base64.urlsafe_b64encode(b"1.5:abc").decode(),
        base64.urlsafe_b64encode("12:\u00e9".encode()).decode(),
        base64.urlsafe_b64encode(b"999999999999999999:abc").decode(),  # year 33,658
    ],
)
def test_anything_but_a_cursor_is_a_bad_query(raw: str) -> None:
    with pytest.raises(InvalidQuery, match="must be a cursor"):
        Cursor.decode(raw)


def test_offset_and_count_keep_rocket_chat_rules() -> None:
    assert Page.from_query({}) == Page(0, 50, None)
    assert Page.from_query({"count": "101", "offset": "7", "uid": "x"}) == Page(7, 100, None)
    with pytest.raises(InvalidQuery, match="additional properties"):
        Page.from_query({"sort": "name"})
