"""Password hashing with Argon2id (argon2-cffi): slow, salted, parameters in the hash."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's Argon2id configuration (19 MiB, 2 passes, 1 lane) rather than argon2-cffi's
# default (RFC 9106's 64 MiB, 3 passes, 4 lanes): each check allocates its memory
# cost, so with the default one login lifted an API process's peak RSS by 64 MB,
# over the 100 MB a process is allowed. Hashes keep their parameters, so hashes
# made with the old ones still verify.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

DEFAULT_MIN_LENGTH = 12


def password_problem(password: str, min_length: int = DEFAULT_MIN_LENGTH) -> str | None:
    """Say what is wrong with a new password, or None: length is what resists guessing."""
    if len(password) < min_length:
        return f"a password must have at least {min_length} characters"
    if password.strip() == "":
        return "a password must not be only white space"
    return None


def hash_password(password: str) -> str:
    """Return an encoded Argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Tell whether ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError, UnicodeEncodeError):
        return False
