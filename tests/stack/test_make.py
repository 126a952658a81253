"""The Makefile: `make help` lists every target with what it does."""

from __future__ import annotations

import re
import subprocess

from devstack.stack import REPO_ROOT

MAKEFILE = REPO_ROOT / "Makefile"


def _targets() -> dict[str, str]:
    """Each target of the Makefile with the text of its `##` comment ('' without one)."""
    found = {}
    for line in MAKEFILE.read_text().splitlines():
        match = re.match(r"^([a-z][a-z-]*):[^=]*?(?:##\s*(.*))?$", line)
        if match:
            found[match.group(1)] = (match.group(2) or "").strip()
    return found


def test_every_phony_target_says_what_it_does() -> None:
    phony = re.search(r"^\.PHONY:(.*)$", MAKEFILE.read_text(), flags=re.MULTILINE)
    assert phony is not None
    targets = _targets()
    assert set(phony.group(1).split()) == set(targets)
    assert [name for name, text in targets.items() if not text] == []


def test_make_help_lists_every_target_with_its_comment() -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "help"],  # noqa: S607
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    listed = {}
    for line in done.stdout.splitlines():
        name, _, text = line.strip().removeprefix("make ").partition(" ")
        listed[name] = text.strip()
    assert listed == _targets()
