import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.redirect_uris import (
    RedirectUriPolicy,
    csp_origin,
    has_dangerous_scheme,
    parse_uri_list,
    policy_problem,
)


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


WHITESPACE = "must not contain whitespace or control characters"
NOT_WELL_FORMED = "is not a well-formed URI"
BAD_HOST = "has a host that is not a domain name or an IP address"
BAD_PORT = "has a port that is not a number from 0 to 65535"
HOSTILE = [
    ("javascript:alert(1)", "must not use the javascript: scheme"),
    ("JavaScript:alert(document.cookie)//", "must not use the javascript: scheme"),
    ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg", "must not use the data: scheme"),
    ("vbscript:msgbox(1)", "must not use the vbscript: scheme"),
    ("file:///etc/passwd", "must not use the file: scheme"),
    ("Set-Cookie: x=1", WHITESPACE),  # what a newline inside a value becomes once split
    ("https://a.test/cb\rSet-Cookie: x=1", WHITESPACE),
    ("https://a.test/c\tb", WHITESPACE),
    ("https://a.test/cb\x7f", WHITESPACE),
    ("https://a.test/cb\u0085", WHITESPACE),
    ("https://a.test/cb\u200b", WHITESPACE),
    ("https://a.test/cb\u202e", WHITESPACE),
    ("https://exa mple.test/cb", WHITESPACE),
    ("https://a\u2028b.test/cb", WHITESPACE),
    ("https://a.test/cb; script-src 'unsafe-inline' *", WHITESPACE),
    ("https://[::1/cb", NOT_WELL_FORMED),
    ("https://a.test:abc/cb", NOT_WELL_FORMED),
    ("https://a.test:+80/cb", NOT_WELL_FORMED),
    ("https://a.test:\uff18\uff10/cb", NOT_WELL_FORMED),  # fullwidth digits are not DIGIT
    ("https://a.test:99999/cb", BAD_PORT),
    ("https://[::1]:65536/cb", BAD_PORT),
    ("https://a.test;script-src/cb", BAD_HOST),
    ("https://ex%41mple.test/cb", BAD_HOST),
    ("https://999.1.1.1/cb", NOT_WELL_FORMED),
    ("https://1.2.3.4.5/cb", BAD_HOST),
    ("https://010.0.0.1/cb", BAD_HOST),  # a browser reads it as octal: 8.0.0.1
    ("https://a.0x1/cb", BAD_HOST),
    ("https://a\\b.test/cb", "must not contain a backslash"),
    ("https://xn--zz.test/cb", BAD_HOST),
    ("https://[fe80::1%25eth0]/cb", BAD_HOST),
    ("https://[v1.x]/cb", BAD_HOST),
    ("https://a..test/cb", BAD_HOST),
    ("https:///cb", "has no host"),
]


@pytest.mark.parametrize("policy", [RedirectUriPolicy.RFC6749, RedirectUriPolicy.OAUTH2_1])
@pytest.mark.parametrize(("uri", "problem"), HOSTILE)
def test_hostile_uris_are_refused(uri: str, problem: str, policy: RedirectUriPolicy) -> None:
    assert policy_problem(uri, policy) == problem


@pytest.mark.parametrize(
    "uri",
    [
        "https://bücher.test/cb",
        "https://xn--bcher-kva.test/cb",
        "https://a_b.test/cb",
        "https://a.test./cb",
        "https://a.test:/cb",
        "https://a.test:443/cb",
        "https://203.0.113.7/cb",
        "https://[2001:db8::1]:8443/cb",
        "https://a.test/cb?x={y}",
        "myapp://callback/x",
        "myapp:///callback",
    ],
)
@pytest.mark.parametrize("policy", [RedirectUriPolicy.RFC6749, RedirectUriPolicy.OAUTH2_1])
def test_unusual_but_sound_uris_are_accepted(uri: str, policy: RedirectUriPolicy) -> None:
    assert policy_problem(uri, policy) is None


def test_userinfo_is_still_accepted_under_rfc6749() -> None:
    assert policy_problem("https://user:pw@a.test/cb", RedirectUriPolicy.RFC6749) is None


@pytest.mark.parametrize("uri", ["javascript:alert(1)", "Set-Cookie: x=1", "https://[::1/cb"])
def test_none_still_checks_nothing(uri: str) -> None:
    assert policy_problem(uri, RedirectUriPolicy.NONE) is None


@pytest.mark.parametrize(
    ("uri", "origin"),
    [
        ("https://a.test/cb?x=1", "https://a.test"),
        ("HTTPS://A.Test:8443/cb", "https://a.test:8443"),
        ("https://a.test:0443/cb", "https://a.test:443"),
        ("https://a.test:/cb", "https://a.test"),
        ("https://user:pw@a.test/cb", "https://a.test"),
        ("https://bücher.test/cb", "https://xn--bcher-kva.test"),
        ("https://BÜCHER.test/cb", "https://xn--bcher-kva.test"),
        ("http://[::1]:8080/cb", "http://[::1]:8080"),
        ("http://[2001:DB8::1]/cb", "http://[2001:db8::1]"),
        ("http://127.0.0.1:3000/cb", "http://127.0.0.1:3000"),
        ("https://a.test/cb;script-src'unsafe-inline'", "https://a.test"),
        ("myapp://callback/x", "myapp://callback"),
        ("com.example.app:/callback", None),
        ("urn:ietf:wg:oauth:2.0:oob", None),
        ("myapp:///callback", None),
    ],
)
def test_csp_origin(uri: str, origin: str | None) -> None:
    assert csp_origin(uri) == origin


@pytest.mark.parametrize(("uri", "_problem"), HOSTILE)
def test_csp_origin_of_a_hostile_uri_is_none(uri: str, _problem: str) -> None:
    assert csp_origin(uri) is None


@pytest.mark.parametrize(
    "uri",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        " javascript:alert(1)",
        "\x00javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html,x",
        "vbscript:x",
        "file:///etc/passwd",
        "File://host/share",
    ],
)
def test_dangerous_schemes_as_a_browser_reads_them(uri: str) -> None:
    assert has_dangerous_scheme(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "https://a.test/javascript:alert(1)",
        "com.example.app:/cb",
        "/relative?next=javascript:x",
        "javascripts:x",
        "",
    ],
)
def test_other_schemes_are_not_dangerous(uri: str) -> None:
    assert not has_dangerous_scheme(uri)


URI_PIECES = st.sampled_from(
    [
        *("https:", "http:", "myapp:", "//", "/", "[", "]", ":", "@", ".", "%", "0", "8", "a"),
        *("ü", "xn--", "::1", ";", ",", "'", "*", " ", "\u2028", "?", "#", "\\", "\uff0e", "0x"),
    ]
)


@given(st.lists(URI_PIECES | st.text(max_size=3), max_size=12).map("".join))
@settings(max_examples=500)
def test_any_uri_gets_an_answer_and_at_most_a_safe_origin(uri: str) -> None:
    for policy in (RedirectUriPolicy.RFC6749, RedirectUriPolicy.OAUTH2_1):
        assert isinstance(policy_problem(uri, policy) or "", str)
    origin = csp_origin(uri)
    assert origin is None or re.fullmatch(r"[a-z][a-z0-9+.-]*://[a-z0-9_.\-\[\]:]+", origin)
