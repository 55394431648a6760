"""The log redactor: no token, secret or password survives in any text of any record."""

from __future__ import annotations

import logging

import orjson
import pytest

from service.domain.ids import random_secret
from service.logs import REDACTED, JsonFormatter, redact

SECRET = random_secret()


@pytest.mark.parametrize(
    "text",
    [
        f"GET /api/v1/me?access_token={SECRET}&pad=x HTTP/1.1",
        f"bytearray(b'/oauth/token?grant_type=refresh_token&refresh_token={SECRET}&x=1')",
        f"code={SECRET[:20]}&code_verifier={SECRET[20:]}",
        f"client_id=a&client_secret={SECRET[:30]}",
        f"password={SECRET[:10]}&user=root",
        f"token={SECRET[:12]}",
        f"id_token_hint={SECRET[:9]}.x",
        f"b'GET / HTTP/1.1\\r\\nX-Auth-Token: {SECRET[:30]}\\r\\nHost: a\\r\\n'",
        f"Authorization: Bearer {SECRET[:25]}",
        f"Cookie: session={SECRET[:25]}; theme=dark",
        f"<CIMultiDictProxy('Host': 'a', 'X-Auth-Token': '{SECRET[:25]}')>",
        f"[('authorization', b'Bearer {SECRET[:25]}')]",
        f'{{"user": "root", "password": "{SECRET[:14]}"}}',
        f'{{"clientSecret": "{SECRET[:14]}", "name": "app"}}',
        f"Got more than 8190 bytes when reading: b'{SECRET}yyyyyyyy...'",
        f"hash {SECRET}",
        f"postgresql+asyncpg://postgres:{SECRET[:11]}@db:5432/oauth_apps",
        f"amqp://guest:{SECRET[:11]}@rabbit:5672/",
    ],
)
def test_secrets_are_redacted_wherever_they_appear(text: str) -> None:
    redacted = redact(text)
    assert REDACTED in redacted
    for start in range(0, len(SECRET) - 8):
        assert SECRET[start : start + 9] not in redacted, redacted


@pytest.mark.parametrize(
    "text",
    [
        "request",
        "listening on 127.0.0.1:3000",
        "/api/v1/oauth-apps.list",
        "status_code=500 error_code=42",
        "database 'oauth_apps' migrated",
        "http://127.0.0.1:3000/oauth/authorize",
        "0b0e5c1d8f2a4e6b9c3d7a1f5e8b2c4d",  # a request id: 32 characters
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_the_formatter_redacts_messages_fields_and_exception_texts() -> None:
    try:
        raise ValueError(f"bad header X-Auth-Token: {SECRET}")
    except ValueError as error:
        record = logging.LogRecord(
            "aiohttp.server", logging.ERROR, __file__, 1, "from %s", (f"?token={SECRET}",), None
        )
        record.exc_info = (ValueError, error, error.__traceback__)
    record.fields = {"path": f"/x?code={SECRET}", "count": 3}
    line = JsonFormatter().format(record)
    entry = orjson.loads(line)
    assert SECRET[:16] not in line
    assert entry["message"] == f"from ?token={REDACTED}"
    assert entry["path"] == f"/x?code={REDACTED}"
    assert entry["count"] == 3
    assert entry["error"] == f"ValueError: bad header X-Auth-Token: {REDACTED}"
