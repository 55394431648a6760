import base64
import hashlib
import itertools
import re
import time
from collections import Counter

from service.domain.ids import (
    UNMISTAKABLE_CHARS,
    hash_token,
    object_id,
    random_id,
    random_secret,
)


def test_unmistakable_alphabet_is_meteors() -> None:
    assert UNMISTAKABLE_CHARS == "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"


def test_random_id_length_and_alphabet() -> None:
    ids = {random_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 17 and set(i) <= set(UNMISTAKABLE_CHARS) for i in ids)
    # Every character of the alphabet shows up: nothing is silently excluded.
    assert set("".join(ids)) == set(UNMISTAKABLE_CHARS)


def test_random_secret_length_and_alphabet() -> None:
    secrets = {random_secret() for _ in range(2000)}
    assert len(secrets) == 2000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", s) for s in secrets)


def test_token_hash_is_rocketchats_format() -> None:
    token = "gX1vn29hRfWTdN8lkje8Q9_TjCVSwaoPcIlThgqzEZc"
    expected = base64.b64encode(hashlib.sha256(token.encode()).digest()).decode()
    assert hash_token(token) == expected
    assert len(hash_token(token)) == 44


def test_object_id_layout() -> None:
    before = int(time.time())
    ids = [object_id() for _ in range(1000)]
    after = int(time.time())
    assert len(set(ids)) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)
    assert all(before <= int(i[:8], 16) <= after for i in ids)
    # Within one process the 5-byte middle is fixed and the counter increases.
    assert len({i[8:18] for i in ids}) == 1
    counters = [int(i[18:], 16) for i in ids]
    assert all((b - a) % 2**24 == 1 for a, b in itertools.pairwise(counters))


def test_random_id_characters_are_equally_likely() -> None:
    counts = Counter("".join(random_id() for _ in range(10_000)))
    expected = 170_000 / len(UNMISTAKABLE_CHARS)
    assert all(abs(count - expected) < expected * 0.15 for count in counts.values())
