"""Running the real ``oauth-apps`` command in tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.engine import URL

EXECUTABLE = shutil.which("oauth-apps", path=os.path.dirname(sys.executable)) or "oauth-apps"


@dataclass
class Completed:
    """What a finished command did."""

    returncode: int
    stdout: str
    stderr: str


def service_env(database_url: URL, **extra: str) -> dict[str, str]:
    """The environment a command gets: the test database plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADMIN_", "NOTIFY_"))}
    env["DATABASE_URL"] = database_url.render_as_string(hide_password=False)
    env["LOG_LEVEL"] = "INFO"
    return env | extra


async def run_cli(*args: str, env: Mapping[str, str], timeout: float = 60) -> Completed:
    """Run ``oauth-apps ARGS`` to completion."""
    process = await asyncio.create_subprocess_exec(
        EXECUTABLE,
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Completed(process.returncode, stdout.decode(), stderr.decode())


def free_port() -> int:
    """Return a loopback port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def start_cli(*args: str, env: Mapping[str, str]) -> asyncio.subprocess.Process:
    """Start ``oauth-apps ARGS`` in the background, output captured."""
    return await asyncio.create_subprocess_exec(
        EXECUTABLE,
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def wait_for_port(
    port: int, process: asyncio.subprocess.Process, timeout: float = 20
) -> None:
    """Return once ``port`` accepts connections; fail if the process exits first."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            stderr = await process.stderr.read() if process.stderr else b""
            raise AssertionError(f"process exited {process.returncode}: {stderr.decode()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise AssertionError(f"nothing listened on {port} within {timeout}s")
