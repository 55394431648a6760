"""The signing keys: made, sealed under SECRET_KEY, rotated, and held by each process.

A private key is stored only sealed: AES-256-GCM with a random 96-bit nonce and the
kid as associated data, under a key derived from SECRET_KEY by HKDF-SHA256. A dump of
the database therefore holds no usable private key, and a sealed key moved to another
kid does not open. Each process holds the keys in a ``KeyRing``, reloaded when the
table changes (its trigger notifies ``auth_changed``) and every few seconds besides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from service.config import ConfigError
from service.domain.accounts import Actor
from service.domain.events import signing_key_event
from service.domain.oauth2.keys import FIRST_ALGORITHM, KeyState, SigningAlgorithm, SigningKey
from service.domain.timestamps import utc_now
from service.persistence import outbox
from service.persistence.database import Database
from service.persistence.oauth2 import keys as stored_keys
from service.usecases.auth_cache import KEYS_TABLE
from service.waiting import wait_any

log = logging.getLogger(__name__)

# Fixed: changing it would make every stored key unreadable.
SEAL_INFO = b"oauth-apps signing keys: AES-256-GCM v1"
NONCE_BYTES = 12
# RFC 7638 thumbprints cut to 96 bits: unique among a handful of keys, and short of the
# 43 characters that the log redactor takes for a secret (service/logs.py).
KID_LENGTH = 16
# The table's notification makes a rotation seen at once; this catches one lost while
# the listening connection was down, well within the 5 s that SPEC 12 allows.
RELOAD_INTERVAL = 4.0

JoseKey = RSAKey | ECKey


class KeySeal:
    """Seals and opens private keys under a key derived from SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SEAL_INFO)
        self._aead = AESGCM(derived.derive(secret_key.encode()))

    def seal(self, kid: str, plaintext: bytes) -> bytes:
        """The nonce, then the ciphertext and its tag."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, kid.encode())

    def open(self, kid: str, sealed: bytes) -> bytes:
        """The plaintext; a ``ConfigError`` naming SECRET_KEY when it is not the one that sealed."""
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], kid.encode())
        except InvalidTag:
            raise ConfigError(
                "SECRET_KEY",
                f"cannot decrypt the signing key {kid}: SECRET_KEY is not the one it was"
                " encrypted with",
            ) from None


def new_signing_key(algorithm: SigningAlgorithm, seal: KeySeal, now: datetime) -> SigningKey:
    """A fresh key pair: its public JWK, its private key sealed."""
    private: JoseKey = (
        RSAKey.generate_key(2048)
        if algorithm is SigningAlgorithm.RS256
        else ECKey.generate_key("P-256")
    )
    kid = private.thumbprint()[:KID_LENGTH]
    native = private.private_key
    assert native is not None  # a generated key has its private half
    pkcs8 = native.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = private.as_dict(private=False, kid=kid, use="sig", alg=algorithm.value)
    return SigningKey(
        kid=kid,
        algorithm=algorithm,
        public_jwk=dict(public),
        created_at=now,
        sealed_private_key=seal.seal(kid, pkcs8),
    )


def _private_key(key: SigningKey, seal: KeySeal) -> JoseKey:
    pkcs8 = seal.open(key.kid, key.sealed_private_key)
    if key.algorithm is SigningAlgorithm.RS256:
        return RSAKey.import_key(pkcs8)
    return ECKey.import_key(pkcs8)


def _public_key(key: SigningKey) -> JoseKey:
    document: Any = key.public_document()
    if key.algorithm is SigningAlgorithm.RS256:
        return RSAKey.import_key(document)
    return ECKey.import_key(document)


async def ensure_first_key(db: Database, seal: KeySeal) -> SigningKey | None:
    """Make the first key (RS256) when there is none; check that SECRET_KEY opens the current one.

    Returns the key made, or None when there was one already.
    """
    async with db.sessions.begin() as session:
        await stored_keys.lock_keys(session)
        current = await stored_keys.current_key(session)
        if current is not None:
            seal.open(current.kid, current.sealed_private_key)
            return None
        key = new_signing_key(FIRST_ALGORITHM, seal, utc_now())
        await stored_keys.insert_key(session, key)
    return key


async def rotate_keys(
    db: Database,
    seal: KeySeal,
    algorithm: SigningAlgorithm,
    *,
    actor: Actor,
    id_token_lifetime: timedelta,
) -> SigningKey:
    """Make a new current key; the previous one verifies until its last ID token expires.

    The rotation and its ``signing_key.rotated`` event commit together.
    """
    now = utc_now()
    key = new_signing_key(algorithm, seal, now)
    async with db.sessions.begin() as session:
        await stored_keys.lock_keys(session)
        previous = await stored_keys.current_key(session)
        if previous is not None:
            # A SECRET_KEY that cannot open the current key would seal the new one
            # where no process could open it: refuse before changing anything.
            seal.open(previous.kid, previous.sealed_private_key)
            await stored_keys.mark_rotated(session, previous.rotated(now, id_token_lifetime))
        await stored_keys.insert_key(session, key)
        event = signing_key_event(key.to_event_document(), actor=actor, now=now)
        await outbox.add_event(session, event)
    return key


async def list_keys(db: Database) -> list[SigningKey]:
    """Every stored key, newest first."""
    async with db.autocommit.connect() as connection:
        return await stored_keys.all_keys(connection)


async def live_keys(db: Database) -> list[SigningKey]:
    """The keys that sign or still verify, newest first."""
    async with db.autocommit.connect() as connection:
        return await stored_keys.live_keys(connection)


class KeyRing:
    """This process's signing keys: the current one signs, every unretired one verifies.

    Implements ``IdTokenSigner`` (``stores.py``). ``start`` loads the keys through
    ``load``; until ``close`` the ring reloads them whenever ``changed`` is told of the
    table, and every ``reload_interval`` seconds. ``use`` takes keys as stored.
    """

    def __init__(
        self,
        seal: KeySeal,
        load: Callable[[], Awaitable[Sequence[SigningKey]]],
        *,
        reload_interval: float = RELOAD_INTERVAL,
    ) -> None:
        self._seal = seal
        self._load = load
        self._reload_interval = reload_interval
        self._signer: tuple[SigningKey, JoseKey] | None = None
        self._verifiers: dict[str, tuple[SigningKey, JoseKey]] = {}
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def use(self, keys: Sequence[SigningKey]) -> None:
        """Hold ``keys`` (newest first); the current key's private half is opened once."""
        current = next((key for key in keys if key.rotated_at is None), None)
        if current is None:
            raise ConfigError(
                "DATABASE_URL", "the database has no signing key: run `oauth-apps migrate`"
            )
        if self._signer is None or self._signer[0].kid != current.kid:
            self._signer = (current, _private_key(current, self._seal))
        # The stored key anew (its dates change when it is rotated), its parsed JWK kept.
        held = {kid: public for kid, (_, public) in self._verifiers.items()}
        self._verifiers = {
            key.kid: (key, held[key.kid] if key.kid in held else _public_key(key)) for key in keys
        }

    async def start(self) -> None:
        """Load the keys (a ``ConfigError`` when none can sign), then keep them current."""
        self.use(await self._load())
        self._task = asyncio.create_task(self._reload_until_closed(), name="signing-keys")

    async def close(self) -> None:
        """Stop reloading."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def changed(self, table: str | None) -> None:
        """A change of ``table`` was notified (None: notifications may have been missed)."""
        if table in (KEYS_TABLE, None):
            self._changed.set()

    async def _reload_until_closed(self) -> None:
        while not self._stop.is_set():
            await wait_any(self._stop, self._changed, timeout=self._reload_interval)
            self._changed.clear()
            if self._stop.is_set():
                return
            try:
                self.use(await self._load())
            except Exception as error:  # the keys held go on signing until a reload works
                log.warning("signing keys not reloaded", extra={"fields": {"error": str(error)}})

    def _live(self) -> list[tuple[SigningKey, JoseKey]]:
        now = utc_now()
        return [
            entry
            for entry in self._verifiers.values()
            if entry[0].state(now) is not KeyState.RETIRED
        ]

    @property
    def algorithms(self) -> list[str]:
        """The algorithms of the keys that sign or still verify: ``RS256`` first."""
        held = {key.algorithm for key, _ in self._live()}
        return [algorithm.value for algorithm in SigningAlgorithm if algorithm in held]

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A compact JWS of ``claims`` with the current key (header ``alg``, ``kid``, ``typ``)."""
        assert self._signer is not None
        key, private = self._signer
        header = {"alg": key.algorithm.value, "kid": key.kid}
        return jwt.encode(header, dict(claims), private, algorithms=[key.algorithm.value])

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a JWS one of our unretired keys signed (expired or not), else None."""
        try:
            kid = jws.extract_compact(token.encode()).headers().get("kid")
        except (JoseError, ValueError):
            return None
        entry = next((entry for entry in self._live() if entry[0].kid == kid), None)
        if entry is None:
            return None
        key, public = entry
        try:
            return jwt.decode(token, public, algorithms=[key.algorithm.value]).claims
        except (JoseError, ValueError):
            return None

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JWK Set of the keys that sign or still verify: public members only."""
        return {"keys": [key.public_document() for key, _ in self._live()]}
