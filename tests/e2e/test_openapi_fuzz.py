"""Schemathesis over our own OpenAPI document against a running ``serve``.

With ``positive_data_acceptance`` on, a request that the document calls valid must
not be refused: the document says exactly what the server enforces.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from tests.support.processes import Stack

SCHEMATHESIS = Path(sys.executable).parent / "st"
# Rocket.Chat answers a well-formed request for an app that does not exist with a 400
# (error-application-not-found, "OAuth app not found."), not a 404: for these routes
# that 400 is an acceptance of valid data, not a rejection.
CONFIG = """
# A cursor the generator makes up is not one the server gave out (400 too).
[[operations]]
include-path-regex = "^/api/v1/oauth-apps\\\\.(list|get|update|delete|rotateSecret)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 409, 429]

# A permission or role that does not exist is refused like Rocket.Chat's (400); and an
# Idempotency-Key sent again with another body is a 422 by design, not bad data.
[[operations]]
include-path = "/api/v1/permissions.update"
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 429]

# RFC 6749 section 4.1.2.1: an unknown client_id or redirect_uri is a 400 page, and
# any client_id the generator makes up is unknown; the token endpoints answer RFC
# 6749's 400 to a well-formed request for a grant that does not exist.
[[operations]]
include-path-regex = "^/oauth/(authorize|login|token|revoke|introspect)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", 400, 401, 403, 429]

# RFC 7592 section 2: a client_id the generator makes up names no client (401), and
# redirect URIs or pages that the policy refuses are a 400 invalid_redirect_uri or
# invalid_client_metadata however well-formed.
[[operations]]
include-path = "/oauth/register/{client_id}"
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 429]

[[operations]]
include-path = "/api/v1/oauth-apps.create"
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 409, 422, 429]
"""


async def test_schema_valid_requests_are_accepted_and_answered_as_documented(
    stack: Stack, admin: dict[str, str], tmp_path: Path, seeded_roles: None
) -> None:
    assert SCHEMATHESIS.exists() or shutil.which("st"), "schemathesis is a test dependency"
    stack.env["RATE_LIMIT_CALLS"] = "0"
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    base = await stack.serve("--no-relay")
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "run",
        f"{base}/api/openapi.json",
        "--checks",
        "not_a_server_error,positive_data_acceptance,response_schema_conformance,"
        "status_code_conformance,content_type_conformance",
        "--mode",
        "positive",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "30",
        "--generation-deterministic",
        "--exclude-path",
        "/api/v1/logout",
        "--header",
        f"X-User-Id: {admin['X-User-Id']}",
        "--header",
        f"X-Auth-Token: {admin['X-Auth-Token']}",
        "--request-timeout",
        "10",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
        env=stack.env | {"SCHEMATHESIS_HOOKS": ""},
    )
    output, _ = await asyncio.wait_for(process.communicate(), 600)
    report = output.decode()
    assert process.returncode == 0, report[-6000:]
