"""Running the real ``oauth-apps`` command in tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

EXECUTABLE = shutil.which("oauth-apps", path=os.path.dirname(sys.executable)) or "oauth-apps"
# Every process of a run, and the test settings, seal the signing keys under this.
TEST_SECRET_KEY = "tests-only-secret-key-0123456789abcdefghijklmnop"


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
    env["SECRET_KEY"] = TEST_SECRET_KEY
    # One process unless a test asks for more: most tests look at one process's logs.
    env.setdefault("WEB_CONCURRENCY", "1")
    return env | extra


async def run_cli(
    *args: str, env: Mapping[str, str], timeout: float = 60, stdin: str | None = None
) -> Completed:
    """Run ``oauth-apps ARGS`` to completion, with ``stdin`` as its input when given."""
    process = await asyncio.create_subprocess_exec(
        EXECUTABLE,
        *args,
        env=dict(env),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(
        process.communicate(stdin.encode() if stdin is not None else None), timeout
    )
    assert process.returncode is not None
    return Completed(process.returncode, stdout.decode(), stderr.decode())


def free_port() -> int:
    """Return a loopback port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def start_cli(
    *args: str, env: Mapping[str, str], log: Path | None = None
) -> asyncio.subprocess.Process:
    """Start ``oauth-apps ARGS`` in the background; its output goes to ``log`` (or is dropped).

    A file, not a pipe: a chatty process would block once a pipe nobody reads is full.
    """
    output = log.open("ab") if log is not None else asyncio.subprocess.DEVNULL
    try:
        return await asyncio.create_subprocess_exec(
            EXECUTABLE, *args, env=dict(env), stdout=output, stderr=output
        )
    finally:
        if log is not None:
            output.close()  # type: ignore[union-attr]


async def stop(process: asyncio.subprocess.Process, timeout: float = 30) -> int:
    """SIGTERM ``process`` and return its exit status."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), timeout)


async def wait_for_port(
    port: int, process: asyncio.subprocess.Process, timeout: float = 20
) -> None:
    """Return once ``port`` accepts connections; fail if the process exits first."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            raise AssertionError(f"process exited {process.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise AssertionError(f"nothing listened on {port} within {timeout}s")


class Stack:
    """The service's real processes for one test; each logs to its own file."""

    def __init__(self, env: Mapping[str, str], logs: Path) -> None:
        self.env = dict(env)
        self.logs = logs
        self.processes: dict[str, asyncio.subprocess.Process] = {}

    async def start(
        self, name: str, *args: str, wait_ready: bool = True
    ) -> asyncio.subprocess.Process:
        """Start ``oauth-apps ARGS`` under ``name``; a relay or consumer once it is working."""
        process = await start_cli(*args, env=self.env, log=self.log(name))
        self.processes[name] = process
        ready = {"relay": '"relay active"', "consume": '"consuming"'}.get(args[0])
        if ready is not None and wait_ready:
            await self.wait_for_log(name, ready)
        return process

    async def wait_for_log(self, name: str, text: str, timeout: float = 20) -> None:
        """Wait until the log of ``name`` contains ``text``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while text not in self.log(name).read_text():
            process = self.processes[name]
            assert process.returncode is None, f"{name} exited {process.returncode}"
            assert asyncio.get_running_loop().time() < deadline, f"{name} never logged {text}"
            await asyncio.sleep(0.05)

    async def serve(self, *args: str) -> str:
        """Start the API (with its relay unless ``--no-relay``); return its base URL.

        The first is called ``serve``, the next ``serve-2`` and so on: each is stopped.
        """
        port = free_port()
        count = sum(1 for name in self.processes if name.startswith("serve"))
        name = "serve" if count == 0 else f"serve-{count + 1}"
        process = await self.start(name, "serve", "--port", str(port), *args)
        await wait_for_port(port, process)
        return f"http://127.0.0.1:{port}"

    def log(self, name: str) -> Path:
        """The log file of the process called ``name``."""
        return self.logs / f"{name}.log"

    def kill(self, name: str) -> None:
        """SIGKILL a process: no chance to clean up."""
        self.processes.pop(name).kill()

    async def stop_all(self) -> dict[str, int]:
        """SIGTERM every process still running; return their exit statuses."""
        statuses = {}
        for name, process in list(self.processes.items()):
            statuses[name] = await stop(process)
            del self.processes[name]
        return statuses
