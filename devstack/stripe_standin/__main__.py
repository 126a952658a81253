"""Run the Stripe stand-in until SIGTERM/SIGINT.

    python -m devstack.stripe_standin --host 127.0.0.1 --port 12111 \\
        [--webhook-url URL] [--webhook-secret whsec_...] [--latency-ms N]
        [--no-portal-configuration]
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType

from devstack.stripe_standin.app import create_app
from devstack.stripe_standin.options import StandinConfig
from devstack.stripe_standin.server import Standin
from devstack.stripe_standin.serving import serve

log = logging.getLogger("devstack.stripe_standin")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.stripe_standin", description="Local stand-in for Stripe's API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--webhook-secret", default=None)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--webhook-max-attempts", type=int, default=5)
    parser.add_argument("--webhook-backoff-s", type=float, default=0.5)
    parser.add_argument(
        "--no-portal-configuration",
        dest="portal_configuration",
        action="store_false",
        help="start as a fresh Stripe account: no saved billing portal configuration",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = StandinConfig(
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        latency_ms=args.latency_ms,
        webhook_max_attempts=args.webhook_max_attempts,
        webhook_backoff_s=args.webhook_backoff_s,
        portal_configuration=args.portal_configuration,
    )
    standin = Standin(config)
    server = serve(args.host, args.port, create_app(standin=standin))
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        del frame
        if not stopping.is_set():
            stopping.set()
            log.info("signal %d: shutting down", signum)
            # shutdown() waits for serve_forever() to return, so call it from another thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "Stripe stand-in listening on http://%s:%d (API %s); webhooks -> %s",
        args.host,
        server.server_port,
        "2026-10-28.endive",
        args.webhook_url or "off",
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
        standin.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
