from datetime import UTC, datetime, timedelta

from service.domain.oauth2.id_tokens import at_hash, id_token_claims
from service.domain.oauth2.tokens import TokenUser

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
USER = TokenUser("u" * 17, "alice", "alice@example.test", True, NOW - timedelta(days=1))


def test_at_hash_is_the_left_half_of_sha256_base64url() -> None:
    # OpenID Connect Core 1.0, appendix A.3's access token and at_hash.
    assert at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y") == "77QmUPtjPfzWtF2AnpK9RQ"


def test_an_id_token_says_who_for_whom_when_and_the_scopes_claims() -> None:
    claims = id_token_claims(
        issuer="https://chat.example",
        client_id="client",
        user=USER,
        scope=frozenset({"openid", "email"}),
        access_token="token",
        now=NOW,
        auth_time=NOW - timedelta(minutes=5),
        nonce="n-0S6_WzA2Mj",
    )
    assert claims["iss"] == "https://chat.example"
    assert claims["sub"] == USER.id and claims["aud"] == claims["azp"] == "client"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["auth_time"] == int((NOW - timedelta(minutes=5)).timestamp())
    assert claims["nonce"] == "n-0S6_WzA2Mj" and claims["at_hash"] == at_hash("token")
    assert claims["email"] == "alice@example.test" and claims["email_verified"] is True
    assert "preferred_username" not in claims  # profile was not granted


def test_a_refreshed_id_token_has_no_nonce() -> None:
    claims = id_token_claims(
        issuer="i", client_id="c", user=USER, scope=frozenset({"openid"}), access_token="t", now=NOW
    )
    assert "nonce" not in claims and set(claims) >= {"sub", "iat", "exp", "at_hash"}
