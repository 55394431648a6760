"""Identifiers and secrets in the formats Rocket.Chat (Meteor) produces, from a CSPRNG."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import secrets
import threading
import time

# Meteor's Random.id() alphabet: no 0, 1, I, O, U, V, l to avoid look-alikes.
UNMISTAKABLE_CHARS = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
RANDOM_ID_LENGTH = 17
SECRET_LENGTH = 43


def random_id(length: int = RANDOM_ID_LENGTH) -> str:
    """Return a Meteor ``Random.id()``: 17 unmistakable characters."""
    # One CSPRNG read per id rather than per character; bytes >= 220 (4 x 55) are
    # rejected so that every character stays equally likely.
    chars: list[str] = []
    while len(chars) < length:
        chars.extend(
            UNMISTAKABLE_CHARS[byte % 55] for byte in secrets.token_bytes(2 * length) if byte < 220
        )
    return "".join(chars[:length])


def random_secret() -> str:
    """Return a Meteor ``Random.secret()``: 43 base64url characters, 256 bits."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return Rocket.Chat's stored form of a login token: base64(SHA-256(token)).

    A fast hash is enough: tokens and client secrets carry 256 random bits, so
    there is nothing to brute-force that a slow hash would protect.
    """
    return base64.b64encode(hashlib.sha256(token.encode()).digest()).decode()


class ObjectIdFactory:
    """MongoDB ObjectId layout: 4-byte seconds, 5-byte per-process random, 3-byte counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reseed()
        # A forked worker must not repeat its parent's process part and counter.
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        """Draw a new process part and counter start."""
        self._process_part = os.urandom(5)
        self._counter = itertools.count(int.from_bytes(os.urandom(3), "big"))

    def __call__(self) -> str:
        """Return a new 24-character lowercase hex id."""
        with self._lock:
            count = next(self._counter) & 0xFFFFFF
        seconds = int(time.time()).to_bytes(4, "big")
        return (seconds + self._process_part + count.to_bytes(3, "big")).hex()


object_id = ObjectIdFactory()
