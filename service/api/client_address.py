"""The client's address, from ``X-Forwarded-For`` only when a ``TRUSTED_PROXIES`` peer sent it."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from service.config import IPNetwork as Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(text: str, proxies: Sequence[Network]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in proxies)


def client_address(request: web.Request, proxies: Sequence[Network]) -> str:
    """Return the first address, from the right, that is not a trusted proxy.

    Each trusted proxy appends the address it received the request from to
    ``X-Forwarded-For``; whatever a client wrote there itself stands to the left of
    what its first trusted proxy added, and is never believed.
    """
    peer = request.remote or "unknown"
    if not _trusted(peer, proxies):
        return peer
    hops = [
        hop.strip() for hop in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")
    ]
    for hop in reversed([hop for hop in hops if hop]):
        if not _trusted(hop, proxies):
            return hop if _address(hop) is not None else peer
    return peer
