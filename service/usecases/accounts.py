"""Users and their tokens: login, logout, the CLI's user and token commands."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.accounts import LOGIN_TOKEN_LIFETIME, Principal, UserProfile
from service.domain.errors import AccountError, UserExists
from service.domain.ids import hash_token, random_id, random_secret
from service.domain.passwords import (
    DEFAULT_MIN_LENGTH,
    hash_password,
    password_problem,
    verify_password,
)
from service.domain.text import storable
from service.domain.timestamps import utc_now
from service.persistence import accounts
from service.persistence.database import Database
from service.usecases.auth_cache import AuthCache


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token that exists in plaintext only here, on its way to its owner."""

    user_id: str
    auth_token: str


async def authenticate(
    db: Database, user_id: str, auth_token: str, *, cache: AuthCache | None = None
) -> Principal | None:
    """Return the caller named by ``X-User-Id`` when ``X-Auth-Token`` is one of its live tokens."""
    token_hash = hash_token(auth_token)
    if cache is not None and (cached := cache.logins.get((user_id, token_hash))) is not None:
        return cached
    generation = cache.logins.generation if cache is not None else 0
    async with db.autocommit.connect() as connection:
        found = await accounts.find_principal(connection, user_id, token_hash)
    if found is None:
        return None
    principal, expires_at = found
    if cache is not None:
        cache.logins.put(
            (user_id, token_hash), principal, generation=generation, expires=expires_at
        )
    return principal


async def login(
    db: Database, login_name: str, password: str
) -> tuple[IssuedToken, UserProfile] | None:
    """Check a password and issue a login token that expires; None on wrong credentials."""
    user_id = await verify_credentials(db, login_name, password)
    if user_id is None:
        return None
    async with db.sessions.begin() as session:
        token = await _issue_token(session, user_id, "login")
        profile = await accounts.load_profile(session, user_id)
    assert profile is not None
    return token, profile


async def verify_credentials(db: Database, login_name: str, password: str) -> str | None:
    """The id of the active user with this name (or email) and password, else None."""
    credentials = None
    if storable(login_name):  # a name PostgreSQL cannot hold belongs to no user
        async with db.sessions() as session:
            credentials = await accounts.find_credentials(session, login_name)
    # Argon2 takes tens of milliseconds of CPU: keep it off the event loop. Unknown
    # users are checked against a dummy hash so timing does not reveal which names exist.
    matches = await asyncio.to_thread(
        _check_password, credentials[1] if credentials else None, password
    )
    return credentials[0] if matches and credentials is not None else None


@functools.cache
def _unknown_user_hash() -> str:
    return hash_password(random_secret())


def _check_password(stored_hash: str | None, password: str) -> bool:
    return verify_password(stored_hash or _unknown_user_hash(), password)


async def logout(
    db: Database, user_id: str, auth_token: str, *, cache: AuthCache | None = None
) -> None:
    """Revoke the token of this request; it stops working at once."""
    token_hash = hash_token(auth_token)
    async with db.sessions.begin() as session:
        await accounts.delete_token(session, user_id, token_hash)
    if cache is not None:
        # This process forgets now; the others when the notification reaches them.
        cache.logins.forget((user_id, token_hash))


async def profile(db: Database, user_id: str) -> UserProfile | None:
    """Return the user's profile."""
    async with db.sessions() as session:
        return await accounts.load_profile(session, user_id)


async def create_user(
    db: Database,
    username: str,
    password: str,
    *,
    email: str | None = None,
    roles: tuple[str, ...] = ("user",),
    min_password_length: int = DEFAULT_MIN_LENGTH,
) -> UserProfile:
    """Create a user; raise ``AccountError`` when the name is taken or a role is unknown."""
    if not username.strip():
        raise AccountError("the username must not be empty")
    if problem := password_problem(password, min_password_length):
        raise AccountError(problem)
    user_id = random_id()
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        async with db.sessions.begin() as session:
            unknown = set(roles) - await accounts.existing_roles(session, roles)
            if unknown:
                raise AccountError(f"unknown role(s): {', '.join(sorted(unknown))}")
            await accounts.insert_user(
                session,
                user_id,
                username,
                email=email,
                password_hash=password_hash,
                roles=roles,
            )
    except IntegrityError:
        raise UserExists(f"a user with username {username!r} or that email exists") from None
    return UserProfile(id=user_id, username=username, email=email, roles=roles, active=True)


async def ensure_user(
    db: Database,
    username: str,
    password: str,
    *,
    email: str | None,
    roles: tuple[str, ...],
    min_password_length: int = DEFAULT_MIN_LENGTH,
) -> bool:
    """Create the user unless one with this username exists; return whether it was created."""
    async with db.sessions() as session:
        if await accounts.user_id_by_username(session, username) is not None:
            return False
    try:
        await create_user(
            db,
            username,
            password,
            email=email,
            roles=roles,
            min_password_length=min_password_length,
        )
    except UserExists:
        return False  # another worker created it in the meantime
    return True


async def password_matches(db: Database, username: str, password: str) -> bool:
    """Tell whether ``password`` is the password of the active user ``username``."""
    async with db.sessions() as session:
        credentials = await accounts.find_credentials(session, username)
    if credentials is None:
        return False
    return await asyncio.to_thread(verify_password, credentials[1], password)


async def create_personal_token(db: Database, username: str) -> IssuedToken:
    """Issue a personal access token, which does not expire."""
    async with db.sessions.begin() as session:
        user_id = await accounts.user_id_by_username(session, username)
        if user_id is None:
            raise AccountError(f"no user named {username!r}")
        return await _issue_token(session, user_id, "personal")


async def _issue_token(session: AsyncSession, user_id: str, kind: str) -> IssuedToken:
    token = random_secret()
    now = utc_now()
    expires_at = now + LOGIN_TOKEN_LIFETIME if kind == "login" else None
    await accounts.insert_token(
        session, user_id, hash_token(token), kind=kind, created_at=now, expires_at=expires_at
    )
    return IssuedToken(user_id, token)
