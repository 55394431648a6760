from datetime import UTC, datetime, timedelta, timezone

import pytest

from service.domain.errors import RuleViolation
from service.domain.oauth_apps import check_app_fields
from service.domain.redirect_uris import RedirectUriPolicy
from service.domain.timestamps import format_timestamp

RFC = RedirectUriPolicy.RFC6749


def check(name: str = "app", uri: str = "https://a.test", policy: RedirectUriPolicy = RFC):
    return check_app_fields(
        {"name": name, "active": True, "redirectUri": uri}, policy, "addOAuthApp"
    )


def violation(**kwargs: object) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        check(**kwargs)  # type: ignore[arg-type]
    assert caught.value.method == "addOAuthApp"
    return caught.value


@pytest.mark.parametrize("name", ["", " ", "\t\n", "\u00a0", "\u3000", "\ufeff", "\u2028"])
def test_blank_name(name: str) -> None:
    error = violation(name=name)
    assert (error.error_type, error.message) == ("error-invalid-name", "Invalid name")


@pytest.mark.parametrize("name", ["\u001c", "\u001f", "\u0085", "\u200b"])
def test_name_that_python_would_strip_but_javascript_keeps(name: str) -> None:
    assert check(name=name).name == name


def test_name_is_never_trimmed() -> None:
    assert check(name="  spaced  ").name == "  spaced  "


@pytest.mark.parametrize("uri", ["", "  ", "\u00a0"])
def test_blank_redirect_uri(uri: str) -> None:
    error = violation(uri=uri)
    assert (error.error_type, error.message) == ("error-invalid-redirectUri", "Invalid redirectUri")


@pytest.mark.parametrize("uri", [",", " , \n ,", "\n"])
def test_redirect_list_with_nothing_left(uri: str) -> None:
    assert violation(uri=uri).message == "Invalid redirectUri"


def test_blank_name_is_reported_before_blank_uri() -> None:
    assert violation(name=" ", uri=" ").error_type == "error-invalid-name"


def test_redirect_list_is_normalised() -> None:
    assert (
        check(uri=" https://a.test ,\nhttps://b.test\n").redirect_uri
        == "https://a.test,https://b.test"
    )


def test_policy_message_names_the_uri() -> None:
    assert violation(uri="foo").message == "Invalid redirectUri: 'foo' is not an absolute URI"
    assert (
        violation(uri="https://a.test,bar").message
        == "Invalid redirectUri: 'bar' is not an absolute URI"
    )


def test_policy_none_accepts_anything_non_blank() -> None:
    assert check(uri="foo#bar", policy=RedirectUriPolicy.NONE).redirect_uri == "foo#bar"


def test_bounds() -> None:
    assert check(name="n" * 200).name == "n" * 200
    assert "longer than 200" in violation(name="n" * 201).message
    ten = ",".join(f"https://a.test/{i}" for i in range(10))
    assert check(uri=ten).redirect_uri == ten
    assert "more than 10 URIs" in violation(uri=ten + ",https://b.test").message
    long_uri = "https://a.test/" + "p" * 1985
    assert check(uri=long_uri).redirect_uri == long_uri
    assert "URI 1 is longer than 2000" in violation(uri=long_uri + "p").message


@pytest.mark.parametrize(
    ("kwargs", "error_type"),
    [
        ({"name": "a\x00b"}, "error-invalid-name"),
        ({"uri": "https://a.test/\x00"}, "error-invalid-redirectUri"),
        ({"name": "a\ud800"}, "error-invalid-name"),
    ],
)
def test_unstorable_text(kwargs: dict[str, str], error_type: str) -> None:
    assert violation(**kwargs).error_type == error_type


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 1, 17, 13, 30, 41, 521000, UTC), "2024-01-17T13:30:41.521Z"),
        (datetime(2024, 1, 17, 13, 30, 41, 999999, UTC), "2024-01-17T13:30:41.999Z"),
        (datetime(2024, 1, 17, 13, 30, 41, tzinfo=UTC), "2024-01-17T13:30:41.000Z"),
        (
            datetime(2024, 1, 1, 1, 0, 0, 5000, timezone(timedelta(hours=2))),
            "2023-12-31T23:00:00.005Z",
        ),
        (datetime(999, 1, 1, tzinfo=UTC), "0999-01-01T00:00:00.000Z"),
    ],
)
def test_timestamps_look_like_javascript_to_json(moment: datetime, expected: str) -> None:
    assert format_timestamp(moment) == expected
