"""``python -m devstack.stripe_standin`` serves until SIGTERM and exits cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests
import stripe

from tests.standin.conftest import wait_for
from tests.support.stack import PATIENCE_S

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(url: str) -> bool:
    try:
        return bool(requests.get(f"{url}/_standin/health", timeout=1).json() == {"ok": True})
    except requests.RequestException:
        return False


def test_cli_serves_and_stops_on_sigterm() -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
        [
            sys.executable,
            "-m",
            "devstack.stripe_standin",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webhook-secret",
            "whsec_cli",
            "--latency-ms",
            "5",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: _healthy(url))
        config = requests.get(f"{url}/_standin/config", timeout=5).json()
        assert (config["webhook_secret"], config["latency_ms"]) == ("whsec_cli", 5)
        client = stripe.StripeClient("sk_test_cli", base_addresses={"api": url})
        assert client.v1.payment_methods.retrieve("pm_card_visa").type == "card"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=PATIENCE_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
