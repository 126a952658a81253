"""A program run in a fresh interpreter, as a cold instance runs: what it loads is what an
instance would load, not what the test process has already imported."""

from __future__ import annotations

import os
import subprocess
import sys

from devstack.stack import REPO_ROOT

FUNCTIONS = REPO_ROOT / "functions"


def run(program: str, *args: str, env: dict[str, str] | None = None) -> list[str]:
    """Runs ``program`` (``python -c``) in ``functions/`` with only ``PATH``, ``PYTHONPATH``
    and ``env`` set; fails the test unless it exits 0; returns its output's lines."""
    environ = {
        **(env or {}),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(FUNCTIONS),
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter and program
        [sys.executable, "-c", program, *args],
        cwd=FUNCTIONS,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout.strip().splitlines()
