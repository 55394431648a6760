"""The authorization server's SQL: clients, grants, codes, tokens, login sessions, keys.

Rows are read by column name into the domain's objects (``domain/oauth2/``); secrets,
codes and tokens are stored only as hashes, private keys only sealed. ``store.py`` puts
the others behind the use cases' store protocols.
"""

from __future__ import annotations

from service.persistence.housekeeping import Purge, expired_rows_purge
from service.persistence.oauth2.keys import purge_retired
from service.persistence.oauth2.registration_tokens import purge_spent

# The tables whose rows expire, for the relay's scheduled housekeeping.
PURGES: tuple[tuple[str, Purge], ...] = (
    *(
        (table, expired_rows_purge(table))
        for table in ("oauth_codes", "oauth_tokens", "web_sessions")
    ),
    ("retired_signing_keys", purge_retired),
    ("spent_registration_tokens", purge_spent),
)
