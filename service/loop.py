"""Running a coroutine to completion on uvloop: every command's event loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import uvloop

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main`` on uvloop and return its result."""
    return uvloop.run(main())  # type: ignore[arg-type]
