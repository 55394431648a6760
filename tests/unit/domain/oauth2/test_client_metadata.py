"""RFC 7591 client metadata: each field's refusals, defaults, and fields the server ignores."""

from __future__ import annotations

from typing import Any

import pytest

from service.domain.oauth2.client_metadata import (
    ClientMetadata,
    RegistrationRequest,
    check_registration,
)
from service.domain.oauth2.clients import ClientAuthMethod
from service.domain.oauth2.errors import InvalidClientMetadata, InvalidRedirectUri
from service.domain.redirect_uris import RedirectUriPolicy, web_url_problem

GRANT_TYPES = ("authorization_code", "refresh_token")
MINIMAL = {"client_name": "Shop", "redirect_uris": ["https://a.test/cb"]}


def check(
    policy: RedirectUriPolicy = RedirectUriPolicy.OAUTH2_1,
    pkce_by_default: bool = True,
    **fields: Any,
) -> RegistrationRequest:
    return check_registration(
        MINIMAL | fields, policy=policy, grant_types=GRANT_TYPES, pkce_by_default=pkce_by_default
    )


def test_omitted_and_null_fields_take_their_defaults() -> None:
    assert check().metadata == ClientMetadata(require_pkce=True)
    nulls = {name: None for name in ClientMetadata().to_document()}
    assert check(**nulls).metadata == ClientMetadata(require_pkce=True)
    assert check(pkce_by_default=False).metadata.require_pkce is False


def test_unknown_fields_are_ignored() -> None:
    checked = check(application_type="native", software_id="x", jwks={"keys": []})
    assert checked.metadata == ClientMetadata(require_pkce=True)


def test_a_full_document_is_kept() -> None:
    checked = check(
        redirect_uris=["https://a.test/cb", "http://127.0.0.1:8080/cb"],
        grant_types=["authorization_code"],
        response_types=["code"],
        token_endpoint_auth_method="client_secret_post",
        scope="openid email",
        require_pkce=False,
        access_token_lifetime=600.0,  # JSON.parse's numbers are floats
        refresh_token_lifetime=86_400,
        post_logout_redirect_uris=["https://a.test/bye"],
        logo_uri="https://cdn.a.test/logo.png",
        client_uri="https://a.test",
        policy_uri="https://a.test/privacy#cookies",
        tos_uri="https://a.test/terms",
        contacts=["ops@a.test"],
    )
    assert checked.redirect_uri == "https://a.test/cb,http://127.0.0.1:8080/cb"
    metadata = checked.metadata
    assert metadata.token_endpoint_auth_method is ClientAuthMethod.CLIENT_SECRET_POST
    assert metadata.scope == {"openid", "email"}
    assert (metadata.access_token_lifetime, metadata.refresh_token_lifetime) == (600, 86_400)
    assert isinstance(metadata.access_token_lifetime, int)
    assert ClientMetadata.from_document(metadata.to_document()) == metadata


def test_an_app_from_before_metadata_follows_the_server_s_pkce_setting() -> None:
    assert ClientMetadata.from_document({}) == ClientMetadata()
    assert ClientMetadata.from_document({}).require_pkce is None


def test_without_the_code_grant_there_is_no_code_response_type() -> None:
    assert check(grant_types=["refresh_token"]).metadata.response_types == ()


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"grant_types": "authorization_code"}, "grant_types must be an array of strings"),
        ({"grant_types": []}, "at least one grant type"),
        ({"grant_types": ["client_credentials"]}, "'client_credentials' is not supported"),
        ({"grant_types": ["password"]}, "'password' is not supported"),
        ({"response_types": ["code", "id_token"]}, "'id_token' is not supported"),
        ({"response_types": []}, "exactly when grant_types has authorization_code"),
        (
            {"grant_types": ["refresh_token"], "response_types": ["code"]},
            "exactly when grant_types has authorization_code",
        ),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "'private_key_jwt' is not supported"),
        ({"token_endpoint_auth_method": 1}, "must be a string"),
        ({"scope": ""}, "at least one scope"),
        ({"scope": "openid admin"}, "'admin' is not known"),
        ({"scope": ["openid"]}, "scope must be a string"),
        ({"require_pkce": "false"}, "require_pkce must be true or false"),
        ({"require_pkce": 0.0}, "require_pkce must be true or false"),
        ({"access_token_lifetime": 59}, "from 60 to 86400"),
        ({"access_token_lifetime": 86_401}, "from 60 to 86400"),
        ({"access_token_lifetime": True}, "whole number"),
        ({"access_token_lifetime": "600"}, "whole number"),
        ({"access_token_lifetime": float("inf")}, "whole number"),
        ({"refresh_token_lifetime": 600.5}, "whole number"),
        ({"refresh_token_lifetime": -1}, "refresh_token_lifetime"),
        ({"logo_uri": "http://cdn.test/l.png"}, "must use https unless"),
        ({"logo_uri": "data:image/png;base64,AAAA"}, "must not use the data: scheme"),
        ({"logo_uri": "ftp://cdn.test/l.png"}, "must be an https URL"),
        ({"logo_uri": "/logo.png"}, "is not an absolute URI"),
        ({"client_uri": "https://user@a.test/"}, "must not contain userinfo"),
        ({"policy_uri": "https://[::1/p"}, "is not a well-formed URI"),
        ({"tos_uri": "https://a.test/" + "t" * 2000}, "longer than 2000"),
        ({"tos_uri": "https://a.test/\x00"}, "NUL"),
        ({"tos_uri": 7}, "tos_uri must be a string"),
        ({"contacts": "ops@a.test"}, "contacts must be an array of strings"),
        ({"contacts": [""]}, "printable text"),
        ({"contacts": ["a\nb"]}, "printable text"),
        ({"contacts": ["x" * 255]}, "printable text"),
        ({"contacts": [f"{n}@a.test" for n in range(11)]}, "more than 10"),
        ({"post_logout_redirect_uris": ["foo"]}, "'foo' is not an absolute URI"),
        ({"post_logout_redirect_uris": ["http://a.test/bye"]}, "must use https"),
        ({"post_logout_redirect_uris": [1]}, "must be an array of strings"),
        ({"client_name": None}, "client_name is required"),
        ({"client_name": " \u00a0"}, "client_name is required"),
        ({"client_name": "x" * 201}, "client_name is longer than 200 characters"),
        ({"client_name": 5}, "client_name must be a string"),
        ({"client_id": 5}, "client_id must be a string"),
    ],
)
def test_known_fields_with_unsupported_values_are_invalid_client_metadata(
    fields: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidClientMetadata) as refused:
        check(**fields)
    assert words in refused.value.message
    assert refused.value.error == "invalid_client_metadata"


@pytest.mark.parametrize(
    ("uris", "words"),
    [
        (None, "at least one URI"),
        ([], "at least one URI"),
        ("https://a.test/cb", "must be an array of strings"),
        ([""], "must not contain an empty URI"),
        (["https://a.test/a,b"], "must not contain a comma"),
        (["https://a.test/a\nb"], "must not contain a comma"),
        (["foo"], "'foo' is not an absolute URI"),
        (["https://a.test/#f"], "must not contain a fragment"),
        (["http://a.test/cb"], "must use https unless its host is a loopback address"),
        (["javascript:alert(1)"], "must not use the javascript: scheme"),
        ([f"https://a.test/{n}" for n in range(11)], "more than 10 URIs"),
        (["https://a.test/" + "x" * 2000], "URI 1 is longer than 2000 characters"),
        (["https://a.test/\x00"], "NUL"),
    ],
)
def test_redirect_uris_follow_the_policy_and_limits_of_oauth_apps_create(
    uris: Any, words: str
) -> None:
    with pytest.raises(InvalidRedirectUri) as refused:
        check(redirect_uris=uris)
    assert words in refused.value.message
    assert refused.value.error == "invalid_redirect_uri"


def test_the_policy_none_stores_any_redirect_uri_but_never_a_dangerous_logout_target() -> None:
    none = RedirectUriPolicy.NONE
    assert check(none, redirect_uris=["foo"]).redirect_uri == "foo"
    with pytest.raises(InvalidClientMetadata, match="javascript: scheme"):
        check(none, post_logout_redirect_uris=["javascript:alert(1)"])


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidClientMetadata, match="JSON object"):
        check_registration(
            ["x"], policy=RedirectUriPolicy.RFC6749, grant_types=GRANT_TYPES, pkce_by_default=True
        )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://a.test/logo.png", None),
        ("https://bücher.test/logo.png", None),
        ("http://127.0.0.1:8000/logo.png", None),
        ("http://localhost/logo.png", None),
        ("https://a.test/p#section", None),
        ("http://a.test/logo.png", "must use https unless its host is a loopback address"),
        ("https:///logo.png", "has no host"),
        ("com.example.app:/logo", "must be an https URL"),
        ("https://a.test/a b", "must not contain whitespace or control characters"),
        ("https://a.test\\@evil.test/", "must not contain a backslash"),
    ],
)
def test_web_urls(url: str, problem: str | None) -> None:
    assert web_url_problem(url) == problem


def test_a_public_client_is_accepted_but_not_for_client_credentials() -> None:
    public = check(token_endpoint_auth_method="none", require_pkce=False)
    assert public.metadata.token_endpoint_auth_method is ClientAuthMethod.NONE
    with pytest.raises(InvalidClientMetadata) as refused:
        check_registration(
            MINIMAL | {"token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]},
            policy=RedirectUriPolicy.OAUTH2_1,
            grant_types=(*GRANT_TYPES, "client_credentials"),
            pkce_by_default=True,
        )
    assert "needs a confidential client" in refused.value.message


def test_a_public_client_may_register_loopback_and_private_use_redirects() -> None:
    uris = ["http://127.0.0.1/cb", "http://[::1]/cb", "com.example.app:/cb"]
    checked = check(token_endpoint_auth_method="none", redirect_uris=uris)
    assert checked.redirect_uri == ",".join(uris)
