"""The authorization server's SQL: clients, grants, codes, tokens and login sessions.

Rows are read by column name into the domain's objects (``domain/oauth2/``); secrets,
codes and tokens are stored only as hashes. ``store.py`` puts them behind the use
cases' store protocols.
"""

from __future__ import annotations

from service.persistence.housekeeping import Purge, expired_rows_purge

# The tables whose rows expire, for the relay's scheduled housekeeping.
PURGES: tuple[tuple[str, Purge], ...] = tuple(
    (table, expired_rows_purge(table)) for table in ("oauth_codes", "oauth_tokens", "web_sessions")
)
