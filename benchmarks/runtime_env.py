"""The environment a deployed function starts in, for cold starts: ``requirements.txt`` alone
(no dev tools on the path), on Python 3.12, with the sources compiled to bytecode.

Cloud Build installs ``requirements.txt`` with pip, which compiles every dependency; the
function's own sources are staged and compiled by the same code that builds the deployed
archive (:mod:`tools.build_source`: checked-hash ``.pyc`` files, valid whatever the files' times).
The dev environment (``.venv``) holds ~150 more distributions, and its sources would be
compiled on first import by whoever ran them last: neither is what an instance meets.

The environment is built once per ``requirements.txt`` (~1 min) under ``.devstack/`` and reused.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from benchmarks.bench_stack import REPO
from tools import build_source

REQUIREMENTS = REPO / "requirements.txt"
CACHE = REPO / ".devstack"


def _python312() -> str:
    found = subprocess.run(  # noqa: S603 - our own script
        [str(REPO / "scripts" / "python312")], capture_output=True, text=True, check=True
    )
    return found.stdout.strip()


def runtime_bin(requirements: Path = REQUIREMENTS) -> Path:
    """The ``bin`` folder of a virtual environment holding ``requirements`` (this tree's
    ``requirements.txt``, or a ``--baseline``'s own) and nothing else (built on first use, then
    reused while that file is unchanged)."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    home = CACHE / f"bench-runtime-{digest}"
    done = home / "installed"
    if not done.is_file():
        shutil.rmtree(home, ignore_errors=True)
        subprocess.run([_python312(), "-m", "venv", str(home)], check=True)  # noqa: S603
        installed = subprocess.run(  # noqa: S603 - pip of the environment just made
            [str(home / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
             "-r", str(requirements)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if installed.returncode:
            raise RuntimeError(f"installing {requirements} failed:\n{installed.stderr[-3000:]}")
        done.write_text(requirements.read_text())
    return home / "bin"


def deployed_copy(main: Path, into: Path, *, compiled: bool = True) -> Path:
    """The folder holding ``main`` staged as the deployed archive has it (compiled unless
    ``compiled`` is False); returns the copy's ``main.py``."""
    return (
        build_source.build(into / main.parent.name, source=main.parent, compiled=compiled)
        / main.name
    )
