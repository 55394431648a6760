"""Structured logging: one JSON object per line, carrying the request id when there is one."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


REDACTED = "[redacted]"

_PARAMETERS = (
    "access_token|client_secret|code|code_verifier|id_token_hint|password|refresh_token|token"
)
_HEADERS = "x-auth-token|authorization|cookie|set-cookie"
# A name starts a word, or follows an escaped line break (a bytes repr's "\\r\\n").
_START = r"(?:(?<![\w-])|(?<=\\[nrt]))"
# What a caller's secret looks like wherever it may appear: a query or form parameter,
# a header line, a quoted key and value (a dict's or a JSON body's), a URL's password;
# and any run of 43 or more base64url characters, because aiohttp quotes an over-long
# header by its value alone (and secrets, tokens and their hashes are such runs).
_SECRETS = (
    (re.compile(rf"{_START}((?:{_PARAMETERS})=)[^&#\s\"'\\]+", re.IGNORECASE), rf"\1{REDACTED}"),
    (
        re.compile(rf"{_START}((?:{_HEADERS})\s*:\s*)[^\r\n\"'\\]+", re.IGNORECASE),
        rf"\1{REDACTED}",
    ),
    (
        re.compile(
            rf"((\\?[\"'])(?:{_PARAMETERS}|{_HEADERS}|authToken|clientSecret)\2\s*[:,]\s*b?\\?[\"'])"
            r"[^\"'\\]+",
            re.IGNORECASE,
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@", re.IGNORECASE), rf"\1{REDACTED}@"),
    (re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43,}"), REDACTED),
)
# Most texts are short and mention none of these: a look for them spares the patterns.
_MENTIONS = ("token", "secret", "code", "password", "authoriz", "cookie", "://")


def redact(text: str) -> str:
    """Return ``text`` with every token, secret and password in it replaced by ``[redacted]``."""
    if len(text) < 43:
        lowered = text.lower()
        if not any(word in lowered for word in _MENTIONS):
            return text
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _redacted(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


class JsonFormatter(logging.Formatter):
    """Format records as JSON; fields passed as ``extra={"fields": {...}}`` are merged in.

    Every text of every record, third-party loggers' included, goes through ``redact``:
    messages, exception texts, field values.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update((key, _redacted(value)) for key, value in fields.items())
        if record.exc_info and record.exc_info[0] is not None:
            # One line still: the exception type and message, never a multi-line traceback.
            entry["error"] = redact(f"{record.exc_info[0].__name__}: {record.exc_info[1]}")
        return orjson.dumps(entry, default=lambda value: redact(str(value))).decode()


def configure_logging(level: str) -> None:
    """Send every log record to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aio-pika and aiormq log every reconnect attempt at INFO with tracebacks, and
    # Alembic each plugin it loads: keep them quiet.
    for noisy in ("aiormq", "aio_pika", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # Every failed broker connection reaches our code, which says why once per streak
    # (``events/broker.py``); aiormq's line for each attempt would repeat it.
    logging.getLogger("aiormq.connection").addFilter(_not_a_failed_connect)


def _not_a_failed_connect(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("error when creating transport")
