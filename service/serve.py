"""Running the HTTP API: one process, or several sharing the port with SO_REUSEPORT."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable, Coroutine
from multiprocessing.connection import wait
from typing import Any, TypeVar, cast

import uvloop
from aiohttp import web

from service import bootstrap
from service.api.application import create_application
from service.api.middlewares import JsonAccessLogger
from service.config import ConfigError, DependencyUnavailable, Settings, report_startup_error
from service.events.relay import make_room_for_a_wave
from service.logs import configure_logging

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


async def wait_for_stop_signal() -> None:
    """Return at the first SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def serve_http(settings: Settings, with_relay: bool, reuse_port: bool = False) -> None:
    """Serve until SIGTERM, then stop accepting and let in-flight requests finish."""
    if with_relay:
        make_room_for_a_wave(settings.relay_batch_size)
    runner = web.AppRunner(
        create_application(settings, with_relay=with_relay),
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        access_log_class=JsonAccessLogger,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=reuse_port or None)
        await site.start()
        freeze_startup_objects()
        log.info("listening", extra={"fields": {"host": settings.host, "port": settings.port}})
        await wait_for_stop_signal()
        log.info("shutting down")
    finally:
        await runner.cleanup()


async def run_until_stopped(work: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    """Run ``work(stop)``; SIGTERM or SIGINT sets ``stop`` and ``work`` winds down by itself."""
    stop = asyncio.Event()
    freeze_startup_objects()
    task = asyncio.create_task(work(stop))
    signalled = asyncio.create_task(wait_for_stop_signal())
    await asyncio.wait({task, signalled}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    signalled.cancel()
    await task


async def relay_until_stopped(settings: Settings) -> None:
    """Run the outbox relay alone until SIGTERM or SIGINT."""
    make_room_for_a_wave(settings.relay_batch_size)
    await run_until_stopped(lambda stop: bootstrap.run_relay(settings, stop))


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main`` on uvloop and return its result."""
    return uvloop.run(main())  # type: ignore[arg-type]


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


def serve_workers(settings: Settings, with_relay: bool, workers: int) -> int:
    """Run ``workers`` processes on one port; forward SIGTERM; exit 0 when all did.

    The relay gets a process of its own beside them rather than a thread in one of
    them: there it competed with that worker's requests for the interpreter lock and
    fell behind at peak, while the other workers' relays stood by.
    """
    # Workers share their metrics through files in this directory (prometheus multiprocess).
    metrics_dir = tempfile.mkdtemp(prefix="oauth-apps-metrics-")
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_api_worker, args=(settings,), name=f"worker-{n}")
        for n in range(workers)
    ]
    if with_relay:
        processes.append(context.Process(target=_relay_worker, args=(settings,), name="relay"))
    for process in processes:
        process.start()

    stopping = False

    def stop_all(_signum: int = signal.SIGTERM, _frame: object = None) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive():
                process.terminate()

    def stopped_cleanly(process: multiprocessing.process.BaseProcess) -> bool:
        # A worker still starting when asked to stop dies of the signal: that is clean too.
        return process.exitcode == 0 or (stopping and process.exitcode == -signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    running = {process.sentinel: process for process in processes}
    while running:
        for sentinel in wait(list(running)):
            process = running.pop(cast(int, sentinel))
            process.join()
            if not stopped_cleanly(process):
                stop_all()  # one worker failing (bad configuration) takes the others down
    shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0 if all(stopped_cleanly(process) for process in processes) else 1
