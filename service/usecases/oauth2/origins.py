"""Whether a browser's page may read our answers (CORS): is it a public client's?"""

from __future__ import annotations

from service.domain.oauth2.origins import BrowserOrigins
from service.usecases.auth_cache import ORIGINS_KEY
from service.usecases.oauth2.stores import OAuth2Services


async def is_app_origin(services: OAuth2Services, origin: str) -> bool:
    """Whether ``origin`` is that of an active public client's redirect URI.

    The set is read once and kept like the client cache (forgotten with every change
    of an app, bypassed while no notification can tell of one).
    """

    async def load() -> tuple[BrowserOrigins, None]:
        return BrowserOrigins.of(await services.store.find_public_redirect_uris()), None

    origins = await services.cache.origins.get_or_load(ORIGINS_KEY, load)
    return origins is not None and origins.allow(origin)
