"""Health, readiness, metrics, OpenAPI, rate limiting and logs."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import asyncpg
import yarl
from aiohttp.test_utils import TestClient

from service.config import Settings
from tests.conftest import start_client
from tests.support.openapi import DOCUMENT, assert_documented
from tests.support.processes import free_port
from tests.support.tcpproxy import TcpProxy
from tests.support.waiting import eventually

Client = TestClient[Any, Any]
CREATE = "/api/v1/oauth-apps.create"
BODY = {"name": "ops", "active": True, "redirectUri": "https://a.test"}


async def test_health_and_ready(client: Client) -> None:
    assert await (await client.get("/health")).json() == {"status": "ok"}
    response = await client.get("/ready")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


async def test_ready_names_what_is_down(settings: Settings, db: asyncpg.Connection) -> None:
    url = settings.database_url
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    broken = dataclasses.replace(
        settings,
        database_url=url.set(port=proxy.port),
        amqp_url=f"amqp://guest:guest@127.0.0.1:{free_port()}/",
    )
    client = await start_client(broken)
    try:
        response = await client.get("/ready")
        body = await response.json()
        assert response.status == 503
        assert body["reason"] == "broker unreachable" and body["checks"]["database"] == "ok"
        await proxy.cut()

        async def both_down() -> bool:  # the answer may be cached for up to a second
            body = await (await client.get("/ready")).json()
            return bool(body.get("reason") == "broker and database unreachable")

        await eventually(both_down, timeout=5)
        assert (await client.get("/health")).status == 200  # liveness checks nothing
    finally:
        await client.close()


async def test_a_flood_of_ready_reuses_one_broker_connection(settings: Settings) -> None:
    url = yarl.URL(settings.amqp_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5672)
    await proxy.start()
    client = await start_client(
        dataclasses.replace(settings, amqp_url=str(url.with_port(proxy.port)))
    )
    try:
        for _ in range(5):
            responses = await asyncio.gather(*(client.get("/ready") for _ in range(200)))
            assert {response.status for response in responses} == {200}
        assert proxy.accepted == 1
    finally:
        await client.close()
        await proxy.close()


async def test_metrics(client: Client, admin: dict[str, str]) -> None:
    for _ in range(3):
        assert (await client.post(CREATE, json=BODY, headers=admin)).status == 200
    await client.get("/nowhere/at/all")
    text = await (await client.get("/metrics")).text()
    assert (
        'oauth_apps_http_requests_total{method="POST",route="/api/v1/oauth-apps.create",status="200"}'
        in text
    )
    assert 'oauth_apps_http_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert (
        'oauth_apps_http_request_duration_seconds_bucket{le="0.005",route="/api/v1/oauth-apps.create"}'
        in text
    )
    assert "oauth_apps_outbox_backlog 3.0" in text
    age = next(line for line in text.splitlines() if line.startswith("oauth_apps_outbox_oldest"))
    assert float(age.split()[1]) > 0
    assert "oauth_apps_db_pool_connections_in_use" in text


async def test_openapi_document_covers_every_route(client: Client) -> None:
    served = await (await client.get("/api/openapi.json")).json()
    assert served | {"servers": DOCUMENT["servers"]} == DOCUMENT and served["openapi"] == "3.1.0"
    assert client.app is not None
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {(method, path) for path, item in DOCUMENT["paths"].items() for method in item}
    assert routes == documented


async def test_openapi_document_names_the_public_url(
    settings: Settings, db: asyncpg.Connection
) -> None:
    client = await start_client(dataclasses.replace(settings, public_url="https://chat.example"))
    try:
        served = await (await client.get("/api/openapi.json")).json()
    finally:
        await client.close()
    assert served["servers"] == [{"url": "https://chat.example"}]


async def test_real_responses_match_the_document(
    client: Client, admin: dict[str, str], plain_user: dict[str, str]
) -> None:
    async def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await client.request(method, path, **kwargs)
        body = await response.json()
        assert_documented(method, path.split("?")[0], response.status, body)
        return body  # type: ignore[no-any-return]

    app = (await call("POST", CREATE, json=BODY, headers=admin))["application"]
    await call("POST", CREATE, json=BODY, headers=admin | {"Idempotency-Key": "k"})
    await call("POST", CREATE, json=BODY, headers=admin | {"Idempotency-Key": "k"})
    await call("POST", CREATE, json=BODY | {"name": "x"}, headers=admin | {"Idempotency-Key": "k"})
    await call("POST", CREATE, json={}, headers=admin)
    await call("POST", CREATE, json=BODY | {"name": " "}, headers=admin)
    await call("POST", CREATE, json=BODY)
    await call("POST", CREATE, json=BODY, headers=plain_user)
    await call("POST", CREATE, data=b"x", headers=admin | {"Content-Type": "text/plain"})
    await call("GET", "/api/v1/oauth-apps.list?count=5", headers=admin)
    await call("GET", "/api/v1/oauth-apps.list?bad=1", headers=admin)
    await call("GET", f"/api/v1/oauth-apps.get?_id={app['_id']}", headers=admin)
    await call("GET", "/api/v1/oauth-apps.get?_id=nope", headers=admin)
    await call("GET", "/api/v1/oauth-apps.get", headers=admin)
    change = {"appId": app["_id"], "name": "n", "active": False, "redirectUri": "https://b.test"}
    await call("POST", "/api/v1/oauth-apps.update", json=change, headers=admin)
    await call("POST", "/api/v1/oauth-apps.rotateSecret", json={"appId": app["_id"]}, headers=admin)
    await call("POST", "/api/v1/oauth-apps.delete", json={"appId": app["_id"]}, headers=admin)
    await call("POST", "/api/v1/oauth-apps.delete", json={"appId": app["_id"]}, headers=admin)
    await call("GET", "/api/v1/me", headers=admin)
    await call("POST", "/api/v1/login", json={"user": "math.bar", "password": "correct horse"})
    await call("POST", "/api/v1/login", json={"user": "math.bar", "password": "wrong"})
    await call("POST", "/api/v1/logout", headers=plain_user)
    await call("GET", "/health")
    await call("GET", "/ready")
    await call("GET", "/no/such/route")
    await call("DELETE", CREATE, headers=admin)


async def test_rate_limit_for_users_without_bypass(
    settings: Settings, admin: dict[str, str], plain_user: dict[str, str]
) -> None:
    client = await start_client(dataclasses.replace(settings, rate_limit_calls=3))
    try:
        for remaining in (2, 1, 0):
            response = await client.get("/api/v1/me", headers=plain_user)
            assert response.status == 200
            assert response.headers["X-RateLimit-Limit"] == "3"
            assert response.headers["X-RateLimit-Remaining"] == str(remaining)
        response = await client.get("/api/v1/me", headers=plain_user)
        assert response.status == 429
        body = await response.json()
        assert body["errorType"] == "error-too-many-requests"
        assert body["error"].startswith("Error, too many requests. Please slow down.")
        assert int(response.headers["Retry-After"]) >= 1
        assert int(response.headers["X-RateLimit-Reset"]) > 0
        # Per route: another route has its own budget; admins bypass the limiter.
        assert (await client.get("/api/v1/oauth-apps.get?_id=x", headers=plain_user)).status == 400
        for _ in range(5):
            response = await client.get("/api/v1/me", headers=admin)
            assert response.status == 200 and "X-RateLimit-Limit" not in response.headers
    finally:
        await client.close()
    client = await start_client(dataclasses.replace(settings, rate_limit_calls=0))
    try:
        for _ in range(15):
            assert (await client.get("/api/v1/me", headers=plain_user)).status == 200
    finally:
        await client.close()
