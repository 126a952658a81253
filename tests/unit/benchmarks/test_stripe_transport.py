"""The Stripe transport benchmark measures both clients on the same answered read."""

from __future__ import annotations

from benchmarks import stripe_transport
from benchmarks.report import markdown


def test_both_clients_read_the_same_subscription_and_the_row_gives_their_ratio() -> None:
    result = stripe_transport.measure(calls=5, rounds=2)
    for way in ("requests", "urllib3", "typed"):
        figures = result[way]
        assert 0 < figures["min_ms"] <= figures["median_ms"] <= figures["max_ms"]
    assert result["ratio"] == round(
        result["urllib3"]["median_ms"] / result["requests"]["median_ms"], 2
    )
    table = markdown(
        {"machine": {"cpus": 2, "python": "3.12"}, "seconds": 1.0, "load": "1 -> 1"}
        | {"stripe_transport": result}
    )
    assert f"ratio {result['ratio']:.2f}x" in table
    assert "RequestsClient on a shared session" in table
    assert result["json_ratio"] == round(
        result["urllib3"]["median_ms"] / result["typed"]["median_ms"], 2
    )
    assert f"then to_dict {result['typed']['median_ms']:.2f} ms" in table


def test_the_read_is_parsed_as_stripe_sent_it() -> None:
    server = stripe_transport._server(stripe_transport._subscription())
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        from billing.stripe_api import raw

        for client in (
            stripe_transport._requests_client(base),
            stripe_transport._urllib3_client(base),
        ):
            sub = raw.get(client, "/v1/subscriptions/sub_1", expand=stripe_transport.EXPAND)
            assert sub["items"]["data"][0]["price"]["product"]["name"] == "Basic"
        typed = stripe_transport._urllib3_client(base).v1.subscriptions.retrieve("sub_1")
        assert typed.to_dict() == sub  # the typed way reads back the same answer
    finally:
        server.shutdown()
        server.server_close()
