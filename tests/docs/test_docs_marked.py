"""Every command in the docs is tested or says why it cannot be, and what the docs point to exists.

A shell block is either run by ``make test`` (```` ```sh tested ````; see
tests/support/docs.py) or marked ```` ```sh not-run: <why> ```` (a deploy, a real Stripe key).
Commands named in prose are checked against the code: a ``make`` target must exist in the
Makefile and a ``python -m`` module must be importable. Links between the docs must resolve,
anchors included.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tests.support import docs as markdown

REPO = Path(__file__).resolve().parents[2]


DOCS = markdown.doc_files(REPO)


def _code(path: Path) -> list[str]:
    """Inline code spans and code blocks: where the docs name commands."""
    spans = markdown.code_spans(markdown.prose(path))
    return spans + [block.code for block in markdown.blocks(path)]


def test_the_docs_are_found() -> None:
    names = {str(path.relative_to(REPO)) for path in DOCS}
    assert {"README.md", "docs/walkthrough.md", "infra/README.md"} <= names


@pytest.mark.parametrize("path", DOCS, ids=lambda path: str(path.relative_to(REPO)))
def test_every_shell_block_is_tested_or_says_why_not(path: Path) -> None:
    unmarked = [
        f"{block.where} (```{block.language} {block.marker})"
        for block in markdown.blocks(path)
        if block.is_shell and not block.tested and not block.not_run_reason
    ]
    assert not unmarked, (
        "mark each shell block '```sh tested' (run by make test) or "
        "'```sh not-run: <why it cannot run here>': " + ", ".join(unmarked)
    )


@pytest.mark.parametrize("path", DOCS, ids=lambda path: str(path.relative_to(REPO)))
def test_links_between_the_docs_resolve(path: Path) -> None:
    assert markdown.broken_links(path, REPO) == []


def _make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, flags=re.MULTILINE))


@pytest.mark.parametrize("path", DOCS, ids=lambda path: str(path.relative_to(REPO)))
def test_every_make_target_named_in_the_docs_exists(path: Path) -> None:
    targets = _make_targets()
    named = {
        target
        for code in _code(path)
        for target in re.findall(r"(?:^|[\s;&|(])make\s+(?:-\S+\s+)*([a-z][\w-]*)", code)
    }
    assert named - targets == set(), (
        f"{path.relative_to(REPO)} names make targets that do not exist"
    )


@pytest.mark.parametrize("path", DOCS, ids=lambda path: str(path.relative_to(REPO)))
def test_every_python_module_named_in_the_docs_exists(path: Path) -> None:
    named = {
        module
        for code in _code(path)
        for module in re.findall(r"python3?\s+-m\s+([A-Za-z_][\w.]*)", code)
    }
    missing = {module for module in named if importlib.util.find_spec(module) is None}
    assert missing == set(), f"{path.relative_to(REPO)} names modules that do not exist"


_TOP_FOLDERS = (
    "functions/",
    "tests/",
    "devstack/",
    "infra/",
    "tools/",
    "docs/",
    "schemas/",
    "benchmarks/",
    "scripts/",
    "packages/",
)


# Files the deploy steps have the reader create (and keep out of the repository, or commit later).
CREATED_BY_THE_READER = {"infra/terraform.tfvars", "infra/.terraform.lock.hcl"}


@pytest.mark.parametrize("path", DOCS, ids=lambda path: str(path.relative_to(REPO)))
def test_every_repository_path_in_backticks_exists(path: Path) -> None:
    named = {
        span.split()[0].rstrip(".,:;")
        for span in markdown.code_spans(markdown.prose(path))
        if span.startswith(_TOP_FOLDERS) and not re.search(r"[<>*{}$]", span.split()[0])
    }
    missing = sorted(name for name in named - CREATED_BY_THE_READER if not (REPO / name).exists())
    assert missing == [], f"{path.relative_to(REPO)} names paths that do not exist"


def test_the_api_page_lists_every_browser_function() -> None:
    from app import registry

    page = (REPO / "docs" / "api.md").read_text()
    browser = [fn.name.replace("_", "-") for fn in registry.FUNCTIONS if fn.kind == "browser"]
    assert browser
    missing = [name for name in browser if f"| `{name}` |" not in page]
    assert missing == [], "docs/api.md's operations table misses deployed functions"


def test_the_architecture_page_names_every_package_of_the_archive() -> None:
    [tree, *_] = [
        block.code
        for block in markdown.blocks(REPO / "docs" / "architecture.md")
        if block.language == "text"
    ]
    functions = REPO / "functions"
    rooms = [
        package.parent
        for package in [*functions.glob("*/__init__.py"), *functions.glob("billing/*/__init__.py")]
    ]
    assert rooms
    missing = sorted(room.name for room in rooms if f" {room.name}/ " not in tree)
    assert missing == [], "docs/architecture.md's tree misses these packages"
