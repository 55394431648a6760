"""Redirect URI lists: Rocket.Chat's parsing, then this service's ``REDIRECT_URI_POLICY``."""

from __future__ import annotations

import re
from enum import StrEnum
from urllib.parse import urlsplit

from service.domain.jsvalues import js_trim

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")  # RFC 3986 section 3.1
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class RedirectUriPolicy(StrEnum):
    """How strictly each redirect URI is checked (``REDIRECT_URI_POLICY``)."""

    NONE = "none"
    RFC6749 = "rfc6749"
    OAUTH2_1 = "oauth2.1"


def parse_uri_list(value: str) -> str:
    r"""Normalise a list like Rocket.Chat's ``parseUriList``.

    A value without ``,`` or ``\n`` is kept exactly as sent; otherwise it is
    split on both, each part trimmed, empty parts dropped, rejoined with ``,``.
    """
    if "," not in value and "\n" not in value:
        return value
    parts = (js_trim(part) for part in re.split(r"[,\n]", value))
    return ",".join(part for part in parts if part)


def policy_problem(uri: str, policy: RedirectUriPolicy) -> str | None:
    """Return why ``uri`` breaks ``policy``, or None when it is acceptable."""
    if policy is RedirectUriPolicy.NONE:
        return None
    if not _SCHEME.match(uri):
        return "is not an absolute URI"
    if "#" in uri:
        return "must not contain a fragment"
    if policy is RedirectUriPolicy.RFC6749:
        return None
    if "*" in uri:
        return "must not contain a wildcard"
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        return "is not a well-formed URI"
    if "@" in parts.netloc:
        return "must not contain userinfo"
    if parts.scheme.lower() == "http" and host not in _LOOPBACK_HOSTS:
        return "must use https unless its host is a loopback address"
    return None
