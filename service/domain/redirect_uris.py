"""Redirect URI lists: Rocket.Chat's parsing, then this service's ``REDIRECT_URI_POLICY``."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

import idna
import rfc3986
from rfc3986.exceptions import InvalidAuthority

from service.domain.jsvalues import js_trim

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")  # RFC 3986 section 3.1
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]", "localhost"})
# RFC 8252 section 7.3: loopback IP literals, whose port a native app picks when it
# runs; "localhost" is not one of them (section 8.3: it may resolve elsewhere).
_LOOPBACK_IPS = frozenset({"127.0.0.1", "[::1]"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Schemes with which a browser runs or reads something instead of going to a client.
_DANGEROUS_SCHEMES = frozenset({"javascript", "data", "vbscript", "file"})
# Controls, invisible formatting (bidi overrides, zero-width) and every kind of space:
# none belongs in a URI (RFC 3986 section 2), and each can smuggle a header or fake a host.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
# Underscores are not LDH, but hosts like docker-compose's service names use them.
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
# A last label that a browser would read as a number makes the host an IPv4 address.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
# What a browser strips from both ends of a URL before parsing it.
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_SPECIAL_SCHEMES = frozenset({"http", "https"})
_BAD_HOST = "has a host that is not a domain name or an IP address"


class RedirectUriPolicy(StrEnum):
    """How strictly each redirect URI is checked (``REDIRECT_URI_POLICY``)."""

    NONE = "none"
    RFC6749 = "rfc6749"
    OAUTH2_1 = "oauth2.1"


@dataclass(frozen=True, slots=True)
class _Authority:
    """The parts of a URI that name where a browser goes."""

    scheme: str
    userinfo: str | None
    host: str  # ASCII and lower case, IPv6 in brackets; "" when the URI has none
    port: int | None


def parse_uri_list(value: str) -> str:
    r"""Normalise a list like Rocket.Chat's ``parseUriList``.

    A value without ``,`` or ``\n`` is kept exactly as sent; otherwise it is
    split on both, each part trimmed, empty parts dropped, rejoined with ``,``.
    """
    if "," not in value and "\n" not in value:
        return value
    parts = (js_trim(part) for part in re.split(r"[,\n]", value))
    return ",".join(part for part in parts if part)


def has_dangerous_scheme(uri: str) -> bool:
    """Tell whether a browser would read ``uri``'s scheme as javascript, data, vbscript or file."""
    # As the WHATWG URL parser does before it reads the scheme.
    seen = re.sub(r"[\t\n\r]", "", uri.strip(_C0_AND_SPACE))
    scheme = _SCHEME.match(seen)
    return scheme is not None and scheme.group()[:-1].lower() in _DANGEROUS_SCHEMES


def policy_problem(uri: str, policy: RedirectUriPolicy) -> str | None:
    """Return why ``uri`` breaks ``policy``, or None when it is acceptable."""
    if policy is RedirectUriPolicy.NONE:
        return None
    if problem := _shape_problem(uri):
        return problem
    if "#" in uri:
        return "must not contain a fragment"
    if policy is RedirectUriPolicy.OAUTH2_1 and "*" in uri:
        return "must not contain a wildcard"
    authority = _authority(uri)
    if isinstance(authority, str):
        return authority
    if policy is RedirectUriPolicy.RFC6749:
        return None
    if authority.userinfo is not None:
        return "must not contain userinfo"
    if authority.scheme == "http" and authority.host not in _LOOPBACK_HOSTS:
        return "must use https unless its host is a loopback address"
    return None


def web_url_problem(url: str) -> str | None:
    """Why ``url`` is not a page a browser may be shown or sent to, or None.

    It must parse with an https scheme, or http on a loopback host, and carry no
    userinfo (``https://bank.test@evil.test/`` reads as another site).
    """
    if problem := _shape_problem(url):
        return problem
    authority = _authority(url)
    if isinstance(authority, str):
        return authority
    if authority.scheme not in _SPECIAL_SCHEMES:
        return "must be an https URL"
    if authority.userinfo is not None:
        return "must not contain userinfo"
    if authority.scheme == "http" and authority.host not in _LOOPBACK_HOSTS:
        return "must use https unless its host is a loopback address"
    return None


def csp_origin(uri: str) -> str | None:
    """Return ``uri``'s ``scheme://host[:port]`` for a CSP source list, host in punycode.

    None when ``uri`` has no host (a private-use scheme such as
    ``com.example.app:/cb``), and also when ``rfc6749`` would refuse its characters,
    scheme or authority: so no stored URI, however hostile (an app stored under
    policy ``none``), puts a ``;``, a quote or a space in a header.
    """
    if _shape_problem(uri):
        return None
    authority = _authority(uri)
    if isinstance(authority, str) or not authority.host:
        return None
    port = "" if authority.port is None else f":{authority.port}"
    return f"{authority.scheme}://{authority.host}{port}"


def csp_form_target(uri: str) -> str | None:
    """The CSP ``form-action`` source that lets a browser be redirected to ``uri``.

    ``csp_origin`` for a URI with a host; for a private-use scheme
    (``com.example.app:/cb``, RFC 8252 section 7.1) the scheme source
    ``com.example.app:``, since a browser checks each redirect after a form
    submission against the form's page's ``form-action``. None for a URI that
    ``rfc6749`` would refuse.
    """
    if _shape_problem(uri):
        return None
    authority = _authority(uri)
    if isinstance(authority, str):
        return None
    return csp_origin(uri) if authority.host else f"{authority.scheme}:"


@dataclass(frozen=True, slots=True)
class WebOrigin:
    """A web origin (RFC 6454): what a browser's ``Origin`` header names."""

    scheme: str
    host: str  # ASCII and lower case, IPv6 in brackets
    port: int

    @property
    def is_loopback_ip(self) -> bool:
        """Whether it is ``http`` on a loopback IP literal (RFC 8252 section 7.3)."""
        return self.scheme == "http" and self.host in _LOOPBACK_IPS

    def __str__(self) -> str:
        """As a browser serialises it: the default port left out."""
        port = "" if _DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}"


def web_origin(uri: str) -> WebOrigin | None:
    """The origin of an http(s) URI without userinfo, or None (a private-use scheme, …)."""
    if _shape_problem(uri):
        return None
    authority = _authority(uri)
    if (
        isinstance(authority, str)
        or authority.scheme not in _SPECIAL_SCHEMES
        or authority.userinfo is not None
    ):
        return None
    port = _DEFAULT_PORTS[authority.scheme] if authority.port is None else authority.port
    return WebOrigin(authority.scheme, authority.host, port)


def loopback_redirect_matches(registered: str, requested: str) -> bool:
    """Whether ``requested`` is the loopback IP URI ``registered`` on another port.

    RFC 8252 section 7.3; everything but the port (host, path, query) must be equal.
    """
    ours, theirs = web_origin(registered), web_origin(requested)
    if ours is None or theirs is None or not ours.is_loopback_ip or ours.host != theirs.host:
        return False
    ours_ref, theirs_ref = rfc3986.uri_reference(registered), rfc3986.uri_reference(requested)
    return (theirs.scheme, theirs_ref.path or "", theirs_ref.query, theirs_ref.fragment) == (
        ours.scheme,
        ours_ref.path or "",
        ours_ref.query,
        ours_ref.fragment,
    )


def redirect_target_problem(uri: str) -> str | None:
    """Why the authorization endpoint must not send a browser to ``uri``, or None.

    Whatever the policy the app was registered under (``none`` checks nothing): a
    dangerous scheme runs or reads something in the browser, a control character or
    a space cannot travel in a ``Location`` header, and a host or port that does not
    parse leads nowhere. A fragment, which ``rfc6749`` refuses at registration, is
    harmless here.
    """
    if problem := _shape_problem(uri):
        return problem
    authority = _authority(uri)
    return authority if isinstance(authority, str) else None


def _shape_problem(uri: str) -> str | None:
    """Return why ``uri`` cannot be a redirect URI whatever its host, or None."""
    if any(unicodedata.category(char) in _UNSAFE_CATEGORIES for char in uri):
        return "must not contain whitespace or control characters"
    if "\\" in uri:
        # Browsers read it as "/" in http(s) URIs, so the host they go to is not the one parsed.
        return "must not contain a backslash"
    if not _SCHEME.match(uri):
        return "is not an absolute URI"
    if has_dangerous_scheme(uri):
        return f"must not use the {uri[: uri.index(':')].lower()}: scheme"
    return None


def _authority(uri: str) -> _Authority | str:
    """Parse ``uri``'s authority with RFC 3986's grammar; return it, or why it does not parse."""
    reference = rfc3986.iri_reference(uri)
    scheme: str = reference.scheme.lower()
    try:
        parts: dict[str, str | None] = reference.authority_info()
    except InvalidAuthority:
        return "is not a well-formed URI"
    host = parts["host"] or ""
    if not host:
        # RFC 3986 allows an empty host, but http(s) needs one to go anywhere.
        return "has no host" if scheme in _SPECIAL_SCHEMES else _Authority(scheme, None, "", None)
    ascii_host = _ascii_host(host)
    if ascii_host is None:
        return _BAD_HOST
    port = int(text) if (text := parts["port"]) else None
    if port is not None and port > 65535:
        return "has a port that is not a number from 0 to 65535"
    return _Authority(scheme, parts["userinfo"], ascii_host, port)


def _ascii_host(host: str) -> str | None:
    """Return ``host`` as a browser would look it up, lower case and IDNA-encoded, or None."""
    if host.startswith("["):
        # An IPv6 address; RFC 6874 zone ids and IPvFuture mean nothing to a browser.
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
        return None if "%" in host else host.lower()
    try:
        labels = [
            label if label.isascii() else idna.encode(label, uts46=True).decode()
            for label in host.split(".")
        ]
    except idna.IDNAError:
        return None
    ascii_host = ".".join(labels).lower()
    if len(ascii_host) > 253:
        return None
    names = ascii_host.removesuffix(".").split(".")
    if _NUMERIC_LABEL.fullmatch(names[-1]):
        try:
            ipaddress.IPv4Address(ascii_host)
        except ValueError:
            return None
        return ascii_host
    for name in names:
        if not _LABEL.fullmatch(name):
            return None
        if name.startswith("xn--"):
            try:
                idna.decode(name)
            except idna.IDNAError:
                return None
    return ascii_host
