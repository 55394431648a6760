"""Every failure a caller can cause, in one hierarchy; ``api/errors.py`` maps each to HTTP."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every failure that a caller caused and can correct."""

    default_message = ""

    def __init__(self, message: str | None = None) -> None:
        message = self.default_message if message is None else message
        super().__init__(message)
        self.message = message


class InvalidParams(DomainError):
    """The request does not match the endpoint's schema (Rocket.Chat's ``invalid-params``)."""


class RuleViolation(DomainError):
    """A business check of a Meteor method failed (``Meteor.Error`` with details.method)."""

    def __init__(self, error_type: str, message: str, method: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.method = method


class InvalidQuery(DomainError):
    """A query string that the endpoint does not accept (``error-invalid-params``)."""


class AppNotFound(DomainError):
    """No OAuth app matches the given identifier."""


class AuthenticationRequired(DomainError):
    """No valid login token came with the request."""


class PermissionDenied(DomainError):
    """The caller's roles do not grant the permission the endpoint needs."""


class LoginFailed(DomainError):
    """Unknown user or wrong password."""


class RateLimited(DomainError):
    """Too many calls (or failed logins); the caller may retry after ``retry_after`` s."""

    def __init__(self, retry_after: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(
            "Error, too many requests. Please slow down. "
            f"You must wait {retry_after} seconds before trying this endpoint again."
        )
        self.retry_after = retry_after
        self.headers = headers or {}


class AccountError(DomainError):
    """A user or token command that cannot be carried out, with the reason."""


class UserExists(AccountError):
    """The username or email is taken."""


class IdempotencyError(DomainError):
    """An ``Idempotency-Key`` that cannot be used for this request."""


class InvalidIdempotencyKey(IdempotencyError):
    """The header is not 1-255 printable ASCII characters."""


class IdempotencyKeyReused(IdempotencyError):
    """The key was used before with another body."""


class IdempotencyKeyInFlight(IdempotencyError):
    """The first request with this key has not finished."""


class ReservationLost(IdempotencyKeyInFlight):
    """This request's reservation was taken over (its process looked gone); it wrote nothing."""


class InvalidBodyParams(DomainError):
    """A body that does not match the endpoint's schema (``error-invalid-body-params``)."""

    default_message = "Invalid body params"


class InvalidPermission(DomainError):
    """A permission that does not exist."""

    default_message = "Invalid permission"


class InvalidRole(DomainError):
    """A role that does not exist."""

    default_message = "Invalid role"


class InvalidUpdatedSince(DomainError):
    """``updatedSince`` is not a date."""

    default_message = 'The "updatedSince" query parameter must be a valid date.'
