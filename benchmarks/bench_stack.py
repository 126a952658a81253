"""The stack a benchmark runs on, the proxies that time it, and users in known states.

One local stack (real emulators, the Stripe stand-in at zero latency, every function) on the
documented defaults (``.env.example``, never a developer's ``.env``), with the functions
talking to Stripe and Firestore through :class:`benchmarks.wire.TimingProxy`. Extra function
instances (fresh, for cold starts and per-instance figures) are started beside it with the
same environment, from this tree or another (``--baseline``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import stripe

from benchmarks.wire import TimingProxy
from devstack import procs
from devstack.stack import FunctionSpec, Stack, StackInfo, function_argv, function_process_env
from devstack.tokens import mint_token

REPO = Path(__file__).resolve().parents[1]
HELLO_SOURCE = Path(__file__).resolve().parent / "hello" / "main.py"


@dataclass
class Instance:
    """One function process (gunicorn master + worker) started by the benchmark."""

    name: str
    url: str
    child: procs.Child
    started: float  # perf_counter when the process was spawned

    def rss_bytes(self) -> int:
        """Resident memory of every process in the instance's group (master and worker)."""
        total = 0
        for pid in procs.group_members(self.child.pid):
            with suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        return total

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the instance's master and worker."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in procs.group_members(self.child.pid):
            with suppress(OSError):
                raw = Path(f"/proc/{pid}/stat").read_text()
                fields = raw[raw.rfind(")") + 2 :].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def stop(self) -> None:
        procs.stop_children([self.child], grace=3.0)


@dataclass
class Bench:
    stack: Stack
    info: StackInfo
    stripe_wire: TimingProxy
    firestore_wire: TimingProxy
    # Identity Toolkit (the Auth emulator): the webhook's billing claim reads and writes it
    # per event; its wait is upstream time like Stripe's and Firestore's, not our work.
    auth_wire: TimingProxy
    state_dir: Path
    sdk: stripe.StripeClient = field(init=False)

    def __post_init__(self) -> None:
        assert self.info.stripe.api_base is not None
        self.sdk = stripe.StripeClient(
            "sk_test_bench", base_addresses={"api": self.info.stripe.api_base}
        )

    @property
    def control(self) -> str:
        assert self.info.stripe.control_url is not None
        return self.info.stripe.control_url

    def spawn(
        self,
        target: str,
        *,
        source: Path | None = None,
        env: dict[str, str] | None = None,
        bin_dir: Path | None = None,
    ) -> Instance:
        """Starts one more instance of ``target`` (from ``source``, default this tree's
        functions; with the functions-framework of ``bin_dir``, default this environment's);
        returns as soon as the process is spawned (see :func:`wait_port`)."""
        source = source or self.stack.functions_source
        port = procs.free_port()
        spec = FunctionSpec(target, "http")
        environ = function_process_env(self.stack.function_environ | (env or {}), spec, source)
        name = f"bench-{target}-{uuid.uuid4().hex[:6]}"
        argv = function_argv(source, spec, procs.LOCALHOST, port)
        if bin_dir is not None:
            argv[0] = str(bin_dir / "functions-framework")
        started = time.perf_counter()
        child = procs.spawn(
            name,
            argv,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **environ},
            cwd=REPO,
            log_path=self.state_dir / "logs" / f"{name}.log",
        )
        return Instance(name, f"http://{procs.LOCALHOST}:{port}", child, started)


def wait_port(instance: Instance, timeout: float = 60.0) -> float:
    """Seconds from spawn until the instance's port accepts a connection."""
    host, port = instance.url.removeprefix("http://").split(":")
    while True:
        if procs.tcp_accepts(host, int(port), timeout=0.2):
            return time.perf_counter() - instance.started
        if instance.child.exited() is not None:
            raise RuntimeError(f"{instance.name} exited: {procs.tail(instance.child.log_path)}")
        if time.perf_counter() - instance.started > timeout:
            raise RuntimeError(f"{instance.name} did not open its port in {timeout:.0f} s")
        time.sleep(0.002)


@contextmanager
def bench_stack() -> Iterator[Bench]:
    with ExitStack() as stack:
        state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        stripe_wire = stack.enter_context(TimingProxy("http1"))
        firestore_wire = stack.enter_context(TimingProxy("h2"))
        auth_wire = stack.enter_context(TimingProxy("http1"))
        shutil.copy(REPO / ".env.example", state / ".env.example")
        overrides = {
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{firestore_wire.port}",
            "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_wire.port}",
            "FIREBASE_AUTH_EMULATOR_HOST": f"127.0.0.1:{auth_wire.port}",
        }
        running = Stack(state_dir=state, env_dir=state, env_overrides=overrides)
        info = stack.enter_context(running)
        host, port = info.firestore_emulator_host.rsplit(":", 1)
        firestore_wire.target = (host, int(port))
        assert info.stripe.api_base is not None
        stripe_host, stripe_port = info.stripe.api_base.removeprefix("http://").split(":")
        stripe_wire.target = (stripe_host, int(stripe_port))
        assert info.auth_emulator_host is not None
        auth_host, auth_port = info.auth_emulator_host.rsplit(":", 1)
        auth_wire.target = (auth_host, int(auth_port))
        yield Bench(running, info, stripe_wire, firestore_wire, auth_wire, state)


# --- users in known states --------------------------------------------------------------------


class User:
    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.uid = f"bench-{uuid.uuid4().hex[:12]}"
        email = f"{self.uid}@example.com"
        self.token = mint_token(self.uid, email, project_id=bench.info.project_id)
        self.headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        self.ids: dict[str, str] = {}

    def call(self, function: str, body: dict[str, Any]) -> dict[str, Any]:
        """One setup call; a 503 (an emulator slow on a loaded machine) is retried, as the
        frontend would, for up to two minutes: the operations used here are idempotent."""
        deadline = time.monotonic() + 120
        while True:
            response = requests.post(
                self.bench.info.function_url(function), json=body, headers=self.headers, timeout=60
            )
            if response.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(float(response.headers.get("Retry-After", "1")))
        if response.status_code != 200:
            raise RuntimeError(f"{function}: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def save_card(self, card: str) -> str:
        intent = self.call("create-setup-intent", {})
        confirmed = self.bench.sdk.v1.setup_intents.confirm(
            intent["setup_intent_id"], params={"payment_method": card}
        )
        return str(confirmed.payment_method)

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """A request for the load driver."""
        return {"body": json.dumps(body), "headers": self.headers}


def subscribed_user(bench: Bench) -> User:
    """A customer with an active subscription, a paid invoice and a second saved card."""
    user = User(bench)
    user.ids["customer"] = user.call("create-customer", {"name": "Bench"})["customer_id"]
    sub = user.call("create-subscription", {"price_id": "price_basic_monthly"})
    user.ids["subscription"] = sub["subscription_id"]
    bench.sdk.v1.payment_intents.confirm(
        sub["client_secret"].split("_secret_")[0], params={"payment_method": "pm_card_visa"}
    )
    view = user.call("retrieve-subscription", {"subscription_id": sub["subscription_id"]})
    user.ids["invoice"] = view["latest_invoice"]["id"]
    user.ids["card"] = user.save_card("pm_card_mastercard")
    return user


def unpaid_user(bench: Bench) -> User:
    """A customer whose first payment was declined (an open invoice) and who then saved a
    card that pays: what retry-invoice is for."""
    user = User(bench)
    user.ids["customer"] = user.call("create-customer", {"name": "Bench"})["customer_id"]
    sub = user.call("create-subscription", {"price_id": "price_basic_monthly"})
    with suppress(stripe.CardError):
        bench.sdk.v1.payment_intents.confirm(
            sub["client_secret"].split("_secret_")[0],
            params={"payment_method": "pm_card_chargeDeclined"},
        )
    invoice = bench.sdk.v1.subscriptions.retrieve(sub["subscription_id"]).latest_invoice
    assert invoice is not None
    user.ids["invoice"] = invoice if isinstance(invoice, str) else str(invoice.id)
    user.ids["card"] = user.save_card("pm_card_visa")
    return user


def customer_user(bench: Bench) -> User:
    user = User(bench)
    user.ids["customer"] = user.call("create-customer", {"name": "Bench"})["customer_id"]
    return user


def run_driver(
    url: str, requests_: list[dict[str, Any]], *, clients: int, count: int, warmup: int = 0
) -> list[tuple[float, float, int, str]]:
    """Runs the load driver in its own process; returns (start, end, status, request id)."""
    job = {"url": url, "requests": requests_, "clients": clients, "count": count, "warmup": warmup}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.driver"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": f"{REPO}"},
    )
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    return [(float(a), float(b), int(c), str(d)) for a, b, c, d in rows]
