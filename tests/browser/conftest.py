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
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from devstack.stack import StackInfo
from tests.support.auth_emulator import PASSWORD, AuthEmulator, new_email
from tests.support.stack import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / ".devstack" / "test" / "browser"
# Playwright's waits (a click, an expectation): generous for a loaded 2-core machine; a
# passing step never waits this long.
TIMEOUT_MS = 45_000
# expect(...) has its own default (5 s), which a loaded machine overruns (a Firestore listener's
# first snapshot, a cold function): the same deadline as every other wait.
expect.set_options(timeout=TIMEOUT_MS)

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
def browser_artifacts() -> Path:
    """Where a failing test's screenshots and consoles go (the self-test points it elsewhere)."""
    return ARTIFACTS


@contextmanager
def watched_context(
    browser: Browser, request: pytest.FixtureRequest, folder: Path, label: str = ""
) -> Iterator[BrowserContext]:
    """A fresh browser context whose pages' consoles are recorded; when the test failed, a
    screenshot and the console of each page still open are saved before it closes, as
    ``folder/<test>[-label]-<n>.png`` / ``.log``. Every browser context of a test is one."""
    opened = browser.new_context()
    opened.set_default_timeout(TIMEOUT_MS)
    consoles: dict[Page, list[str]] = {}

    def watch(page: Page) -> None:
        lines = consoles.setdefault(page, [])
        page.on("console", lambda message: lines.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: lines.append(f"pageerror: {error}"))

    opened.on("page", watch)
    try:
        yield opened
    finally:
        reports = request.node.stash.get(_REPORTS, {})
        if any(report.failed for report in reports.values()):
            name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
            prefix = f"{name}-{label}" if label else name
            for number, (page, lines) in enumerate(consoles.items()):
                if not page.is_closed():
                    save_artifacts(page, lines, f"{prefix}-{number}", folder)
        opened.close()


@pytest.fixture
def context(
    browser: Browser, request: pytest.FixtureRequest, browser_artifacts: Path
) -> Iterator[BrowserContext]:
    with watched_context(browser, request, browser_artifacts) as opened:
        yield opened


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


class Visitor:
    """A person using the example app: signs up in the browser, verifies by the mail's link."""

    def __init__(self, page: Page, stack: StackInfo, auth: AuthEmulator) -> None:
        assert stack.web_url is not None, "the test stack serves the web app"
        self.page = page
        self.stack = stack
        self.web = stack.web_url
        self.auth = auth
        self.email = new_email()

    def sign_up(self, *, on_the_form: bool = False, lands_on: str | None = "Pricing") -> None:
        """Creates an account and verifies it; ``on_the_form``: the sign-in form is already
        open (the app asked for it), else the visitor opens it from the header.
        ``lands_on``: the heading shown once verified (None: the caller waits for what
        follows, such as Checkout for a plan chosen before signing in)."""
        page = self.page
        if not on_the_form:
            page.goto(self.web)
            page.get_by_role("link", name="Sign in").click()
        page.get_by_label("Email").fill(self.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        page.get_by_role("heading", name="Verify your email").wait_for()
        # The link in the verification mail, as the emulator's outbox holds it.
        link = self.auth.verification_link(self.email)
        # Locally the page names the emulator's log, where that link is written.
        named = page.get_by_test_id("local-link").locator("code").inner_text()
        log = REPO_ROOT / named
        assert log == self.stack.log_file("auth").resolve(), named
        oob = link.split("oobCode=")[1].split("&")[0]
        wait_for(lambda: oob in log.read_text() or None, 90, f"the verification link in {named}")
        mail = page.context.new_page()
        mail.goto(link)
        mail.close()
        page.get_by_role("button", name="I have verified my email").click()
        if lands_on is not None:
            page.get_by_role("heading", name=lands_on).wait_for()

    def has_verified_account(self) -> None:
        """Makes this visitor's account, already verified, through the emulator's API (what
        sign_up does in the browser, for a test about what follows signing in)."""
        token = str(self.auth.sign_up(self.email)["idToken"])
        self.auth.verify_email(token, self.email)

    def sign_in(self, page: Page | None = None) -> None:
        """Signs in on the sign-in form already open in ``page`` (this visitor's by default)."""
        page = page or self.page
        page.get_by_label("Email").fill(self.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

    def pay_on_checkout(self, card: str) -> None:
        page = self.page
        page.get_by_label("Card number").fill(card)
        page.get_by_role("button", name="Pay and subscribe").click()


@pytest.fixture
def browser_2(
    browser: Browser, request: pytest.FixtureRequest, browser_artifacts: Path
) -> Iterator[Page]:
    """A second visitor's page, in a browser context of its own (another person's browser),
    with the same screenshots and consoles on failure (``<test>-browser_2-<n>``)."""
    with watched_context(browser, request, browser_artifacts, "browser_2") as other:
        yield other.new_page()
