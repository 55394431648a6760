"""The web origins a browser may call the token endpoints from: public clients' pages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from service.domain.redirect_uris import web_origin


@dataclass(frozen=True, slots=True)
class BrowserOrigins:
    """The origins of public clients' redirect URIs (CORS, Fetch standard section 3.2).

    A loopback IP redirect URI stands for its host on every port, as it matches on
    any port (RFC 8252 section 7.3).
    """

    origins: frozenset[str] = frozenset()
    loopback_hosts: frozenset[str] = frozenset()

    @classmethod
    def of(cls, redirect_uris: Iterable[str]) -> BrowserOrigins:
        """The origins of these redirect URIs; a private-use scheme has none."""
        origins = [origin for uri in redirect_uris if (origin := web_origin(uri)) is not None]
        return cls(
            frozenset(str(origin) for origin in origins),
            frozenset(origin.host for origin in origins if origin.is_loopback_ip),
        )

    def allow(self, origin_header: str) -> bool:
        """Whether a request with this ``Origin`` comes from one of them (never ``null``)."""
        origin = web_origin(origin_header)
        # Only as a browser serialises one (RFC 6454 section 6.1): it is echoed back.
        if origin is None or str(origin) != origin_header:
            return False
        return str(origin) in self.origins or (
            origin.is_loopback_ip and origin.host in self.loopback_hosts
        )
