"""scripts/setup: `make run` needs neither Terraform nor checkov; only `make test` does."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from devstack.stack import REPO_ROOT


def _path_without_terraform(tmp_path: Path) -> str:
    """PATH as it is, except that no directory on it offers `terraform`."""
    entries = []
    for index, entry in enumerate(os.environ.get("PATH", "").split(os.pathsep)):
        directory = Path(entry)
        if not (directory / "terraform").exists():
            entries.append(entry)
            continue
        shadow = tmp_path / f"path{index}"
        shadow.mkdir()
        for tool in directory.iterdir():
            if tool.name != "terraform":
                (shadow / tool.name).symlink_to(tool)
        entries.append(str(shadow))
    return os.pathsep.join(entries)


def _checkout(tmp_path: Path) -> Path:
    """What scripts/setup reads, with this checkout's venv (already set up: nothing installs)."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for script in ("setup", "python312"):
        shutil.copy2(REPO_ROOT / "scripts" / script, repo / "scripts" / script)
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-checkov.txt"):
        shutil.copy2(REPO_ROOT / name, repo / name)
    (repo / ".venv").symlink_to((REPO_ROOT / ".venv").resolve())
    # web/'s packages stamped as installed: what they need is not what these tests are about.
    lock = REPO_ROOT / "web" / "package-lock.json"
    (repo / "web" / "node_modules").mkdir(parents=True)
    shutil.copy2(lock, repo / "web" / "package-lock.json")
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    (repo / "web" / "node_modules" / ".package-lock.sha256").write_text(digest + "\n")
    return repo


def _setup(repo: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own script
        ["bash", str(repo / "scripts" / "setup"), *args],  # noqa: S607
        env={**os.environ, "PATH": _path_without_terraform(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_stack_sets_up_without_terraform_or_checkov(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    done = _setup(repo, tmp_path, "--services")
    assert done.returncode == 0, done.stderr
    assert not (repo / ".venv-checkov").exists()
    assert "checkov" not in done.stderr


def test_the_tests_set_up_only_with_terraform(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    done = _setup(repo, tmp_path, "--tests")
    assert done.returncode == 1
    assert "'terraform' (>= 1.5) not found" in done.stderr
    assert not (repo / ".venv-checkov").exists()
