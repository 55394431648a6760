from datetime import timedelta

import pytest

from service.domain.oauth2.authorization import check_authorization_request
from service.domain.oauth2.clients import Client, secrets_match
from service.domain.oauth2.errors import AuthorizeError, AuthorizeRefused
from service.domain.oauth2.pkce import PkceMode, s256_challenge, verify_pkce
from service.domain.oauth2.tokens import (
    ACCESS_TOKEN_LIFETIME,
    CODE_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
)

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
