"""The deployable source, staged and compiled: what Terraform zips and Cloud Build deploys.

    python -m tools.build_source                 # (re)build infra/.build/source
    python -m tools.build_source --into DIR      # somewhere else (the tests, the benchmarks)

The folder holds ``functions/`` (without caches and dotfiles), ``requirements.txt`` beside
``main.py``, and every module compiled to bytecode for the runtime (Python 3.12), so a cold
instance loads code instead of compiling ~150 modules on its first import (the saving is
measured by ``make bench``: the cold start from this folder against the same folder without
bytecode, in the same rounds).

The bytecode is hash-based and checked (PEP 552): the zip that Terraform writes gives every
file the same modification time, which would make ordinary timestamp-checked ``.pyc`` files
look stale, and a checked hash makes an instance ignore (and compile afresh) any ``.pyc``
whose source is not the one it was compiled from, so a stale file can cost time but can
never run old code. Paths in the bytecode are relative to the folder, so the same tree gives
the same bytes (and the same archive hash) on every machine. Terraform refuses to plan from a
folder that is missing or differs from ``functions/`` (``local.source_build_problems`` in
``infra/plan.tf``).
"""

from __future__ import annotations

import argparse
import compileall
import py_compile
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FUNCTIONS = REPO / "functions"
REQUIREMENTS = REPO / "requirements.txt"
DEFAULT_INTO = REPO / "infra" / ".build" / "source"
# The deployed runtime (infra/functions.tf: runtime = "python312"): bytecode is only valid for
# the interpreter version that wrote it.
RUNTIME = (3, 12)


def source_files(root: Path = FUNCTIONS) -> list[str]:
    """The package's files as the archive carries them: no caches, no dotfiles, no ``.pyc``
    (the same rule as ``local.source_files`` in ``infra/plan.tf``)."""
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        hidden = any(part == "__pycache__" or part.startswith(".") for part in relative.parts)
        if path.is_file() and not hidden and path.suffix != ".pyc":
            found.append(relative.as_posix())
    return sorted(found)


def build(into: Path, *, source: Path = FUNCTIONS, compiled: bool = True) -> Path:
    """Stages ``source`` (``functions/``; the benchmarks pass others) in ``into`` (replaced as
    a whole, never half-written) and returns it; ``compiled=False`` leaves out the bytecode."""
    if compiled and sys.version_info[:2] != RUNTIME:
        version = ".".join(map(str, RUNTIME))
        raise SystemExit(
            f"bytecode must be compiled by Python {version} (the functions' runtime); "
            f"this is {sys.version.split()[0]}: run it with .venv/bin/python"
        )
    into = into.resolve()
    into.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{into.name}-", dir=into.parent))
    try:
        for name in source_files(source):
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, target)
        if (staging / "requirements.txt").exists():
            raise SystemExit("functions/requirements.txt would clash with the runtime's")
        shutil.copyfile(REQUIREMENTS, staging / "requirements.txt")
        if compiled and not compileall.compile_dir(
            staging,
            quiet=1,
            stripdir=str(staging),
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
            workers=1,
        ):
            raise SystemExit("compiling the functions failed (see above)")
        shutil.rmtree(into, ignore_errors=True)
        staging.rename(into)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--into", type=Path, default=DEFAULT_INTO)
    args = parser.parse_args(argv)
    built = build(args.into)
    count = sum(1 for _ in built.rglob("*.pyc"))
    print(f"staged {built} ({count} modules compiled)")  # noqa: T201 - the tool's report
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
