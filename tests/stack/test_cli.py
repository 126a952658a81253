"""``python -m devstack up`` as a developer runs it: output, signals, leftovers of a hard kill."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.stack import REPO_ROOT, Stack, StackError
from tests.support import stack as support_stack
from tests.support.stack import APP, APP_FUNCTIONS, FAKE_STANDIN, survivors, wait_for

READY_LINE = "Ctrl-C stops everything."
APP_FUNCTION_ARGS = [
    "--function", "ping=http", "--function", "stripe_webhook=webhook", "--function", "email=cloudevent"
]  # fmt: skip
# Test mode with a made-up key: the fixture functions never call Stripe, and no stand-in starts.
FAKE_TEST_KEY = "sk_test_" + "cli-fake"  # assembled: no key-shaped literal


class Launcher:
    """``python -m devstack up`` in the background, its output collected line by line."""

    def __init__(self, state_dir: Path, env: dict[str, str]) -> None:
        self.state_dir = state_dir
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "devstack", "up", "--functions-source", str(APP), *APP_FUNCTION_ARGS,
             "--state-dir", str(state_dir), "--stripe", "test"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if line.strip() == READY_LINE:
                self.ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self) -> dict[str, object]:
        if not self.ready.wait(timeout=120):
            raise AssertionError(f"the stack did not come up:\n{self.output}")
        stack_json: dict[str, object] = json.loads((self.state_dir / "stack.json").read_text())
        return stack_json


@pytest.fixture
def launcher_env(tmp_path: Path) -> dict[str, str]:
    events = tmp_path / "events"
    events.mkdir()
    return os.environ | {"STRIPE_SECRET_KEY": FAKE_TEST_KEY, "FIXTURE_EVENTS_DIR": str(events)}


@pytest.fixture
def launchers() -> Iterator[list[Launcher]]:
    started: list[Launcher] = []
    yield started
    for launcher in started:  # a failed test must not leave a stack running
        if launcher.process.poll() is None:
            launcher.process.send_signal(signal.SIGTERM)
            launcher.process.wait(timeout=60)


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_up_prints_the_addresses_and_a_signal_stops_everything(
    tmp_path: Path, launcher_env: dict[str, str], launchers: list[Launcher], sig: signal.Signals
) -> None:
    launcher = Launcher(tmp_path / "state", launcher_env)
    launchers.append(launcher)
    stack = launcher.wait_ready()
    functions = stack["functions"]
    assert isinstance(functions, dict)
    pids = stack["pids"]
    assert isinstance(pids, dict)

    output = launcher.output
    for name, url in functions.items():
        assert f"{name:<14}  {url}" in output
    assert f'curl -X POST {functions["ping"]} -H "Authorization: Bearer $TOKEN"' in output
    assert "TOKEN=ey" in output
    assert "-m devstack.tokens --uid alice --email alice@example.com" in output
    assert str(tmp_path / "state" / "stack.json") in output
    assert FAKE_TEST_KEY not in output, "the Stripe key is never printed"
    assert stack["stripe"] == {
        "mode": "test", "api_base": None, "control_url": None, "webhook_secret": None,
        "webhook_url": functions["stripe-webhook"],
    }  # fmt: skip
    echoed = requests.post(str(functions["stripe-webhook"]), timeout=10).json()
    assert echoed["STRIPE_API_BASE"] is None, "real Stripe: no stand-in base URL"
    assert set(survivors(pids)) == set(pids)

    launcher.process.send_signal(sig)
    assert launcher.process.wait(timeout=60) == 0, launcher.output
    assert survivors(pids) == {}
    assert not (tmp_path / "state" / "stack.json").exists()


@pytest.mark.integration
def test_up_stops_what_a_hard_killed_launcher_left_behind(
    tmp_path: Path,
    launcher_env: dict[str, str],
    launchers: list[Launcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    state_dir = tmp_path / "state"
    launcher = Launcher(state_dir, launcher_env)
    launchers.append(launcher)
    old_pids = launcher.wait_ready()["pids"]
    assert isinstance(old_pids, dict)
    again = Stack(
        state_dir=state_dir,
        functions_source=APP,
        functions=APP_FUNCTIONS,
        standin_module=FAKE_STANDIN,
    )

    with pytest.raises(StackError, match="is running from"):
        again.start()  # the launcher is alive: its stack is not ours to stop
    assert not again.started_pids

    launcher.process.kill()
    launcher.process.wait(timeout=10)
    assert set(survivors(old_pids)) == set(old_pids), "children outlive a SIGKILLed launcher"

    with caplog.at_level(logging.INFO, logger="devstack"), again:
        assert survivors(old_pids) == {}
    assert "of an earlier run" in caplog.text
    assert survivors(again.started_pids) == {}


def test_up_refuses_a_live_stripe_key_before_starting_anything(tmp_path: Path) -> None:
    live_key = "sk_live_" + "x" * 24
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "devstack", "up", "--functions-source", str(APP), *APP_FUNCTION_ARGS,
         "--state-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        env=os.environ | {"STRIPE_SECRET_KEY": live_key},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "live-mode key" in result.stderr
    assert live_key not in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []


def test_wait_for_reports_what_it_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    # Its deadline is at least PATIENCE_S (90 s); lowered here so the failure costs no CI time.
    monkeypatch.setattr(support_stack, "PATIENCE_S", 0.1)
    with pytest.raises(AssertionError, match="waiting for nothing"):
        wait_for(lambda: None, 0.1, "nothing")
