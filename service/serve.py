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

from service.api.app import create_app
from service.api.middlewares import JsonAccessLogger
from service.config import ConfigError, Settings, report_config_error
from service.events.relay import Relay
from service.logs import configure_logging

log = logging.getLogger(__name__)
T = TypeVar("T")

SHUTDOWN_TIMEOUT = 30.0


def freeze_startup_objects() -> None:
    """Leave what start-up allocated (modules, the app, its pools) out of collections.

    Under load a full collection came about every two seconds and walked all of it:
    65-75 ms with every thread of the process stopped, which set the p99 of both the
    request latency and the event lag.
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
    runner = web.AppRunner(
        create_app(settings, with_relay),
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
    await run_until_stopped(Relay.from_settings(settings).run)


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main`` on uvloop and return its result."""
    return uvloop.run(main())  # type: ignore[arg-type]


def _in_child(settings: Settings, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    configure_logging(settings.log_level)  # a spawned process starts with Python's defaults
    try:
        run(main)
    except ConfigError as error:
        report_config_error(error)
        raise SystemExit(2) from None


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
