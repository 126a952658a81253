"""``python -m devstack run -- CMD``: a command gets the running stack's environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from devstack.stack import REPO_ROOT, SmtpInfo, StackInfo, StripeInfo

SHOW = "import json, os; print(json.dumps({{k: os.environ.get(k) for k in {names!r}}}))"
NAMES = [
    "GOOGLE_CLOUD_PROJECT",
    "FIRESTORE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
    "STRIPE_API_BASE",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRETS",
    "SMTP_PORT",
    "PRODUCT_NAME",
]


def _stack_json(state_dir: Path) -> None:
    info = StackInfo(
        project_id="demo-elsewhere",
        functions={"reconcile": "http://127.0.0.1:9"},
        event_functions=[],
        firestore_emulator_host="127.0.0.1:18080",
        pubsub_emulator_host="127.0.0.1:18085",
        notifications_topic="billing-notifications",
        stripe=StripeInfo("standin", "http://127.0.0.1:12111", "http://127.0.0.1:12111", "whsec_x"),
        smtp=SmtpInfo("127.0.0.1", 12525),
        mail_dir=state_dir / "mail",
        logs_dir=state_dir / "logs",
        pids={},
    )
    (state_dir / "stack.json").write_text(json.dumps(info.to_json()))


def _run(state_dir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{REPO_ROOT / 'functions'}:{REPO_ROOT}"}
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "devstack", "run", "--state-dir", str(state_dir), *options,
         "--", sys.executable, "-c", SHOW.format(names=NAMES)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_command_gets_the_addresses_and_project_of_the_running_stack(tmp_path: Path) -> None:
    _stack_json(tmp_path)
    done = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "GOOGLE_CLOUD_PROJECT": "demo-elsewhere",
        "FIRESTORE_EMULATOR_HOST": "127.0.0.1:18080",
        "PUBSUB_EMULATOR_HOST": "127.0.0.1:18085",
        "STRIPE_API_BASE": "http://127.0.0.1:12111",
        "STRIPE_SECRET_KEY": "sk_test_standin_local",
        "STRIPE_WEBHOOK_SECRETS": "whsec_x",
        "SMTP_PORT": "12525",
        "PRODUCT_NAME": "Acme Cloud",  # the functions' defaults from .env.example
    }


def test_without_a_running_stack_the_command_is_refused_naming_make_run(tmp_path: Path) -> None:
    done = _run(tmp_path)
    assert done.returncode == 1
    assert "no local stack is running" in done.stderr
    assert "`make run`" in done.stderr
    assert done.stdout == ""


def test_if_running_runs_the_command_as_it_is_without_a_stack(tmp_path: Path) -> None:
    done = _run(tmp_path, "--if-running")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["GOOGLE_CLOUD_PROJECT"] is None
