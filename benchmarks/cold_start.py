"""What a cold instance spends its start on, step by step, in the environment a deploy has.

Each measurement is a fresh interpreter of the runtime environment (``requirements.txt``
alone, sources compiled: :mod:`benchmarks.runtime_env`) timing one step inside itself, on the
wall clock and in CPU seconds: the interpreter with nothing imported, each library every
function needs, billing's settings loaded from the environment as a function's boot does, the
ID-token verifier's libraries (PyJWT; firebase-admin, which it replaced, is no longer a
requirement: the last run that measured it is in docs/performance.md), ``import main`` of a
browser function and of the email function (with and without building the mailer), and the
email function's first mail composed from its compiled templates and, paired, from the
template sources. Rounds interleave the cases so that load on the machine hits all alike; the
figures are medians.

Run: ``make bench-cold-start`` (``make bench`` includes it as the cold-start breakdown).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import runtime_env
from devstack.stack import REPO_ROOT, read_env_file
from tools.mail_samples import SAMPLES

FUNCTIONS = REPO_ROOT / "functions"

CASES: dict[str, tuple[str | None, str]] = {
    "interpreter, nothing imported": (None, "pass"),
    "functions_framework (and Flask)": (None, "import functions_framework"),
    "pydantic": (None, "import pydantic"),
    "billing settings loaded (billing.config)": (
        None,
        "from billing.config import load_settings\nload_settings()",
    ),
    "stripe": (None, "import stripe"),
    "google.cloud.firestore": (None, "from google.cloud import firestore"),
    "PyJWT + cryptography (ID tokens)": (
        None,
        "import jwt\nfrom cryptography import x509",
    ),
    "library floor, bare imports (framework, stripe, firestore, pydantic)": (
        None,
        "import functions_framework, pydantic, stripe\nfrom google.cloud import firestore",
    ),
    # What the floor function imports (benchmarks/floor/main.py): the names every function
    # uses, which load what the bare imports above leave for first use.
    "library floor (the names every function imports)": (
        None,
        "import functions_framework\nfrom google.cloud.firestore import Client\n"
        "from pydantic import BaseModel, Field\nfrom stripe import StripeClient",
    ),
    "retrieve_subscription: import main": ("retrieve_subscription", "import main"),
    "send_email: import main": ("send_email", "import main"),
    "send_email: import main + build the mailer": (
        "send_email",
        "import main\nfrom mailer import handler\nhandler.current()",
    ),
}

# The first mail an instance composes (a receipt), from the compiled templates the function
# ships and, paired in the same rounds, from the template sources as it did before.
_RECEIPT = json.dumps(SAMPLES["payment_succeeded-usd"]).encode()
_FIRST_MAIL = (
    "import main\nfrom datetime import UTC, datetime\nfrom mailer import handler\n"
    "from mailer.compose import TEMPLATES, Composer, recipient\nfrom mailer.contract import parse\n"
    "from jinja2 import FileSystemLoader\n"
    f"note = parse({_RECEIPT!r})\n"
    "composer = handler.current().composer\n"
    "{loader}"
    "composer.compose(note, recipient(note), datetime.now(UTC))\n"
)
CASES["send_email: first mail composed (compiled templates)"] = (
    "send_email",
    _FIRST_MAIL.replace("{loader}", ""),
)
CASES["send_email: first mail composed (template sources)"] = (
    "send_email",
    _FIRST_MAIL.replace(
        "{loader}", "composer = Composer(composer.brand, FileSystemLoader(TEMPLATES))\n"
    ),
)

PROGRAM = """
import json, sys, time
began, cpu = time.perf_counter(), time.process_time()
exec(compile({step!r}, "<step>", "exec"))
elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"stripe", "firebase_admin", "babel",
    "jinja2", "google", "jwt", "pydantic_settings"}})
print(json.dumps({{"seconds": elapsed, "cpu": cpu, "loaded": heavy}}))
"""


def measure(python: Path, functions: Path, target: str | None, step: str) -> dict[str, Any]:
    env = {
        **read_env_file(REPO_ROOT / ".env.example"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(functions),
        # Nothing listens there: building the Firestore client makes no call.
        "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
        "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099",
    }
    if target is not None:
        env["FUNCTION_TARGET"] = target
    result = subprocess.run(  # noqa: S603 - our own interpreter and program
        [str(python), "-c", PROGRAM.format(step=step)],
        cwd=functions,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def run(rounds: int) -> dict[str, Any]:
    """Median wall and CPU milliseconds of each step, and what it loaded."""
    bin_dir = runtime_env.runtime_bin()
    with tempfile.TemporaryDirectory(prefix="cold-start-") as scratch:
        main = runtime_env.deployed_copy(FUNCTIONS / "main.py", Path(scratch))
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in CASES}
        for _ in range(rounds):
            for name, (target, step) in CASES.items():
                samples[name].append(measure(bin_dir / "python", main.parent, target, step))
    return {
        "rounds": rounds,
        "steps": {
            name: {
                "wall_ms": round(statistics.median(s["seconds"] for s in runs) * 1000, 1),
                "cpu_ms": round(statistics.median(s["cpu"] for s in runs) * 1000, 1),
                "loads": runs[-1]["loaded"],
            }
            for name, runs in samples.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    result = run(args.rounds)
    print(f"Cold-start steps, median of {args.rounds} fresh interpreters each:")  # noqa: T201
    for name, step in result["steps"].items():
        print(  # noqa: T201
            f"  {name:<56} {step['wall_ms']:7.1f} ms  CPU {step['cpu_ms']:7.1f} ms   "
            f"loads: {', '.join(step['loads']) or '-'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
