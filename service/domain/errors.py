"""Domain failures; the HTTP layer maps each to Rocket.Chat's error shapes."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every failure that a caller caused and can correct."""


class InvalidParams(DomainError):
    """The request does not match the endpoint's schema (Rocket.Chat's ``invalid-params``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RuleViolation(DomainError):
    """A business check of a Meteor method failed (``Meteor.Error`` with details.method)."""

    def __init__(self, error_type: str, message: str, method: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.method = method


class InvalidQuery(DomainError):
    """A query string that the endpoint does not accept (``error-invalid-params``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AppNotFound(DomainError):
    """No OAuth app matches the given identifier."""
