"""``Idempotency-Key`` rules for create: one key, one app, for 24 hours."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import orjson

from service.domain.errors import InvalidIdempotencyKey

KEY_LIFETIME = timedelta(hours=24)
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """A create request identified by its caller, key and body; ``owner`` is this attempt."""

    user_id: str
    key: str
    fingerprint: str
    owner: uuid.UUID


def idempotent_request(user_id: str, key: str, body: object) -> IdempotentRequest:
    """Check the key and fingerprint the parsed body (key order and spacing do not matter)."""
    if not _VALID_KEY.fullmatch(key):
        raise InvalidIdempotencyKey("Idempotency-Key must be 1 to 255 printable ASCII characters")
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return IdempotentRequest(
        user_id=user_id,
        key=key,
        fingerprint=hashlib.sha256(canonical).hexdigest(),
        owner=uuid.uuid4(),
    )
