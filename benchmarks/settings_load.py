"""What loading the settings costs a cold start: plain pydantic (what the functions use) against
pydantic-settings, side by side in one run.

Each round starts two fresh interpreters, one per way, in alternating order (A B, then B A), and
each times, from its first line: importing the settings module, declaring the settings class
and loading it from the environment of ``.env.example`` (as a function does at start). Both
ways load the very same classes: the pydantic-settings way mixes ``BaseSettings`` into the
product's class, so the fields, types and validators are the same, only the loading differs.
Both classes are checked to read equal values first. Prints medians, the spread and the ratio.

    python -m benchmarks.settings_load [--rounds 15]      (make bench-settings)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The child: one way, timed from its first statement to settings loaded. Imports outside the
# settings (the interpreter, json) are the same for both ways and not timed.
CHILD = r"""
import json, sys, time
way, deployable = sys.argv[1], sys.argv[2]
wall, cpu = time.perf_counter(), time.process_time()
if deployable == "billing":
    from billing.config import BillingSettings as Product
else:
    from mailer.config import MailSettings as Product
if way == "pydantic-settings":
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class Loaded(BaseSettings, Product):
        model_config = SettingsConfigDict(
            case_sensitive=False, extra="ignore", frozen=True, enable_decoding=False
        )

    settings = Loaded()
else:

    class Loaded(Product):
        pass

    settings = Loaded.load()
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
values = settings.model_dump(mode="json")
print(json.dumps({"wall_ms": wall * 1000, "cpu_ms": cpu * 1000, "values": values}))
"""

WAYS = ("plain pydantic", "pydantic-settings")


def _environment() -> dict[str, str]:
    sys.path.insert(0, str(ROOT))
    from devstack.stack import read_env_file

    env = {key: value for key, value in os.environ.items() if not key.isupper() or key == "PATH"}
    env |= read_env_file(ROOT / ".env.example")
    env["STRIPE_WEBHOOK_SECRETS"] = "whsec_" + "b" * 32
    env["PYTHONPATH"] = str(ROOT / "functions")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_once(way: str, deployable: str, env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(  # noqa: S603 - our own interpreter and program
        [sys.executable, "-c", CHILD, way, deployable],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{way} ({deployable}) failed:\n{done.stderr}")
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _spread(values: list[float]) -> str:
    quartiles = statistics.quantiles(values, n=4)
    return f"{statistics.median(values):7.1f} ms (IQR {quartiles[0]:.1f}-{quartiles[2]:.1f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    env = _environment()
    print(f"settings import + load, fresh interpreter each, {args.rounds} rounds A B / B A")  # noqa: T201
    for deployable in ("billing", "mailer"):
        runs: dict[str, list[dict[str, object]]] = {way: [] for way in WAYS}
        for round_ in range(args.rounds):
            order = WAYS if round_ % 2 == 0 else WAYS[::-1]
            for way in order:
                runs[way].append(run_once(way, deployable, env))
        first = [run["values"] for run in runs[WAYS[0]]]
        if any(run["values"] != first[0] for way in WAYS for run in runs[way]):
            raise SystemExit(f"{deployable}: the two ways read different values")
        fields = len(runs[WAYS[0]][0]["values"])  # type: ignore[arg-type]
        print(f"\n{deployable} settings ({fields} fields, the same values both ways)")  # noqa: T201
        medians = {}
        for way in WAYS:
            wall = [float(run["wall_ms"]) for run in runs[way]]  # type: ignore[arg-type]
            cpu = [float(run["cpu_ms"]) for run in runs[way]]  # type: ignore[arg-type]
            medians[way] = (statistics.median(wall), statistics.median(cpu))
            print(f"  {way:18s} wall {_spread(wall)}   cpu {_spread(cpu)}")  # noqa: T201
        (plain_wall, plain_cpu), (ps_wall, ps_cpu) = medians[WAYS[0]], medians[WAYS[1]]
        print(  # noqa: T201
            f"  pydantic-settings / plain: wall {ps_wall / plain_wall:.2f}x "
            f"(+{ps_wall - plain_wall:.1f} ms), cpu {ps_cpu / plain_cpu:.2f}x "
            f"(+{ps_cpu - plain_cpu:.1f} ms)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
