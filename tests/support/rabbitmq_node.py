"""A private RabbitMQ node for fault tests: its own name, ports, files, config and cookie.

Fault tests stop, alarm or kill this node, never the machine's shared broker. The
node's scripts come from ``/usr/lib/rabbitmq/bin`` (``/usr/sbin/rabbitmqctl`` would
switch to the system user and its cookie), with a private HOME holding the cookie.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from tests.support.processes import free_port

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")


class RabbitNode:
    """One running node; ``amqp_url`` reaches it as guest."""

    def __init__(self, root: Path, cookie: str | None = None) -> None:
        self.name = f"oauthapps-{secrets.token_hex(4)}@localhost"
        self.cookie = cookie or secrets.token_hex(16)  # nodes of one cluster share it
        self.port = free_port()
        self.dist_port = free_port()
        self.root = root
        self.amqp_url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self._process: asyncio.subprocess.Process | None = None

    def env(self) -> dict[str, str]:
        """The environment of the node's scripts."""
        home = self.root / "home"
        return os.environ | {
            "HOME": str(home),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(self.root / "node.pid"),
            # The distribution port listens on every interface unless told otherwise.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def _prepare(self) -> None:
        for folder in ("home", "mnesia", "log"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        cookie = self.root / "home" / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(self.cookie)
            cookie.chmod(0o400)
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq-env.conf").write_text("")

    async def start(self) -> None:
        """Start the node and wait until it accepts AMQP connections."""
        self._prepare()
        log = (self.root / "server.out").open("ab")
        self._process = await asyncio.create_subprocess_exec(
            str(RABBITMQ_BIN / "rabbitmq-server"),
            env=self.env(),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        # The node registers its name only a while after starting, and await_startup
        # fails at once before that: wait for the AMQP port, then for the node.
        deadline = asyncio.get_running_loop().time() + 120
        while True:
            assert self._process.returncode is None, (self.root / "server.out").read_text()
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                assert asyncio.get_running_loop().time() < deadline, "node did not start"
                await asyncio.sleep(0.2)
                continue
            writer.close()
            break
        await self.ctl("await_startup", "--timeout", "60", timeout=90)

    async def ctl(self, *args: str, timeout: float = 60) -> str:
        """Run ``rabbitmqctl`` against this node; fail the test when it fails."""
        process = await asyncio.create_subprocess_exec(
            str(RABBITMQ_BIN / "rabbitmqctl"),
            "-n",
            self.name,
            *args,
            env=self.env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
        assert process.returncode == 0, output.decode()
        return output.decode()

    def kill(self) -> None:
        """SIGKILL the node: no goodbye to the cluster."""
        assert self._process is not None
        os.killpg(self._process.pid, signal.SIGKILL)

    async def restart(self) -> None:
        """Start a killed node again on its data (it rejoins its cluster)."""
        if self._process is not None:
            await self._process.wait()
        await self.start()

    async def stop(self) -> None:
        """Stop the node for good and wait for its processes to end."""
        if self._process is None:
            return
        with contextlib.suppress(AssertionError, TimeoutError):
            await self.ctl("stop", timeout=60)
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
        await self._process.wait()
        self._process = None


@contextlib.asynccontextmanager
async def private_rabbitmq(root: Path) -> AsyncIterator[RabbitNode]:
    """A fresh node under ``root``, stopped and removed afterwards, also when a test fails."""
    node = RabbitNode(root)
    try:
        await node.start()
        yield node
    finally:
        await node.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.asynccontextmanager
async def private_cluster(root: Path, size: int = 3) -> AsyncIterator[list[RabbitNode]]:
    """``size`` fresh nodes joined into one cluster, removed afterwards."""
    cookie = secrets.token_hex(16)
    nodes = [RabbitNode(root / f"node{n}", cookie) for n in range(size)]
    try:
        await asyncio.gather(*(node.start() for node in nodes))
        for node in nodes[1:]:  # each a private node of this test's own cluster
            await node.ctl("stop_app")
            await node.ctl("join_cluster", nodes[0].name)
            await node.ctl("start_app")
        yield nodes
    finally:
        await asyncio.gather(*(node.stop() for node in nodes))
        shutil.rmtree(root, ignore_errors=True)
