"""Fixtures shared by the tests; the helpers they use live in pysdk_support."""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING

import pytest

from pysdk_support import CheckedHandlerProcess, handler_argv

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture
def start_handler() -> Iterator[Callable[..., CheckedHandlerProcess]]:
    """Start tests/handlers/<script>; every process started is killed and reaped afterwards."""
    with ExitStack() as stack:

        def start(script: str) -> CheckedHandlerProcess:
            return stack.enter_context(CheckedHandlerProcess(handler_argv(script)))

        yield start
