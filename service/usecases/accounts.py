"""Users and their tokens: login, logout, the CLI's user and token commands."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.accounts import (
    LOGIN_TOKEN_LIFETIME,
    Principal,
    TokenListing,
    UserListing,
    UserProfile,
)
from service.domain.errors import AccountError, UserExists
from service.domain.ids import hash_token, random_id, random_secret
from service.domain.passwords import (
    DEFAULT_MIN_LENGTH,
    hash_password,
    password_problem,
    verify_password,
)
from service.domain.timestamps import utc_now
from service.persistence import accounts
from service.persistence.database import Database
from service.persistence.oauth2 import sessions as web_sessions
from service.usecases.auth_cache import AuthCache
from service.usecases.password_checks import PasswordChecks


@dataclass(frozen=True, slots=True)
class PasswordChanged:
    """What a new password ended: the page sessions and login tokens it came with."""

    user_id: str
    ended_sessions: int
    revoked_login_tokens: int


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token that exists in plaintext only here, on its way to its owner."""

    user_id: str
    auth_token: str


async def authenticate(
    db: Database, user_id: str, auth_token: str, *, cache: AuthCache | None = None
) -> Principal | None:
    """Return the caller named by ``X-User-Id`` when ``X-Auth-Token`` is one of its live tokens."""

    async def load() -> tuple[Principal, datetime | None] | None:
        async with db.autocommit.connect() as connection:
            return await accounts.find_principal(connection, user_id, token_hash)

    token_hash = hash_token(auth_token)
    return await (cache or AuthCache()).logins.get_or_load((user_id, token_hash), load)


async def login(
    db: Database, checks: PasswordChecks, login_name: str, password: str, address: str
) -> tuple[IssuedToken, UserProfile]:
    """Check a password (``PasswordChecks``' limits) and issue a login token that expires."""
    user_id = await checks.check(login_name, password, address)
    async with db.sessions.begin() as session:
        token = await _issue_token(session, user_id, "login")
        profile = await accounts.load_profile(session, user_id)
    assert profile is not None
    return token, profile


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
    email_verified: bool = False,
    roles: tuple[str, ...] = ("user",),
    min_password_length: int = DEFAULT_MIN_LENGTH,
) -> UserProfile:
    """Create a user; raise ``AccountError`` when the name is taken or a role is unknown."""
    if not username.strip():
        raise AccountError("the username must not be empty")
    if email_verified and email is None:
        raise AccountError("a verified email needs an email")
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
                email_verified=email_verified,
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
        return await _issue_token(session, await _user_id(session, username), "personal")


async def list_users(db: Database) -> list[UserListing]:
    """Every user, oldest first."""
    async with db.sessions() as session:
        return await accounts.list_users(session)


async def set_user_active(db: Database, username: str, active: bool) -> str:
    """Enable or disable a user and return its id; a disabled one's tokens stop at once.

    Its tokens and page sessions are kept (enabling brings them back): a disabled
    user cannot log in, and every credential it holds is refused while it is disabled.
    """
    async with db.sessions.begin() as session:
        user_id = await _user_id(session, username)
        await accounts.set_active(session, user_id, active)
    return user_id


async def set_password(
    db: Database,
    username: str,
    password: str,
    *,
    min_password_length: int = DEFAULT_MIN_LENGTH,
) -> PasswordChanged:
    """Give a user a new password, ending its page sessions and login tokens.

    Personal access tokens are kept: only an operator issues them, never with the
    password, so a password that leaked cannot have made one; ``revoke_tokens`` ends them.
    """
    if problem := password_problem(password, min_password_length):
        raise AccountError(problem)
    async with db.sessions() as session:
        await _user_id(session, username)  # an unknown user fails before the slow hash
    password_hash = await asyncio.to_thread(hash_password, password)
    async with db.sessions.begin() as session:
        user_id = await _user_id(session, username)
        await accounts.set_password_hash(session, user_id, password_hash)
        ended = await web_sessions.delete_user_sessions(session, user_id)
        revoked = await accounts.delete_tokens(session, user_id, kind="login")
    return PasswordChanged(user_id, ended, len(revoked))


async def list_tokens(db: Database, username: str) -> list[TokenListing]:
    """The user's live tokens, without the tokens or their hashes."""
    async with db.sessions() as session:
        return await accounts.live_tokens(session, await _user_id(session, username))


async def revoke_tokens(
    db: Database,
    username: str,
    *,
    ids: frozenset[str] | None = None,
    kind: str | None = None,
) -> int:
    """Revoke the user's tokens named by ``tokens list``'s ids, or of a kind, or all.

    Either every named token goes or none: an id the user does not hold fails the lot.
    """
    async with db.sessions.begin() as session:
        user_id = await _user_id(session, username)
        revoked = await accounts.delete_tokens(session, user_id, ids=ids, kind=kind)
        if ids is not None and (unknown := ids - revoked):
            raise AccountError(
                f"user {username!r} holds no token {', '.join(sorted(unknown))}: nothing revoked"
            )
    return len(revoked)


async def _user_id(session: AsyncSession, username: str) -> str:
    user_id = await accounts.user_id_by_username(session, username)
    if user_id is None:
        raise AccountError(f"no user named {username!r}")
    return user_id


async def _issue_token(session: AsyncSession, user_id: str, kind: str) -> IssuedToken:
    token = random_secret()
    now = utc_now()
    expires_at = now + LOGIN_TOKEN_LIFETIME if kind == "login" else None
    await accounts.insert_token(
        session, user_id, hash_token(token), kind=kind, created_at=now, expires_at=expires_at
    )
    return IssuedToken(user_id, token)
