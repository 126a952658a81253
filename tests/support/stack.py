"""Shared by the stack's tests: fixture locations and process checks."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from devstack import procs
from devstack.stack import FunctionSpec

FIXTURES = Path(__file__).resolve().parents[1] / "stack" / "fixtures"
APP = FIXTURES / "stack_app" / "main.py"
BROKEN_APP = FIXTURES / "broken_app" / "main.py"
FAKE_STANDIN = "tests.stack.fixtures.fake_standin"
# What the fixture apps' main.py files declare (the real package's come from its registry).
APP_FUNCTIONS = [
    FunctionSpec("ping", "http"),
    FunctionSpec("stripe_webhook", "http", webhook=True),
    FunctionSpec("email", "cloudevent"),
]
BROKEN_FUNCTIONS = [FunctionSpec("broken", "http")]


def survivors(pids: Mapping[str, int]) -> dict[str, list[int]]:
    """Processes (read from /proc) still alive in the process group of each started process."""
    return {name: members for name, pid in pids.items() if (members := procs.group_members(pid))}


# The least any wait is given before it counts as a failure. A deadline only bounds a failure:
# on CI's shared 2 cores an emulator or a function can take many times its usual second, and
# a wait that gives up then is a red test for a busy machine, not for a broken product.
PATIENCE_S = 90.0


def wait_for[T](probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """``probe()``'s first value other than None, polled; ``timeout`` (at least
    :data:`PATIENCE_S`) bounds only a failure."""
    timeout = max(timeout, PATIENCE_S)
    deadline = time.monotonic() + timeout
    while (value := probe()) is None:
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)
    return value
