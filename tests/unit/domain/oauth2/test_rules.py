import dataclasses
from datetime import timedelta

import pytest

from service.domain.oauth2.authorization import check_authorization_request
from service.domain.oauth2.clients import PUBLIC_AUTH_METHODS, Client, secrets_match
from service.domain.oauth2.errors import AuthorizeError, AuthorizeRefused
from service.domain.oauth2.origins import BrowserOrigins
from service.domain.oauth2.pkce import PkceMode, s256_challenge, verify_pkce
from service.domain.oauth2.tokens import (
    ACCESS_TOKEN_LIFETIME,
    CODE_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
)
from service.domain.redirect_uris import web_origin

# RFC 7636, Appendix B.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_s256_matches_rfc_7636_appendix_b() -> None:
    assert s256_challenge(VERIFIER) == CHALLENGE
    assert verify_pkce(CHALLENGE, VERIFIER)
    assert not verify_pkce(CHALLENGE, VERIFIER[:-1] + "Y")
    assert not verify_pkce(CHALLENGE, None)
    assert not verify_pkce(CHALLENGE, "short")  # under 43 characters
    assert verify_pkce(None, None) and not verify_pkce(None, VERIFIER)


def test_secrets_are_compared_in_constant_time_by_hash() -> None:
    assert secrets_match("a" * 44, "a" * 44)
    assert not secrets_match("a" * 44, "b" * 44)


def test_lifetimes_are_rocket_chats() -> None:
    assert timedelta(seconds=300) == CODE_LIFETIME
    assert timedelta(seconds=3600) == ACCESS_TOKEN_LIFETIME
    assert timedelta(days=14) == REFRESH_TOKEN_LIFETIME


def choose_redirect_uri(registered: list[str], requested: str | None) -> str:
    client = Client("a1", "client", "app", tuple(registered), True, "h" * 44)
    return client.redirect_uri_for(requested)


def test_redirect_uris_match_by_string_equality_with_the_single_uri_default() -> None:
    assert choose_redirect_uri(["https://a.test/cb"], None) == "https://a.test/cb"
    assert choose_redirect_uri(["https://a.test/cb", "https://b.test"], "https://b.test")
    for requested in ("https://a.test/cb/", "https://A.test/cb", "https://a.test/cb?x=1"):
        with pytest.raises(AuthorizeRefused):
            choose_redirect_uri(["https://a.test/cb"], requested)
    with pytest.raises(AuthorizeRefused):
        choose_redirect_uri(["https://a.test/cb", "https://b.test"], None)


@pytest.mark.parametrize(
    ("response_type", "challenge", "method", "mode", "error"),
    [
        ("token", CHALLENGE, "S256", PkceMode.REQUIRED, "unsupported_response_type"),
        ("code", None, None, PkceMode.REQUIRED, "invalid_request"),
        ("code", CHALLENGE, "plain", PkceMode.OPTIONAL, "invalid_request"),
        ("code", None, "S256", PkceMode.OPTIONAL, "invalid_request"),
        ("code", "not-a-challenge", "S256", PkceMode.REQUIRED, "invalid_request"),
    ],
)
def test_authorization_request_errors(
    response_type: str, challenge: str | None, method: str | None, mode: PkceMode, error: str
) -> None:
    with pytest.raises(AuthorizeError) as caught:
        check_authorization_request(
            response_type=response_type,
            code_challenge=challenge,
            code_challenge_method=method,
            pkce_required=mode is PkceMode.REQUIRED,
        )
    assert caught.value.error == error


def test_pkce_may_be_omitted_only_when_optional() -> None:
    check_authorization_request(
        response_type="code",
        code_challenge=None,
        code_challenge_method=None,
        pkce_required=False,
    )


def test_a_public_clients_loopback_ip_redirects_match_on_any_port() -> None:
    registered = ("http://127.0.0.1/cb", "http://[::1]:8080/cb?x=1", "http://localhost/cb")
    public = Client("a1", "spa", "app", registered, True, "", auth_methods=PUBLIC_AUTH_METHODS)
    confidential = Client("a1", "client", "app", registered, True, "h" * 44)
    for requested in ("http://127.0.0.1:49152/cb", "http://[::1]/cb?x=1", "http://[::1]:1/cb?x=1"):
        assert public.redirect_uri_for(requested) == requested
        with pytest.raises(AuthorizeRefused):
            confidential.redirect_uri_for(requested)
    for requested in (
        "http://127.0.0.1:49152/cb/other",  # only the port may differ
        "http://[::1]:1/cb",
        "http://127.0.0.1:49152/cb?x=1",
        "http://localhost:49152/cb",  # a name, not a loopback IP (RFC 8252 section 8.3)
        "https://127.0.0.1:49152/cb",
        "http://user@127.0.0.1:49152/cb",
        "http://[::1]:49152/cb",
    ):
        with pytest.raises(AuthorizeRefused):
            public.redirect_uri_for(requested)


def test_a_public_client_always_needs_pkce() -> None:
    public = Client(
        "a1", "spa", "app", ("https://a.test",), True, "", auth_methods=PUBLIC_AUTH_METHODS
    )
    confidential = Client("a1", "c", "app", ("https://a.test",), True, "h" * 44)
    assert public.is_public and not confidential.is_public
    for require_pkce in (None, False):
        assert dataclasses.replace(public, require_pkce=require_pkce).pkce_required(
            PkceMode.OPTIONAL
        )
    assert not dataclasses.replace(confidential, require_pkce=False).pkce_required(
        PkceMode.REQUIRED
    )


def test_browser_origins_are_those_of_redirect_uris() -> None:
    origins = BrowserOrigins.of(
        ["https://spa.test:443/cb", "http://127.0.0.1/cb", "com.example.app:/cb", "http://x:8/"]
    )
    assert origins.allow("https://spa.test") and origins.allow("http://x:8")
    assert origins.allow("http://127.0.0.1:5000") and origins.allow("http://127.0.0.1")
    for other in ("https://spa.test:443", "https://spa.test/cb", "http://[::1]:5000", "null", ""):
        assert not origins.allow(other)
    assert str(web_origin("HTTPS://Spa.TEST:8443/x")) == "https://spa.test:8443"
    assert web_origin("com.example.app:/cb") is None
