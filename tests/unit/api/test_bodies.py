import math

import pytest

from service.api.bodies import parse_form, parse_json
from service.domain.errors import InvalidParams


def test_numbers_are_doubles_like_json_parse() -> None:
    body = parse_json(b'{"a": 1, "b": 10000000000000000000000, "c": 1e400, "d": -0}')
    assert body == {"a": 1.0, "b": 1e22, "c": math.inf, "d": 0.0}
    assert all(isinstance(v, float) for v in body.values())  # type: ignore[union-attr]


def test_empty_body_is_an_empty_object() -> None:
    assert parse_json(b"") == {}
    assert parse_json(b"  \n") == {}


def test_byte_order_mark_is_skipped() -> None:
    assert parse_json(b'\xef\xbb\xbf{"a": 1}') == {"a": 1.0}


def test_duplicate_keys_last_wins_like_javascript() -> None:
    assert parse_json(b'{"a": 1, "a": 2}') == {"a": 2.0}


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"a": NaN}',
        b"Infinity",
        b"[1,]",
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,
        b"'a'",
    ],
)
def test_unparseable_json_is_invalid_params(raw: bytes) -> None:
    with pytest.raises(InvalidParams) as caught:
        parse_json(raw)
    assert caught.value.message.startswith("The request body could not be parsed as JSON")


def test_form_fields_and_repeats() -> None:
    assert parse_form(b"name=a+b&active=true&redirectUri=https%3A%2F%2Fx") == {
        "name": "a b",
        "active": "true",
        "redirectUri": "https://x",
    }
    assert parse_form(b"name=a&name=b&name=c") == {"name": ["a", "b", "c"]}
    assert parse_form(b"name=") == {"name": ""}


def test_form_with_invalid_utf8_is_invalid_params() -> None:
    with pytest.raises(InvalidParams) as caught:
        parse_form(b"name=%ff")
    assert caught.value.message.startswith("The request body could not be parsed as a form")
