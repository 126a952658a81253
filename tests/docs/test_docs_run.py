"""The docs' tested shell blocks, run as a reader would paste them, against the test stack.

Each page's ```` ```sh tested ```` blocks run in order in one ``bash`` whose working directory is
a copy of this checkout (the venvs linked, not copied) whose ``.devstack/stack.json`` is the
session stack's: exactly the repo root a reader has after ``make run``, without touching the
developer's own ``.devstack/``. A page fails on an answer its ``# =>`` lines announce and the
output lacks, and on any error it does not announce (see tests/support/docs.py).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest
import requests

from devstack.stack import StackInfo
from devstack.tokens import mint_token
from tests.support import docs, mode

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

# What a fresh clone does not have: caches, venvs (linked instead), local state, installs.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".venv-checkov",
    ".devstack",
    ".env",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    ".terraform",
    ".build",
)
# A page's shell gets this long; pytest's own timeout for the test is a minute longer.
PAGE_TIMEOUT_SECONDS = 480

PAGES = [path for path in docs.doc_files(REPO) if any(block.tested for block in docs.blocks(path))]


def wait_until_the_stack_answers(stack: StackInfo, timeout: float = 180) -> None:
    """The first Firestore call of a fresh emulator can outlast a function's 10 s deadline on a
    loaded machine (a 503 a reader would simply retry): warm it up before the pages run, so a
    page fails for what it says, not for the stack's first seconds."""
    token = mint_token(
        f"docs-warmup-{uuid.uuid4().hex[:8]}", "warmup@example.com", project_id=stack.project_id
    )
    deadline = time.monotonic() + timeout
    while True:
        response = requests.post(
            stack.function_url("create-customer"),
            json={},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        if response.status_code != 503:
            assert response.status_code == 200, response.text
            return
        assert time.monotonic() < deadline, f"the stack still answers 503: {response.text}"
        time.sleep(1)


@pytest.fixture(scope="module")
def checkout(stack: StackInfo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository whose local stack is the session's test stack."""
    mode.skip_without_standin()  # stripejs completes 3-D Secure and Checkout on the stand-in only
    wait_until_the_stack_answers(stack)
    root = tmp_path_factory.mktemp("docs") / "repo"
    shutil.copytree(REPO, root, ignore=NOT_IN_A_CLONE, symlinks=True)
    # Installed once by set-up, linked rather than copied (a make target's set-up step then
    # finds them current instead of installing them again).
    for installed in (".venv", ".venv-checkov", "web/node_modules"):
        if (REPO / installed).exists():
            (root / installed).symlink_to((REPO / installed).resolve(), target_is_directory=True)
    state = root / ".devstack"
    state.mkdir()
    (state / "stack.json").write_text(json.dumps(stack.to_json(), indent=2) + "\n")
    (state / "mail").symlink_to(stack.mail_dir, target_is_directory=True)
    (state / "logs").symlink_to(stack.logs_dir, target_is_directory=True)
    return root


def reader_environment() -> dict[str, str]:
    """A terminal's environment: none of the test session's emulator or Stripe settings."""
    keep = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "PYENV_ROOT")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    return env


def test_some_pages_are_run() -> None:
    names = {str(path.relative_to(REPO)) for path in PAGES}
    assert {"README.md", "docs/walkthrough.md"} <= names


@pytest.mark.timeout(PAGE_TIMEOUT_SECONDS + 60)
@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(REPO)))
def test_the_page_s_commands_answer_what_it_says(page: Path, checkout: Path) -> None:
    tested = [block for block in docs.blocks(page) if block.tested]
    problems, transcript = docs.run_page(
        tested, checkout, reader_environment(), PAGE_TIMEOUT_SECONDS
    )
    assert problems == [], "\n".join(problems) + "\n--- transcript (end) ---\n" + transcript[-4000:]
