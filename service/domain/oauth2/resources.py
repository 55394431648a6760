"""The protected resource (RFC 9728) and resource indicators (RFC 8707).

The one resource is Rocket.Chat's REST API, ``PUBLIC_URL`` + ``/api/v1``, which
access tokens with the ``api`` scope may call.
"""

from __future__ import annotations

from service.domain.oauth2.errors import InvalidTarget

API_PATH = "/api/v1"
PROTECTED_RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"
# The scope that lets a token act on /api/v1 as its user (section 12 of the contract).
API_SCOPE = "api"


def api_resource(issuer: str) -> str:
    """The resource identifier of ``/api/v1``."""
    return issuer + API_PATH


def checked_resource(resource: str | None, issuer: str) -> str | None:
    """A ``resource`` parameter that names ``/api/v1`` or the server itself; else ``InvalidTarget``.

    A URL library may render the server's own URL with a trailing ``/``: the same resource.
    """
    if resource is None:
        return None
    if resource.removesuffix("/") not in (issuer, api_resource(issuer)):
        raise InvalidTarget(f"resource must be {api_resource(issuer)} or {issuer}")
    return resource


def resource_metadata_challenge(issuer: str) -> str:
    """RFC 9728 section 5.1: a 401's pointer to the resource's metadata."""
    return f'Bearer resource_metadata="{issuer}{PROTECTED_RESOURCE_METADATA_PATH}"'
