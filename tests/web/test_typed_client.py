"""The TypeScript client in web/src/client is generated from openapi.yaml and the example app
type-checks against it: when the contract changes, these fail until `npm run client` (in web/)
regenerates the types and the app is fixed."""

from __future__ import annotations

import subprocess
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"


def _npm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own npm scripts
        ["npm", "run", "--silent", *args],  # noqa: S607 - npm from PATH, as scripts/setup uses it
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_generated_client_matches_openapi_yaml() -> None:
    done = _npm("client:check")
    assert done.returncode == 0, (
        "web/src/client/schema.d.ts is not what openapi.yaml generates; run `npm run client` "
        f"in web/:\n{done.stdout}{done.stderr}"
    )


def test_the_example_app_type_checks_against_the_client() -> None:
    done = _npm("typecheck")
    assert done.returncode == 0, f"tsc found errors in web/:\n{done.stdout}{done.stderr}"


def test_the_example_apps_component_tests_pass() -> None:
    """vitest (web/src/*.test.ts[x]): the Payment Element switch and the client secret it
    passes, confirmPayment / confirmSetup, and the usage table. Stripe.js itself cannot run
    here (no network, no Stripe account): those tests replace Elements by a recorder."""
    done = _npm("test")
    assert done.returncode == 0, f"vitest failed in web/:\n{done.stdout}{done.stderr}"
    assert "failed" not in done.stdout.lower().replace("0 failed", "")
