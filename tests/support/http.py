"""Creating apps over real HTTP, as a client of a running ``serve`` would."""

from __future__ import annotations

from typing import Any

import aiohttp

CREATE = "/api/v1/oauth-apps.create"


async def create_over_http(
    base: str,
    headers: dict[str, str],
    count: int,
    *,
    redirect_uri: str = "https://a.test/cb",
    name: str | None = None,
) -> list[dict[str, Any]]:
    """Register ``count`` apps one after another; return them as the API answered."""
    apps = []
    async with aiohttp.ClientSession(base) as http:
        for n in range(count):
            body = {"name": name or f"app {n}", "active": True, "redirectUri": redirect_uri}
            async with http.post(CREATE, json=body, headers=headers) as response:
                assert response.status == 200
                apps.append((await response.json())["application"])
    return apps


async def change_metadata(
    base: str, headers: dict[str, str], client_id: str, **changes: Any
) -> dict[str, Any]:
    """Replace an app's client metadata with ``changes`` applied (RFC 7592, as an administrator)."""
    url = f"/oauth/register/{client_id}"
    async with aiohttp.ClientSession(base, headers=headers) as http:
        async with http.get(url) as response:
            assert response.status == 200, await response.text()
            metadata = await response.json()
        async with http.put(url, json=metadata | changes) as response:
            assert response.status == 200, await response.text()
            changed: dict[str, Any] = await response.json()
            return changed
