"""Firebase ID token verification, in emulator mode and with real RS256 signatures."""

from __future__ import annotations

import datetime
import time
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pytest_mock import MockerFixture

from billing.auth import FirebaseTokenVerifier, bearer_token
from billing.errors import Unauthenticated, UpstreamUnavailable
from devstack.tokens import mint_token
from tests.support.hostile import HOSTILE_TOKENS, claims_with

PROJECT = "demo-billing"


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc.def.") == "abc.def."
    assert bearer_token("bearer   abc") == "abc"
    for bad in (None, "", "Bearer", "Token abc", "Bearer a b"):
        with pytest.raises(Unauthenticated):
            bearer_token(bad)


class TestEmulatorMode:
    @pytest.fixture
    def verifier(self, monkeypatch: pytest.MonkeyPatch) -> FirebaseTokenVerifier:
        monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
        return FirebaseTokenVerifier(PROJECT, emulated=True)

    def test_accepts_an_emulator_token(self, verifier: FirebaseTokenVerifier) -> None:
        caller = verifier.verify(mint_token("alice", "alice@example.com"))
        assert (caller.uid, caller.email, caller.email_verified) == (
            "alice",
            "alice@example.com",
            True,
        )

    @pytest.mark.parametrize(
        ("token", "code"),
        [
            (mint_token("alice", expires_in=-60), "expired_token"),
            (mint_token("alice", project_id="someone-elses-project"), "invalid_token"),
            (
                mint_token("alice", extra_claims={"iss": "https://evil.example/demo-billing"}),
                "invalid_token",
            ),
            (mint_token("alice", issued_at=int(time.time()) + 3600), "invalid_token"),
            # A signature that cannot be checked locally is a forgery as far as we know.
            (
                mint_token("alice", header={"alg": "RS256", "kid": "x"}, signature="c2lnbmF0dXJl"),
                "invalid_token",
            ),
            (mint_token("alice", signature="c2lnbmF0dXJl"), "invalid_token"),
            (mint_token("", email="a@b.c"), "invalid_token"),
            ("not-a-jwt", "invalid_token"),
            ("a.b.c", "invalid_token"),
        ],
    )
    def test_rejects(self, verifier: FirebaseTokenVerifier, token: str, code: str) -> None:
        with pytest.raises(Unauthenticated) as caught:
            verifier.verify(token)
        assert caught.value.code == code

    def test_the_hostile_token_helpers_build_a_valid_token(
        self, verifier: FirebaseTokenVerifier
    ) -> None:
        # So each hostile token below is refused for its one bad part, not for another.
        assert verifier.verify(claims_with()).uid == "alice"

    @pytest.mark.parametrize("name", sorted(HOSTILE_TOKENS))
    def test_hostile_tokens_are_401(self, verifier: FirebaseTokenVerifier, name: str) -> None:
        with pytest.raises(Unauthenticated) as caught:
            verifier.verify(HOSTILE_TOKENS[name])
        assert caught.value.code == "invalid_token"


def _key_and_cert() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


class TestProductionMode:
    """No emulator variable: firebase-admin checks RS256 signatures against Google's keys.

    Google's key endpoint is out of reach here, so the test serves its own certificate at
    the one network boundary (``_fetch_certs``) and signs tokens with the matching key.
    """

    @pytest.fixture
    def keys(self, mocker: MockerFixture) -> dict[str, Any]:
        google_key, google_cert = _key_and_cert()
        mocker.patch("google.oauth2.id_token._fetch_certs", return_value={"kid-1": google_cert})
        return {"google": google_key, "attacker": _key_and_cert()[0]}

    @pytest.fixture
    def verifier(self, monkeypatch: pytest.MonkeyPatch) -> FirebaseTokenVerifier:
        monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
        return FirebaseTokenVerifier(PROJECT, emulated=False)

    @staticmethod
    def _sign(key: rsa.RSAPrivateKey, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": f"https://securetoken.google.com/{PROJECT}",
            "aud": PROJECT,
            "sub": "alice",
            "iat": now,
            "exp": now + 3600,
            "auth_time": now,
            "email": "alice@example.com",
        }
        claims.update(overrides)
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "kid-1"})

    def test_accepts_a_token_signed_by_google(
        self, keys: dict[str, Any], verifier: FirebaseTokenVerifier
    ) -> None:
        assert verifier.verify(self._sign(keys["google"])).uid == "alice"

    def test_rejects_a_forged_signature(
        self, keys: dict[str, Any], verifier: FirebaseTokenVerifier
    ) -> None:
        with pytest.raises(Unauthenticated) as caught:
            verifier.verify(self._sign(keys["attacker"]))
        assert caught.value.code == "invalid_token"

    def test_rejects_an_unsigned_emulator_token(self, verifier: FirebaseTokenVerifier) -> None:
        with pytest.raises(Unauthenticated):
            verifier.verify(mint_token("alice"))

    def test_rejects_expired_and_wrong_project(
        self, keys: dict[str, Any], verifier: FirebaseTokenVerifier
    ) -> None:
        old = int(time.time()) - 7200
        with pytest.raises(Unauthenticated) as expired:
            verifier.verify(self._sign(keys["google"], iat=old, exp=old + 3600, auth_time=old))
        assert expired.value.code == "expired_token"
        with pytest.raises(Unauthenticated):
            verifier.verify(self._sign(keys["google"], aud="other-project"))

    @pytest.mark.parametrize("name", sorted(HOSTILE_TOKENS))
    def test_hostile_tokens_are_401_before_any_key_is_fetched(
        self, mocker: MockerFixture, verifier: FirebaseTokenVerifier, name: str
    ) -> None:
        fetch = mocker.patch("google.oauth2.id_token._fetch_certs")
        with pytest.raises(Unauthenticated) as caught:
            verifier.verify(HOSTILE_TOKENS[name])
        assert caught.value.code == "invalid_token"
        fetch.assert_not_called()

    def test_unreachable_key_endpoint_is_503_not_401(
        self, mocker: MockerFixture, verifier: FirebaseTokenVerifier
    ) -> None:
        import google.auth.exceptions

        mocker.patch(
            "google.oauth2.id_token._fetch_certs",
            side_effect=google.auth.exceptions.TransportError("no route"),
        )
        key, _ = _key_and_cert()
        with pytest.raises(UpstreamUnavailable):
            verifier.verify(self._sign(key))
