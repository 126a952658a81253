"""What a cold instance of the email function imports, next to functions-framework alone.

Each measurement is a fresh interpreter (as a new instance is) timing one step inside itself:
importing functions-framework alone; ``import main`` for ``send_email`` (boot imports and
builds the handler: contract, templates, Babel, smtplib, the Firestore library); the same plus
building the mailer as the first message does (Firestore client, Jinja environment, SMTP
client); ``import main`` for ``create_customer``, a browser function that loads Stripe and
firebase-admin, for comparison; and the two libraries the email function adds. Rounds
interleave the cases so that load on the machine hits all alike. Prints medians, and ratios
to functions-framework alone.
Run: ``make bench-cold-start`` (or ``.venv/bin/python -m benchmarks.cold_start``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from devstack.stack import REPO_ROOT, read_env_file

FUNCTIONS = REPO_ROOT / "functions"

CASES: dict[str, tuple[str | None, str]] = {
    "functions_framework alone": (None, "import functions_framework"),
    "send_email: import main": ("send_email", "import main"),
    "send_email: import main + build the mailer": (
        "send_email",
        "import main\nfrom mailer import handler\nhandler.current()",
    ),
    "create_customer: import main": ("create_customer", "import main"),
    # What the email function's share is made of:
    "google.cloud.firestore alone": (None, "from google.cloud import firestore"),
    "babel (numbers, dates) alone": (None, "import babel.numbers, babel.dates"),
}

PROGRAM = """
import json, sys, time
began = time.perf_counter()
exec(compile({step!r}, "<step>", "exec"))
elapsed = time.perf_counter() - began
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"stripe", "firebase_admin", "babel",
    "jinja2", "google"}})
print(json.dumps({{"seconds": elapsed, "loaded": heavy}}))
"""


def measure(target: str | None, step: str) -> tuple[float, list[str]]:
    env = {
        **read_env_file(REPO_ROOT / ".env.example"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(FUNCTIONS),
        # Nothing listens there: building the Firestore client makes no call.
        "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
        "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099",
    }
    if target is not None:
        env["FUNCTION_TARGET"] = target
    result = subprocess.run(  # noqa: S603 - our own interpreter and program
        [sys.executable, "-c", PROGRAM.format(step=step)],
        cwd=FUNCTIONS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return float(report["seconds"]), list(report["loaded"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    loaded: dict[str, list[str]] = {}
    for _ in range(args.rounds):
        for name, (target, step) in CASES.items():
            seconds, loaded[name] = measure(target, step)
            times[name].append(seconds)
    base = statistics.median(times["functions_framework alone"])
    print(f"Cold-start imports, median of {args.rounds} fresh interpreters each:")  # noqa: T201
    for name, samples in times.items():
        median = statistics.median(samples)
        print(  # noqa: T201
            f"  {name:<44} {median * 1000:6.0f} ms  {median / base:5.2f}x   "
            f"loads: {', '.join(loaded[name]) or '-'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
