"""The OpenAPI document refuses the OAuth requests that the server refuses as malformed."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import jsonschema
import pytest
from aiohttp.test_utils import TestClient

from tests.integration.api.test_oauth2 import basic
from tests.support.openapi import DOCUMENT

Client = TestClient[Any, Any]
FORM = "application/x-www-form-urlencoded"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def documented(schema: dict[str, Any], value: object) -> bool:
    try:
        jsonschema.Draft202012Validator(DOCUMENT | schema).validate(value)
    except jsonschema.ValidationError:
        return False
    return True


def form_schema(path: str) -> dict[str, Any]:
    schema: dict[str, Any] = DOCUMENT["paths"][path]["post"]["requestBody"]["content"][FORM][
        "schema"
    ]
    return schema


def query_is_documented(query: dict[str, str]) -> bool:
    parameters = DOCUMENT["paths"]["/oauth/authorize"]["get"]["parameters"]
    for parameter in parameters:
        if parameter["name"] not in query:
            if parameter.get("required"):
                return False
        elif not documented(parameter["schema"], query[parameter["name"]]):
            return False
    return True


@pytest.fixture
async def app(client: Client, admin: dict[str, str], db: asyncpg.Connection) -> dict[str, Any]:
    body = {"name": "docs", "active": True, "redirectUri": "https://a.test/cb"}
    response = await client.post("/api/v1/oauth-apps.create", json=body, headers=admin)
    created: dict[str, Any] = (await response.json())["application"]
    return created


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/oauth/token", "grant_type=authorization_code"),
        ("/oauth/token", "grant_type=authorization_code&code="),
        ("/oauth/token", "grant_type=refresh_token"),
        ("/oauth/token", "grant_type=refresh_token&refresh_token="),
        ("/oauth/revoke", "token="),
        ("/oauth/introspect", "token="),
    ],
)
async def test_form_the_server_calls_invalid_is_not_documented(
    client: Client, app: dict[str, Any], path: str, body: str
) -> None:
    response = await client.post(path, data=body, headers=basic(app) | {"Content-Type": FORM})
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_request"
    assert not documented(form_schema(path), dict(parse_qsl(body, keep_blank_values=True)))


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/oauth/token", {"grant_type": "refresh_token", "refresh_token": "x"}),
        ("/oauth/revoke", {"token": "x"}),
        ("/oauth/introspect", {"token": "x"}),
    ],
)
def test_well_formed_forms_are_documented(path: str, body: dict[str, str]) -> None:
    assert documented(form_schema(path), body)


@pytest.mark.parametrize("missing", ["client_id", "response_type"])
async def test_authorize_without_a_required_parameter_is_not_documented(
    client: Client, app: dict[str, Any], missing: str
) -> None:
    query = {
        "response_type": "code",
        "client_id": app["clientId"],
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    assert query_is_documented(query)
    del query[missing]
    response = await client.get("/oauth/authorize", params=query, allow_redirects=False)
    refused_by_redirect = "error=" in response.headers.get("Location", "")
    assert response.status == 400 or refused_by_redirect
    assert not query_is_documented(query)
    assert not query_is_documented(query | {missing: ""})
