"""``python -m devstack up``: run the whole local stack until Ctrl-C. ``down`` stops a stack left
behind by a launcher that was killed hard (``up`` does that too before it starts). ``run -- CMD``
runs a command against the running stack, with the environment its functions have (read from
``.devstack/stack.json``): ``make token`` uses it. ``reconcile --dry-run|--apply`` calls the
running stack's reconcile job as Cloud Scheduler would, with a token the stack signs for its
stand-in scheduler: ``make reconcile`` uses it."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from devstack.stack import (
    DEFAULT_FUNCTIONS_SOURCE,
    DEFAULT_STATE_DIR,
    MAX_DELIVERY_ATTEMPTS,
    REPO_ROOT,
    FunctionSpec,
    Stack,
    StackError,
    StackInfo,
    dead_letter_topic,
    stack_environment,
    stop_recorded,
    stripe_key_from_environment,
)
from devstack.tokens import DEFAULT_PROJECT, mint_scheduler_token, mint_token

log = logging.getLogger("devstack")

CURL_BODIES = {"create-customer": '{"name": "Ada"}'}
SERVICE_NAMES = ("firestore", "pubsub", "stripe-standin", "smtp-sink", "auth", "web")


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is inside it, as a developer types it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def summary(info: StackInfo, stack_file: Path) -> str:
    python = _shown(Path(sys.executable).parent / "python")
    width = max(len(name) for name in info.functions) if info.functions else 0
    seconds = info.startup_seconds
    parts = [f"{name} {seconds[name]:.1f} s" for name in SERVICE_NAMES if name in seconds]
    if info.functions:
        parts.append(f"functions {max(seconds.get(name, 0.0) for name in info.functions):.1f} s")
    lines = [
        f"Local stack is up in {seconds.get('total', 0.0):.1f} s ({', '.join(parts)});"
        f" project {info.project_id}",
        "",
    ]
    if info.web_url:
        lines += [f"Web app             {info.web_url}  (the example app in web/)", ""]
    lines.append("Functions:")
    for name, url in info.functions.items():
        topic = info.event_topics.get(name, "Pub/Sub")
        kind = f"  (CloudEvent, push from {topic})" if name in info.event_functions else ""
        lines.append(f"  {name:<{width}}  {url}{kind}")
    if not info.functions:
        lines.append("  (none found in functions/main.py)")
    lines += [
        "",
        f"Firestore emulator  FIRESTORE_EMULATOR_HOST={info.firestore_emulator_host}",
        f"Auth emulator       FIREBASE_AUTH_EMULATOR_HOST={info.auth_emulator_host}"
        "  (sign up at /identitytoolkit.googleapis.com/v1/accounts:signUp?key=any)",
        f"Pub/Sub emulator    PUBSUB_EMULATOR_HOST={info.pubsub_emulator_host}"
        + (
            f"  (topic {info.notifications_topic}; failed ones end in"
            f" {dead_letter_topic(info.notifications_topic)})"
            if info.notifications_topic
            else ""
        ),
    ]
    if info.usage_topic:
        lines.append(
            f"Usage topic         {info.usage_topic}  (report usage here: packages/billing-usage;"
            f" failed ones end in {dead_letter_topic(info.usage_topic)})"
        )
    if info.stripe.mode == "standin":
        lines.append(f"Stripe              local stand-in at {info.stripe.api_base}")
        if info.stripe.webhook_url:
            lines.append(f"                    webhooks go to {info.stripe.webhook_url}")
    else:
        lines.append(
            "Stripe              real test mode (api.stripe.com, key from STRIPE_SECRET_KEY)"
        )
        if info.stripe.webhook_url:
            lines.append(
                "                    webhooks: stripe listen --forward-to "
                f"{info.stripe.webhook_url} (and set STRIPE_WEBHOOK_SECRETS)"
            )
    lines += [
        f"Mail                {_shown(info.mail_dir)}/  (one .eml file per message;"
        f" SMTP sink on {info.smtp.host}:{info.smtp.port})",
        f"Logs                {_shown(info.logs_dir)}/<name>.log",
        f"Addresses           {_shown(stack_file)}",
    ]
    target = "create-customer" if "create-customer" in info.functions else None
    target = target or next((n for n in info.functions if n not in info.event_functions), None)
    if target is not None:
        token = mint_token("dev-user", "dev@example.com", project_id=info.project_id)
        body = CURL_BODIES.get(target, "{}")
        lines += [
            "",
            "Try it (the token is valid for an hour):",
            f"  TOKEN={token}",
            f'  curl -X POST {info.functions[target]} -H "Authorization: Bearer $TOKEN" '
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)}",
            "Another user's token:",
            f"  TOKEN=$({python} -m devstack.tokens --uid alice --email alice@example.com)",
        ]
    lines += ["", "Ctrl-C stops everything."]
    return "\n".join(lines)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _function_spec(text: str) -> FunctionSpec:
    name, _, kind = text.partition("=")
    if not name.isidentifier() or kind not in ("http", "cloudevent", "webhook"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=http|cloudevent|webhook")
    if kind == "webhook":
        return FunctionSpec(name, "http", webhook=True)
    return FunctionSpec(name, "cloudevent" if kind == "cloudevent" else "http")


def up(args: argparse.Namespace) -> int:
    if args.stripe == "auto":
        use_standin = stripe_key_from_environment(REPO_ROOT) is None
    else:
        use_standin = args.stripe == "standin"
    stack = Stack(
        state_dir=args.state_dir,
        use_standin=use_standin,
        functions_source=args.functions_source,
        functions=args.function or None,
        project_id=args.project,
        base_port=args.base_port,
        log_level=args.log_level,
        max_delivery_attempts=args.max_delivery_attempts,
        web=args.web,
    )
    # Children run in their own sessions, so a terminal's Ctrl-C reaches only this process;
    # SIGTERM and SIGHUP (terminal closed) take the same way out. SIGINT is set explicitly:
    # a shell starts background jobs with it ignored, and Python then keeps ignoring it.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    try:
        info = stack.start()
        print(summary(info, stack.stack_file), flush=True)  # noqa: T201
        reported: set[str] = set()
        while True:
            time.sleep(1)
            for name, code in stack.exited().items():
                if name not in reported:
                    reported.add(name)
                    log.error("%s exited with code %d; see %s", name, code, info.log_file(name))
    except KeyboardInterrupt:
        return 0
    except StackError as error:
        log.error("%s", error)
        return 1
    finally:
        # A second Ctrl-C must not cut the clean-up short; stopping is bounded anyway.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if stack.running:
            began = time.monotonic()
            log.info("stopping")
            stack.stop()
            log.info("stopped in %.1f s", time.monotonic() - began)


def down(args: argparse.Namespace) -> int:
    stopped = stop_recorded(args.state_dir)
    log.info("stopped %s", ", ".join(stopped) if stopped else "all: nothing is left running")
    return 0


def run(args: argparse.Namespace) -> int:
    command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not command:
        raise StackError("nothing to run: python -m devstack run -- COMMAND [ARGS...]")
    stack_file = args.state_dir / "stack.json"
    env = dict(os.environ)
    if stack_file.is_file():
        env |= stack_environment(StackInfo.load(stack_file))
    elif not args.if_running:
        raise StackError(
            f"no local stack is running ({_shown(stack_file)} not found): start one with "
            "`make run` in another terminal, then run this again"
        )
    sys.stdout.flush()
    os.execvpe(command[0], command, env)  # noqa: S606 - the developer's own command


def _running(state_dir: Path) -> StackInfo:
    stack_file = state_dir / "stack.json"
    if not stack_file.is_file():
        raise StackError(
            f"no local stack is running ({_shown(stack_file)} not found): start one with "
            "`make run` in another terminal, then run this again"
        )
    return StackInfo.load(stack_file)


def reconcile(args: argparse.Namespace) -> int:
    """POSTs the run's options to the stack's reconcile job with the stand-in scheduler's
    token, and prints what it answers: each change, then the counts."""
    import requests

    info = _running(args.state_dir)
    if (
        "reconcile" not in info.functions
        or info.scheduler_email is None
        or info.scheduler_key_file is None
    ):
        raise StackError("the running stack has no reconcile job (restart it with `make run`)")
    url = info.functions["reconcile"]
    key = Path(info.scheduler_key_file).read_bytes()
    token = mint_scheduler_token(url, info.scheduler_email, key)
    body = {"dry_run": args.dry_run, "usage_drift": args.usage_drift, "uids": args.uid or []}
    try:
        response = requests.post(
            url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=600
        )
    except requests.RequestException as exc:
        raise StackError(f"the reconcile job did not answer: {type(exc).__name__}") from None
    if response.status_code != 200:
        sys.stderr.write(f"reconcile refused ({response.status_code}): {response.text}\n")
        return 2
    summary = response.json()
    out = sys.stdout
    for uid in summary["skipped"]:
        out.write(f"{uid}: no Stripe customer; skipped\n")
    for change in summary["changes"]:
        for name, (stored, fresh) in change["changed"].items():
            out.write(f"{change['uid']}: {name}: {stored!r} -> {fresh!r}\n")
    for found in summary["usage_drift"]:
        out.write(
            f"{found['uid']}: usage drift on {found['meter']}: counted {found['counted']}, "
            f"in Stripe {found['in_stripe']:g} (period from {found['period_start']})\n"
        )
    verb = "would change" if summary["dry_run"] else "changed"
    out.write(
        f"checked {summary['checked']}, {verb} {summary['changed']}, failed {summary['failed']}"
        + (" (dry run: nothing written)" if summary["dry_run"] else "")
        + "\n"
    )
    return 1 if summary["failed"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start the local stack and run until Ctrl-C")
    up_parser.add_argument(
        "--functions-source",
        type=Path,
        default=DEFAULT_FUNCTIONS_SOURCE,
        help="the main.py that serves the functions (default: functions/main.py)",
    )
    up_parser.add_argument(
        "--function",
        action="append",
        type=_function_spec,
        metavar="NAME=http|cloudevent|webhook",
        help="run only these functions of --functions-source (default: the billing registry's)",
    )
    up_parser.add_argument(
        "--project",
        help=f"default: GOOGLE_CLOUD_PROJECT from .env or .env.example, else {DEFAULT_PROJECT}",
    )
    up_parser.add_argument(
        "--base-port",
        type=int,
        help="consecutive ports from here (default: free ports chosen by the OS each run)",
    )
    up_parser.add_argument(
        "--stripe",
        choices=["auto", "standin", "test"],
        default="auto",
        help="auto (default): Stripe test mode if STRIPE_SECRET_KEY=sk_test_..., else stand-in",
    )
    up_parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="the functions' LOG_LEVEL (default: from .env or .env.example, else INFO)",
    )
    up_parser.add_argument(
        "--max-delivery-attempts",
        type=int,
        default=MAX_DELIVERY_ATTEMPTS,
        help="pushes of a notification the email function fails before it goes to the "
        f"dead-letter topic (5-100, default {MAX_DELIVERY_ATTEMPTS})",
    )
    up_parser.add_argument(
        "--no-web",
        dest="web",
        action="store_false",
        help="do not serve the example web app (web/) beside the functions",
    )
    up_parser.add_argument(
        "-v", "--verbose", action="store_true", help="log each process's command and start time"
    )
    up_parser.set_defaults(handler=up)
    down_parser = commands.add_parser("down", help="stop processes left by a killed launcher")
    down_parser.set_defaults(handler=down)
    run_parser = commands.add_parser(
        "run", help="run a command with the running stack's environment (its stack.json)"
    )
    run_parser.add_argument(
        "--if-running",
        action="store_true",
        help="without a running stack, run the command with the environment as it is",
    )
    run_parser.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]")
    run_parser.set_defaults(handler=run)
    reconcile_parser = commands.add_parser(
        "reconcile",
        help="re-sync entitlements from Stripe through the stack's reconcile job, as its "
        "scheduler (a run's mode is always said)",
    )
    mode = reconcile_parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--dry-run", dest="dry_run", action="store_true", help="show changes, write nothing"
    )
    mode.add_argument(
        "--apply", dest="dry_run", action="store_false", help="write what Stripe says"
    )
    reconcile_parser.add_argument("--uid", action="append", help="only this user (repeatable)")
    reconcile_parser.add_argument(
        "--usage-drift",
        action="store_true",
        help="also compare quota counts with Stripe's meter summaries this period",
    )
    reconcile_parser.set_defaults(handler=reconcile)
    for sub in (up_parser, down_parser, run_parser, reconcile_parser):
        sub.add_argument(
            "--state-dir",
            type=Path,
            default=DEFAULT_STATE_DIR,
            help="stack.json, logs/ and mail/ go here (default: .devstack in the repo)",
        )
    args = parser.parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="devstack: %(message)s"
    )
    try:
        return int(args.handler(args))
    except StackError as error:
        log.error("%s", error)
        return 1


if __name__ == "__main__":
    sys.exit(main())
