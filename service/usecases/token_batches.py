"""The token endpoint's hot statements, batched across concurrent requests.

Refresh grants and introspections are what clients and resource servers call most;
each is one statement, and under load the statements of concurrent requests go out
as one (``batching.py``): one commit (and one ``auth_changed`` notification) for a
batch of rotations, one index lookup statement for a batch of introspections.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.domain.oauth2.tokens import Rotated, Rotation, StoredToken
from service.persistence.database import Database
from service.persistence.oauth2 import tokens
from service.usecases.batching import Batcher


class TokenBatches:
    """Batched refresh-token rotations and token lookups, between ``start`` and ``close``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._rotations = Batcher(self._rotate, name="token-rotations")
        self._lookups = Batcher(self._look_up, name="token-lookups")

    def start(self) -> None:
        """Start the tasks that run the batches."""
        self._rotations.start()
        self._lookups.start()

    async def close(self) -> None:
        """Stop them; called after the last request finished."""
        await self._rotations.close()
        await self._lookups.close()

    async def rotate(self, rotation: Rotation) -> Rotated | None:
        """The used token's scope and user when it was live and is now exchanged, else None."""
        return await self._rotations.submit(rotation)

    async def look_up(self, token_hash: str) -> StoredToken | None:
        """The token with this hash, with its grant's app and user."""
        return await self._lookups.submit(token_hash)

    async def _rotate(self, rotations: Sequence[Rotation]) -> list[Rotated | None]:
        async with self._db.autocommit.connect() as connection:
            return await tokens.rotate_refresh_tokens(connection, rotations)

    async def _look_up(self, token_hashes: Sequence[str]) -> list[StoredToken | None]:
        async with self._db.autocommit.connect() as connection:
            found = await tokens.find_tokens(connection, token_hashes)
        return [found.get(token_hash) for token_hash in token_hashes]
