"""``POST /_standin/reset`` forgets everything but the catalog (own app, not the shared one)."""

from __future__ import annotations

from devstack.stripe_standin import Standin, StandinConfig, create_app

AUTH = {"Authorization": "Bearer sk_test_reset"}


def test_reset_keeps_only_the_catalog() -> None:
    standin = Standin(StandinConfig())
    try:
        http = create_app(standin=standin).test_client()
        created = http.post("/v1/customers", data={"email": "r@example.com"}, headers=AUTH)
        assert created.status_code == 200
        customer_id = created.get_json()["id"]
        http.post("/_standin/faults", json={"path_prefix": "/v1/nothing", "status": 500})
        http.post("/_standin/clock/advance", json={"seconds": 3600})

        assert http.post("/_standin/reset").get_json() == {"reset": True}

        assert http.get("/_standin/requests").get_json()["data"] == []
        assert http.get("/_standin/faults").get_json()["data"] == []
        assert http.get(f"/v1/customers/{customer_id}", headers=AUTH).status_code == 404
        assert http.get("/v1/events", headers=AUTH).get_json()["data"] == []
        assert set(standin.state.data.prices) == {
            "price_basic_monthly",
            "price_pro_monthly",
            "price_pro_yearly",
            "price_legacy_monthly",
            "price_basic_api_calls_monthly",
            "price_pro_api_calls_monthly",
            "price_pro_api_calls_yearly",
        }
    finally:
        standin.close()
