"""Every password check of the service, metered: ``/api/v1/login`` and the login page alike.

A check costs an Argon2 hash (tens of milliseconds of CPU and 19 MiB), so checks are
limited three ways, each counted *before* the hash so that concurrency cannot slip
past a count that is read before and written after:

- per user and address (the user's id when the name or email is known, so that a
  name and an email are one key): ``PER_USER`` failed checks per ``WINDOW``;
- per address, whatever the names: ``PER_ADDRESS`` failed checks per ``WINDOW``, so
  that a flood of made-up names costs its sender 429s;
- per process: ``CONCURRENT_HASHES`` hashes at a time; the others wait their turn,
  so that memory and the event loop's share of the CPU stay bounded.

The limits are per process, like Rocket.Chat's (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import functools

from service.domain.errors import LoginFailed, RateLimited
from service.domain.ids import random_secret
from service.domain.passwords import hash_password, verify_password
from service.domain.text import storable
from service.domain.throttle import FailureThrottle
from service.persistence import accounts
from service.persistence.database import Database

WINDOW = 60.0
PER_USER = 5
PER_ADDRESS = 30
CONCURRENT_HASHES = 2


class PasswordChecks:
    """Checks passwords within the limits above; one per process."""

    def __init__(
        self,
        db: Database,
        *,
        per_user: FailureThrottle | None = None,
        per_address: FailureThrottle | None = None,
        concurrent_hashes: int = CONCURRENT_HASHES,
    ) -> None:
        self._db = db
        self._per_user = per_user or FailureThrottle(PER_USER, WINDOW)
        self._per_address = per_address or FailureThrottle(PER_ADDRESS, WINDOW)
        self._hashing = asyncio.Semaphore(concurrent_hashes)

    async def check(self, login_name: str, password: str, address: str) -> str:
        """The id of the active user with this name (or email) and password.

        Raises ``RateLimited`` past a limit and ``LoginFailed`` for wrong credentials.
        """
        credentials = None
        if storable(login_name):  # a name PostgreSQL cannot hold belongs to no user
            async with self._db.sessions() as session:
                credentials = await accounts.find_credentials(session, login_name)
        user_key = f"{credentials[0] if credentials else login_name.casefold()} {address}"
        if wait := self._per_address.attempt(address):
            raise RateLimited(wait)
        if wait := self._per_user.attempt(user_key):
            self._per_address.refund(address)
            raise RateLimited(wait)
        async with self._hashing:
            # Off the event loop; an unknown user is checked against a dummy hash so
            # that timing does not tell which names exist.
            matches = await asyncio.to_thread(
                _check_password, credentials[1] if credentials else None, password
            )
        if not matches or credentials is None:
            raise LoginFailed()
        self._per_user.reset(user_key)
        self._per_address.refund(address)
        return credentials[0]


@functools.cache
def _unknown_user_hash() -> str:
    return hash_password(random_secret())


def _check_password(stored_hash: str | None, password: str) -> bool:
    return verify_password(stored_hash or _unknown_user_hash(), password)
