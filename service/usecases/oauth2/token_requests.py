"""A request to the token endpoint: the authenticated client and its form's parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.domain.oauth2.clients import Client
from service.domain.oauth2.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """What a grant type reads: the client its credentials proved and the parameters."""

    client: Client
    params: Mapping[str, object]

    def field(self, name: str) -> str | None:
        """A parameter's value; RFC 6749 section 3.2 allows each at most once."""
        return single_field(self.params, name)

    def required(self, name: str) -> str:
        """A parameter that must be there and not empty."""
        if not (value := self.field(name)):
            raise InvalidRequest(f"{name} is required")
        return value


def single_field(params: Mapping[str, object], name: str) -> str | None:
    """A form parameter's value; ``invalid_request`` when it was sent more than once."""
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{name} was sent more than once")
    return value
