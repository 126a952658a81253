"""A real browser against the test stack: headless Chromium driven by Playwright.

The browser is the system's Chromium (``scripts/setup`` installs Debian's package); where
there is none on PATH, Playwright's own (``.venv/bin/playwright install chromium``). Each test
gets a fresh browser context: a new visitor, no cookies, no stored sign-in. A failing test
leaves a screenshot of every page it opened and their consoles in
``.devstack/test/browser/<test>-<n>.png`` and ``.log``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from devstack.stack import StackInfo
from tests.support.auth_emulator import PASSWORD, AuthEmulator, new_email

ARTIFACTS = Path(__file__).resolve().parents[2] / ".devstack" / "test" / "browser"
# Playwright's waits (a click, an expectation): generous for a loaded 2-core machine; a
# passing step never waits this long.
TIMEOUT_MS = 45_000

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # None: Playwright's own download, where one was installed instead.
    launched = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
    yield launched
    launched.close()


def save_artifacts(page: Page, console: list[str], name: str, folder: Path = ARTIFACTS) -> Path:
    """A full-page screenshot of ``page`` and its console, as ``folder/name.png`` / ``.log``."""
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / f"{name}.png"
    page.screenshot(path=shot, full_page=True)
    (folder / f"{name}.log").write_text("\n".join([f"url: {page.url}", *console]) + "\n")
    return shot


@pytest.fixture
def context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    opened = browser.new_context()
    opened.set_default_timeout(TIMEOUT_MS)
    consoles: dict[Page, list[str]] = {}

    def watch(page: Page) -> None:
        lines = consoles.setdefault(page, [])
        page.on("console", lambda message: lines.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: lines.append(f"pageerror: {error}"))

    opened.on("page", watch)
    yield opened
    reports = request.node.stash.get(_REPORTS, {})
    if any(report.failed for report in reports.values()):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
        for number, (page, lines) in enumerate(consoles.items()):
            if not page.is_closed():
                save_artifacts(page, lines, f"{name}-{number}")
    opened.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


class Visitor:
    """A person using the example app: signs up in the browser, verifies by the mail's link."""

    def __init__(self, page: Page, stack: StackInfo, auth: AuthEmulator) -> None:
        assert stack.web_url is not None, "the test stack serves the web app"
        self.page = page
        self.web = stack.web_url
        self.auth = auth
        self.email = new_email()

    def sign_up(self) -> None:
        page = self.page
        page.goto(self.web)
        page.get_by_label("Email").fill(self.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        page.get_by_role("heading", name="Verify your email").wait_for()
        # The link in the verification mail, as the emulator's outbox holds it.
        link = self.auth.verification_link(self.email)
        mail = page.context.new_page()
        mail.goto(link)
        mail.close()
        page.get_by_role("button", name="I have verified my email").click()
        page.get_by_role("heading", name="Pricing").wait_for()

    def pay_on_checkout(self, card: str) -> None:
        page = self.page
        page.get_by_label("Card number").fill(card)
        page.get_by_role("button", name="Pay and subscribe").click()


@pytest.fixture
def browser_2(browser: Browser) -> Iterator[Page]:
    """A second visitor's page, in a browser context of its own (another person's browser)."""
    other = browser.new_context()
    other.set_default_timeout(TIMEOUT_MS)
    yield other.new_page()
    other.close()
