"""A failing browser test leaves, for every browser context it used (the visitor's and the
second user's), a screenshot and the console of each page: checked by running a real failing
browser test with pytester, in a pytest of its own, and reading what it left."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FAILING = """
def test_it_fails(page, browser_2):
    page.set_content("<h1>first visitor</h1><script>console.error('boom one')</script>")
    browser_2.set_content("<h1>second visitor</h1><script>console.warn('boom two')</script>")
    page.wait_for_function("document.readyState === 'complete'")
    browser_2.wait_for_function("document.readyState === 'complete'")
    assert False, "failing on purpose"


def test_it_passes(page, browser_2):
    page.set_content("<h1>fine</h1>")
"""


@pytest.mark.timeout(600)
def test_a_failing_browser_test_leaves_screenshots_and_consoles_of_every_context(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    artifacts = pytester.path / "artifacts"
    pytester.makeconftest(
        f"""
import pytest
from pathlib import Path

pytest_plugins = ["tests.browser.conftest"]


@pytest.fixture
def browser_artifacts() -> Path:
    return Path({str(artifacts)!r})
"""
    )
    pytester.makepyfile(test_failing=FAILING)
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join([str(REPO), str(REPO / "functions"), str(REPO / "packages/billing-usage")]),
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=540)
    result.assert_outcomes(failed=1, passed=1)
    saved = sorted(path.name for path in artifacts.iterdir())
    assert saved == [
        "test_it_fails-0.log",
        "test_it_fails-0.png",
        "test_it_fails-browser_2-0.log",
        "test_it_fails-browser_2-0.png",
    ], "only the failing test leaves artifacts, one pair per page of each context"
    for shot in ("test_it_fails-0.png", "test_it_fails-browser_2-0.png"):
        assert (artifacts / shot).read_bytes().startswith(b"\x89PNG")
    assert "error: boom one" in (artifacts / "test_it_fails-0.log").read_text()
    assert "warning: boom two" in (artifacts / "test_it_fails-browser_2-0.log").read_text()
