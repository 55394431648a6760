"""Password hashing: Argon2id at OWASP's parameters, old hashes still accepted."""

from __future__ import annotations

from argon2 import PasswordHasher, extract_parameters

from service.domain.passwords import hash_password, password_problem, verify_password


def test_hashes_are_argon2id_at_owasp_parameters() -> None:
    encoded = hash_password("correct horse battery")
    parameters = extract_parameters(encoded)
    assert encoded.startswith("$argon2id$")
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (
        19 * 1024,
        2,
        1,
    )
    assert verify_password(encoded, "correct horse battery")
    assert not verify_password(encoded, "correct horse batter")


def test_hashes_made_with_the_former_parameters_still_verify() -> None:
    former = PasswordHasher().hash("correct horse battery")  # RFC 9106's 64 MiB default
    assert verify_password(former, "correct horse battery")


def test_not_a_hash_or_not_encodable_is_no_match() -> None:
    assert not verify_password("plaintext", "plaintext")
    assert not verify_password(hash_password("x" * 12), "\ud800")


def test_length_is_the_policy() -> None:
    assert password_problem("short") == "a password must have at least 12 characters"
    assert password_problem(" " * 12) == "a password must not be only white space"
    assert password_problem("twelve chars") is None
