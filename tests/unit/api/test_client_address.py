import ipaddress

import pytest
from aiohttp.test_utils import make_mocked_request

from service.api.client_address import client_address

PROXY = (ipaddress.ip_network("10.0.0.0/8"),)


def request(peer: str, forwarded: str | None = None) -> object:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    mocked = make_mocked_request("POST", "/api/v1/login", headers=headers)
    mocked._transport_peername = (peer, 1234)  # type: ignore[attr-defined]
    return mocked


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "expected"),
    [
        ("203.0.113.7", None, PROXY, "203.0.113.7"),
        # An untrusted peer's header is the peer's own say-so: ignored.
        ("203.0.113.7", "198.51.100.1", PROXY, "203.0.113.7"),
        ("203.0.113.7", "198.51.100.1", (), "203.0.113.7"),
        # A trusted proxy's: the first address from the right that is not a proxy.
        ("10.0.0.2", "198.51.100.1", PROXY, "198.51.100.1"),
        ("10.0.0.2", "1.2.3.4, 198.51.100.1, 10.0.0.9", PROXY, "198.51.100.1"),
        ("10.0.0.2", "10.0.0.3", PROXY, "10.0.0.2"),
        ("10.0.0.2", "not-an-address", PROXY, "10.0.0.2"),
    ],
)
def test_forwarded_addresses_are_believed_only_from_trusted_proxies(
    peer: str, forwarded: str | None, proxies: tuple[ipaddress.IPv4Network, ...], expected: str
) -> None:
    assert client_address(request(peer, forwarded), proxies) == expected  # type: ignore[arg-type]
