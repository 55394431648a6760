import pytest

from service.domain.redirect_uris import RedirectUriPolicy, parse_uri_list, policy_problem


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("https://a.test", "https://a.test"),
        ("  https://a.test  ", "  https://a.test  "),  # no separator: kept exactly
        ("https://a.test, https://b.test", "https://a.test,https://b.test"),
        ("https://a.test\nhttps://b.test", "https://a.test,https://b.test"),
        ("https://a.test\r\nhttps://b.test", "https://a.test,https://b.test"),
        (",, https://a.test ,\n\n", "https://a.test"),
        (", ,\n", ""),
        ("\u00a0a\u00a0,\u001fb", "a,\u001fb"),  # parts trimmed with JavaScript's trim
    ],
)
def test_parse_uri_list(raw: str, parsed: str) -> None:
    assert parse_uri_list(raw) == parsed


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("https://a.test/cb", None),
        ("http://a.test/cb", None),
        ("com.example.app:/callback", None),
        ("urn:ietf:wg:oauth:2.0:oob", None),
        ("foo", "is not an absolute URI"),
        ("/relative/path", "is not an absolute URI"),
        ("//a.test/cb", "is not an absolute URI"),
        ("1http://a.test", "is not an absolute URI"),
        ("https://a.test/cb#frag", "must not contain a fragment"),
        ("https://a.test/cb#", "must not contain a fragment"),
    ],
)
def test_rfc6749(uri: str, problem: str | None) -> None:
    assert policy_problem(uri, RedirectUriPolicy.RFC6749) == problem


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("https://a.test/cb", None),
        ("http://127.0.0.1:8080/cb", None),
        ("http://[::1]/cb", None),
        ("http://localhost/cb", None),
        ("com.example.app:/callback", None),
        ("http://a.test/cb", "must use https unless its host is a loopback address"),
        ("HTTP://a.test/cb", "must use https unless its host is a loopback address"),
        ("https://user@a.test/cb", "must not contain userinfo"),
        ("https://*.a.test/cb", "must not contain a wildcard"),
        ("https://a.test/cb#x", "must not contain a fragment"),
        ("foo", "is not an absolute URI"),
        ("https://[::1/cb", "is not a well-formed URI"),
    ],
)
def test_oauth21(uri: str, problem: str | None) -> None:
    assert policy_problem(uri, RedirectUriPolicy.OAUTH2_1) == problem


@pytest.mark.parametrize("uri", ["foo", "a#b", "", " x "])
def test_none_checks_nothing(uri: str) -> None:
    assert policy_problem(uri, RedirectUriPolicy.NONE) is None
