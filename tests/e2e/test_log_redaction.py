"""Requests too large to parse: aiohttp's own error lines must not carry the caller's token."""

from __future__ import annotations

import asyncio

import yarl

from tests.support.processes import Stack
from tests.support.waiting import eventually

PADDING = "x" * 9_000  # past aiohttp's 8,190-byte limit on a request line or a header


async def _send_raw(base: str, request: str) -> bytes:
    """Send ``request`` as it is on a fresh socket; return the answer's first bytes."""
    url = yarl.URL(base)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(request.encode())
        await writer.drain()
        return await asyncio.wait_for(reader.read(200), 10)
    finally:
        writer.close()


async def test_an_oversized_request_line_or_header_logs_no_token(
    stack: Stack, admin: dict[str, str]
) -> None:
    base = await stack.serve()
    token = admin["X-Auth-Token"]
    too_long_line = f"GET /api/v1/me?access_token={token}&pad={PADDING} HTTP/1.1\r\nHost: a\r\n\r\n"
    too_long_header = (
        f"GET /api/v1/me HTTP/1.1\r\nHost: a\r\nX-User-Id: {admin['X-User-Id']}\r\n"
        f"X-Auth-Token: {token}{PADDING}\r\n\r\n"
    )
    for request in (too_long_line, too_long_header):
        assert (await _send_raw(base, request)).startswith(b"HTTP/1.")
    log = stack.log("serve")

    async def both_errors_logged() -> bool:
        return log.read_text().count("LineTooLong") == 2

    await eventually(both_errors_logged, timeout=10)
    text = log.read_text()
    assert token[:16] not in text
    assert "access_token=[redacted]" in text  # the line is still there, without the value
