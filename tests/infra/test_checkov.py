"""checkov, the infrastructure-as-code scanner, passes on infra/ (each skip is justified inline)."""

from __future__ import annotations

import os
import subprocess

from tests.support.infra import INFRA, REPO

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
FLAGS = ("--compact", "--quiet", "--skip-download")


def test_checkov_passes_on_the_terraform() -> None:
    assert CHECKOV.exists(), (
        "run scripts/setup --tests: it installs the pinned checkov in .venv-checkov"
    )
    done = subprocess.run(  # noqa: S603 - the pinned checkov, our own arguments
        [str(CHECKOV), "--directory", str(INFRA), "--framework", "terraform", *FLAGS],
        cwd=REPO,
        # No platform key, no network: checkov runs its bundled checks only.
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Passed checks:" in done.stdout, done.stdout
