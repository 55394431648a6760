"""Cached client authentication, across real API processes."""

from __future__ import annotations

import base64

import aiohttp

from tests.support.processes import Stack
from tests.support.waiting import eventually

CREATE = "/api/v1/oauth-apps.create"
BODY = {"name": "cached", "active": True, "redirectUri": "https://a.test/cb"}


def basic(app: dict[str, str]) -> dict[str, str]:
    raw = f"{app['clientId']}:{app['clientSecret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def test_a_rotated_secret_or_a_deactivated_app_stops_working_in_every_process(
    stack: Stack, admin: dict[str, str]
) -> None:
    first = await stack.serve("--no-relay")
    second = await stack.serve("--no-relay")
    async with aiohttp.ClientSession() as http:

        async def authenticates(base: str, app: dict[str, str]) -> bool:
            # Revoking an unknown token answers 200 to an authenticated client (RFC 7009).
            form = {"token": "unknown"}
            async with http.post(f"{base}/oauth/revoke", data=form, headers=basic(app)) as answer:
                assert answer.status in (200, 401)
                return answer.status == 200

        async with http.post(f"{first}{CREATE}", json=BODY, headers=admin) as created:
            app = (await created.json())["application"]
        # Both processes authenticate the client, and cache it.
        assert await authenticates(first, app) and await authenticates(second, app)
        async with http.post(
            f"{first}/api/v1/oauth-apps.rotateSecret", json={"appId": app["_id"]}, headers=admin
        ) as rotated:
            new = (await rotated.json())["application"]
        assert not await authenticates(first, app)  # at once where it changed

        async def old_secret_refused() -> bool:
            return not await authenticates(second, app)

        await eventually(old_secret_refused, timeout=2)  # elsewhere on the notification
        assert await authenticates(second, new)
        update = {"appId": app["_id"], "name": "cached", "active": False}
        async with http.post(
            f"{first}/api/v1/oauth-apps.update",
            json=update | {"redirectUri": BODY["redirectUri"]},
            headers=admin,
        ) as updated:
            assert updated.status == 200

        async def inactive_refused() -> bool:
            return not await authenticates(second, new)

        await eventually(inactive_refused, timeout=2)
