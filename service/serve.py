"""Running the HTTP API: one process, or several sharing the port with SO_REUSEPORT."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any, TypeVar, cast

from aiohttp import web
from prometheus_client import multiprocess

from service import bootstrap
from service.api.connections import GuardedSite
from service.api.keys import CONNECTION_GUARD
from service.api.middlewares import JsonAccessLogger
from service.application import create_application
from service.config import (
    EXIT_CONFIG_ERROR,
    ConfigError,
    DependencyUnavailable,
    Settings,
    report_startup_error,
)
from service.domain.backoff import Backoff
from service.events.relay import make_room_for_a_wave
from service.logs import configure_logging
from service.loop import run

log = logging.getLogger(__name__)
T = TypeVar("T")

SHUTDOWN_TIMEOUT = 30.0


def freeze_startup_objects() -> None:
    """Leave what start-up allocated (modules, the app, its pools) out of collections.

    Full collections walked all of it with every thread stopped, and set the p99 of
    request latency and event lag (docs/performance.md).
    """
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def stop_signals() -> Iterator[asyncio.Event]:
    """An event that the first SIGTERM or SIGINT sets, from the moment the block starts.

    Installed before start-up work, so that a signal during start-up is a clean stop
    once started, not the default handler's abrupt death.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        yield stop
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def serve_http(settings: Settings, with_relay: bool, reuse_port: bool = False) -> None:
    """Serve until SIGTERM, then stop accepting and let in-flight requests finish."""
    if with_relay:
        make_room_for_a_wave(settings.relay_batch_size)
    application = create_application(settings, with_relay=with_relay)
    runner = web.AppRunner(
        application,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        access_log_class=JsonAccessLogger,
        keepalive_timeout=settings.http_keepalive_timeout,
    )
    with stop_signals() as stop:
        await _serve_until(stop, settings, runner, application, reuse_port=reuse_port)


async def _serve_until(
    stop: asyncio.Event,
    settings: Settings,
    runner: web.AppRunner,
    application: web.Application,
    *,
    reuse_port: bool,
) -> None:
    try:
        # Inside: when a resource fails to start, those started before it are closed.
        await runner.setup()
        site = GuardedSite(
            runner,
            application[CONNECTION_GUARD],
            host=settings.host,
            port=settings.port,
            reuse_port=reuse_port or None,
        )
        try:
            await site.start()
        except OSError as error:
            raise _cannot_listen(settings, error) from None
        freeze_startup_objects()
        log.info("listening", extra={"fields": {"host": settings.host, "port": settings.port}})
        await stop.wait()
        log.info("shutting down")
    finally:
        await runner.cleanup()


async def run_until_stopped(work: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    """Run ``work(stop)``; SIGTERM or SIGINT sets ``stop`` and ``work`` winds down by itself."""
    with stop_signals() as stop:
        freeze_startup_objects()
        await work(stop)


async def relay_until_stopped(settings: Settings) -> None:
    """Run the outbox relay alone until SIGTERM or SIGINT."""
    make_room_for_a_wave(settings.relay_batch_size)
    await run_until_stopped(lambda stop: bootstrap.run_relay(settings, stop))


def _in_child(settings: Settings, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    configure_logging(settings.log_level)  # a spawned process starts with Python's defaults
    try:
        run(main)
    except (ConfigError, DependencyUnavailable) as error:
        raise SystemExit(report_startup_error(error)) from None


def _api_worker(settings: Settings) -> None:
    _in_child(settings, lambda: serve_http(settings, False, reuse_port=True))


def _relay_worker(settings: Settings) -> None:
    _in_child(settings, lambda: relay_until_stopped(settings))


@dataclass
class _Child:
    """One supervised process: what it runs, and when it may be started again."""

    name: str
    target: Callable[[Settings], None]
    process: multiprocessing.process.BaseProcess | None = None
    started_at: float = 0.0
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.5, cap=10.0))
    restart_at: float | None = None


# A child that ends with one of these within its first seconds cannot work as
# configured: restarting it would only repeat the failure, so serve stops instead.
_FATAL_AT_START = (EXIT_CONFIG_ERROR,)
_START_GRACE = 10.0


def _cannot_listen(settings: Settings, error: OSError) -> ConfigError:
    reason = error.strerror or str(error)
    return ConfigError("PORT", f"cannot listen on {settings.host}:{settings.port}: {reason}")


def check_address_free(settings: Settings) -> None:
    """Fail with one line when something already listens on the address.

    The workers bind with SO_REUSEPORT, which would let them share the port with
    another server of the same user without a word: this bind does not.
    """
    try:
        infos = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise _cannot_listen(settings, error) from None
    for family, kind, protocol, _, address in infos:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                raise _cannot_listen(settings, error) from None


def serve_workers(settings: Settings, with_relay: bool, workers: int) -> int:
    """Run ``workers`` API processes on one port, and the relay beside them; supervise them.

    The relay gets a process of its own rather than a thread in a worker, where it
    competed with requests for the interpreter lock (docs/performance.md). A child
    that dies is started again after a backoff while the others keep serving; a
    configuration error at start stops them all. SIGTERM is forwarded to every child;
    the exit status is 0 when all stopped cleanly.
    """
    check_address_free(settings)
    # Workers share their metrics through files in this directory (prometheus multiprocess).
    metrics_dir = tempfile.mkdtemp(prefix="oauth-apps-metrics-")
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)
    context = multiprocessing.get_context("spawn")
    children = [_Child(f"worker-{n}", _api_worker) for n in range(workers)]
    if with_relay:
        children.append(_Child("relay", _relay_worker))
    stopping = False
    status = 0

    def start(child: _Child) -> None:
        child.process = context.Process(target=child.target, args=(settings,), name=child.name)
        child.process.start()
        child.started_at = time.monotonic()
        child.restart_at = None

    def stop_all(_signum: int = signal.SIGTERM, _frame: object = None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.process is not None and child.process.is_alive():
                child.process.terminate()

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    for child in children:
        start(child)
    while any(child.process is not None for child in children):
        running = {c.process.sentinel: c for c in children if c.process is not None}
        due = [c.restart_at for c in children if c.restart_at is not None and not stopping]
        timeout = max(0.0, min(due) - time.monotonic()) if due else None
        for sentinel in wait(list(running), timeout=timeout):
            child = running[cast(int, sentinel)]
            assert child.process is not None
            child.process.join()
            code, pid = child.process.exitcode, child.process.pid
            child.process = None
            if pid is not None and "PROMETHEUS_MULTIPROC_DIR" in os.environ:
                multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
            # A child still starting when asked to stop dies of the signal: clean too.
            if stopping:
                if code not in (0, -signal.SIGTERM):
                    status = 1
                continue
            young = time.monotonic() - child.started_at < _START_GRACE
            if young and code in _FATAL_AT_START:
                status = code or 1
                stop_all()
                continue
            if not young:
                child.backoff.reset()  # it ran a while: a new failure, not a crash loop
            delay = child.backoff.next_delay()
            log.error(
                "child died, restarting",
                extra={
                    "fields": {"child": child.name, "exit": code, "restart_in": round(delay, 2)}
                },
            )
            child.restart_at = time.monotonic() + delay
        now = time.monotonic()
        for child in children:
            if child.restart_at is not None and child.restart_at <= now and not stopping:
                start(child)
        if stopping:
            for child in children:
                child.restart_at = None
    shutil.rmtree(metrics_dir, ignore_errors=True)
    return status
