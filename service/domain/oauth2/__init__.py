"""The authorization server's rules, one module per concept (as ORY Hydra's packages).

``clients`` (what a client is and may do), ``grants`` (a user's consent to a client),
``tokens`` (codes and tokens, their kinds and lifetimes), ``scopes`` (the scopes the
server knows), ``authorization`` (checking ``/oauth/authorize``), ``pkce`` (RFC 7636),
``errors`` (RFC 6749's error codes, without HTTP statuses: ``api/errors.py`` maps them).
"""
