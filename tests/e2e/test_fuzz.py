"""Generated requests against the running service: never a 5xx, always a documented answer."""

from __future__ import annotations

import http.client
import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import URL

from tests.support.openapi import assert_documented
from tests.support.processes import EXECUTABLE, free_port, service_env

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["", " ", "true", "false", "1", "0", "https://a.test", "a,b\nc", "\u3000"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def bodies(*keys: str) -> st.SearchStrategy[Any]:
    shaped = st.fixed_dictionaries({}, optional={key: values for key in (*keys, "extra")})
    return st.one_of(shaped, shaped, values)


class Service:
    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port = port
        self.headers = headers

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        assert response.status < 500, (method, path, body, response.status, raw)
        assert response.headers["Content-Type"].startswith("application/json")
        return response.status, json.loads(raw)


@pytest.fixture(scope="module")
def service(database_url: URL) -> Iterator[Service]:
    env = service_env(database_url, RATE_LIMIT_CALLS="0")
    subprocess.run(
        [
            EXECUTABLE,
            "users",
            "create",
            "--username",
            "fuzzer",
            "--password",
            "fuzzer-password",
            "--role",
            "admin",
        ],
        env=env,
        check=False,
        capture_output=True,
    )
    token = json.loads(
        subprocess.run(
            [EXECUTABLE, "tokens", "create", "--username", "fuzzer"],
            env=env,
            check=True,
            capture_output=True,
        ).stdout
    )
    port = free_port()
    process = subprocess.Popen(
        [EXECUTABLE, "serve", "--port", str(port), "--no-relay"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/health")
            break
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
    yield Service(port, {"X-User-Id": token["userId"], "X-Auth-Token": token["authToken"]})
    process.terminate()
    assert process.wait(30) == 0


@FUZZ
@given(body=bodies("name", "active", "redirectUri"), form=st.booleans())
def test_create(service: Service, body: Any, form: bool) -> None:
    if form and isinstance(body, dict):
        raw = urlencode(
            {k: json.dumps(v) if not isinstance(v, str) else v for k, v in body.items()}
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        payload = raw.encode()
    else:
        headers = {"Content-Type": "application/json"}
        payload = json.dumps(body).encode()
    status, answer = service.request(
        "POST", "/api/v1/oauth-apps.create", payload, service.headers | headers
    )
    assert_documented("POST", "/api/v1/oauth-apps.create", status, answer)


@FUZZ
@given(
    raw=st.binary(max_size=200),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "",
            "application/json; charset=latin-1",
        ]
    ),
)
def test_create_with_raw_bytes(service: Service, raw: bytes, content_type: str) -> None:
    headers = service.headers | ({"Content-Type": content_type} if content_type else {})
    status, answer = service.request("POST", "/api/v1/oauth-apps.create", raw, headers)
    assert_documented("POST", "/api/v1/oauth-apps.create", status, answer)


@FUZZ
@given(
    route=st.sampled_from(["update", "delete", "rotateSecret"]),
    body=bodies("appId", "name", "active", "redirectUri"),
)
def test_changes(service: Service, route: str, body: Any) -> None:
    path = f"/api/v1/oauth-apps.{route}"
    headers = service.headers | {"Content-Type": "application/json"}
    status, answer = service.request("POST", path, json.dumps(body).encode(), headers)
    assert_documented("POST", path, status, answer)


@FUZZ
@given(
    route=st.sampled_from(["list", "get"]),
    query=st.dictionaries(
        st.sampled_from(["offset", "count", "uid", "_id", "clientId", "x"]),
        st.text(max_size=12),
        max_size=3,
    ),
    authenticated=st.booleans(),
)
def test_queries(service: Service, route: str, query: dict[str, str], authenticated: bool) -> None:
    path = f"/api/v1/oauth-apps.{route}"
    headers = service.headers if authenticated else {}
    status, answer = service.request("GET", f"{path}?{urlencode(query)}", None, headers)
    assert_documented("GET", path, status, answer)
