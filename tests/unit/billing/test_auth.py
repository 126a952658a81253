"""Firebase ID token verification, in emulator mode and with real RS256 signatures."""

from __future__ import annotations

import base64
import datetime
import json
import time
from typing import Any

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pytest_mock import MockerFixture

from billing.auth import (
    CERTIFICATES_URL,
    DEFAULT_MAX_AGE_SECONDS,
    FirebaseTokenVerifier,
    PublicKeys,
    bearer_token,
    fetch_certificates,
)
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


# Google's endpoint is out of reach here: the tests publish their own certificates (two, as
# Google does) and sign with the matching keys; the attacker's key is published nowhere.
GOOGLE_KEY, GOOGLE_CERT = _key_and_cert()
OTHER_KEY, OTHER_CERT = _key_and_cert()
ATTACKER_KEY, _ = _key_and_cert()


def _with_header(token: str, header: dict[str, Any]) -> str:
    """``token`` with its header replaced (the signature then covers another header)."""
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return encoded + token[token.index(".") :]


class FakeCertificates:
    """Google's certificate endpoint, as :class:`PublicKeys` sees it: counted fetches."""

    def __init__(self, certificates: dict[str, str], max_age: float = 3600.0) -> None:
        self.certificates = certificates
        self.max_age = max_age
        self.fetches = 0
        self.failure: Exception | None = None

    def __call__(self) -> tuple[dict[str, str], float]:
        self.fetches += 1
        if self.failure is not None:
            raise self.failure
        return dict(self.certificates), self.max_age


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestProductionMode:
    """No emulator: RS256 signatures checked against Google's published keys, and every claim
    Firebase documents for third-party JWT libraries, each by a test of its own."""

    @pytest.fixture
    def endpoint(self) -> FakeCertificates:
        return FakeCertificates({"kid-1": GOOGLE_CERT, "kid-2": OTHER_CERT})

    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    @pytest.fixture
    def verifier(self, endpoint: FakeCertificates, clock: Clock) -> FirebaseTokenVerifier:
        return FirebaseTokenVerifier(
            PROJECT, emulated=False, keys=PublicKeys(fetch=endpoint, clock=clock)
        )

    @staticmethod
    def _sign(
        key: rsa.RSAPrivateKey | None = None,
        *,
        algorithm: str = "RS256",
        header: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        **overrides: Any,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": f"https://securetoken.google.com/{PROJECT}",
            "aud": PROJECT,
            "sub": "alice",
            "iat": now,
            "exp": now + 3600,
            "auth_time": now,
            "email": "alice@example.com",
            "email_verified": True,
        } | overrides
        for name in drop:
            del claims[name]
        return jwt.encode(
            claims,
            key or GOOGLE_KEY,
            algorithm=algorithm,
            headers={"kid": "kid-1"} if header is None else header,
        )

    def _refused(
        self, verifier: FirebaseTokenVerifier, token: str, code: str = "invalid_token"
    ) -> None:
        with pytest.raises(Unauthenticated) as caught:
            verifier.verify(token)
        assert caught.value.code == code

    def test_accepts_a_token_signed_by_google(self, verifier: FirebaseTokenVerifier) -> None:
        caller = verifier.verify(self._sign())
        assert (caller.uid, caller.email, caller.email_verified) == (
            "alice",
            "alice@example.com",
            True,
        )

    def test_accepts_a_token_signed_with_any_published_key(
        self, verifier: FirebaseTokenVerifier
    ) -> None:
        assert verifier.verify(self._sign(OTHER_KEY, header={"kid": "kid-2"})).uid == "alice"

    def test_signature_by_another_key_is_refused(self, verifier: FirebaseTokenVerifier) -> None:
        self._refused(verifier, self._sign(ATTACKER_KEY))
        # A published key, but not the one the token names.
        self._refused(verifier, self._sign(OTHER_KEY))

    def test_a_tampered_payload_is_refused(self, verifier: FirebaseTokenVerifier) -> None:
        header, _, signature = self._sign().split(".")
        other_claims = self._sign(sub="mallory").split(".")[1]
        self._refused(verifier, f"{header}.{other_claims}.{signature}")

    @pytest.mark.parametrize(
        "algorithm_header",
        [{"alg": "RS512", "kid": "kid-1"}, {"alg": "none", "kid": "kid-1"}, {"kid": "kid-1"}],
    )
    def test_only_rs256_is_accepted_and_refused_before_any_key_is_fetched(
        self,
        verifier: FirebaseTokenVerifier,
        endpoint: FakeCertificates,
        algorithm_header: dict[str, Any],
    ) -> None:
        self._refused(verifier, _with_header(self._sign(), algorithm_header))
        # RS512 by Google's own key: a valid signature, of the wrong algorithm.
        self._refused(verifier, self._sign(algorithm="RS512"))
        assert endpoint.fetches == 0

    @pytest.mark.parametrize(
        "header", [{"alg": "RS256"}, {"alg": "RS256", "kid": ""}, {"alg": "RS256", "kid": 7}]
    )
    def test_a_token_without_a_key_id_is_refused_before_any_key_is_fetched(
        self, verifier: FirebaseTokenVerifier, endpoint: FakeCertificates, header: dict[str, Any]
    ) -> None:
        self._refused(verifier, _with_header(self._sign(), header))
        assert endpoint.fetches == 0

    def test_a_key_id_google_does_not_publish_is_refused(
        self, verifier: FirebaseTokenVerifier
    ) -> None:
        self._refused(verifier, self._sign(header={"kid": "kid-unknown"}))

    def test_audience_must_be_this_project(self, verifier: FirebaseTokenVerifier) -> None:
        self._refused(verifier, self._sign(aud="someone-elses-project"))
        self._refused(verifier, self._sign(aud=[PROJECT, "other"]))
        self._refused(verifier, self._sign(drop=("aud",)))

    def test_issuer_must_be_this_projects_securetoken(
        self, verifier: FirebaseTokenVerifier
    ) -> None:
        self._refused(verifier, self._sign(iss="https://securetoken.google.com/other"))
        self._refused(verifier, self._sign(iss=f"https://evil.example/{PROJECT}"))
        self._refused(verifier, self._sign(drop=("iss",)))

    def test_expired_is_its_own_error(self, verifier: FirebaseTokenVerifier) -> None:
        old = int(time.time()) - 7200
        self._refused(verifier, self._sign(iat=old, exp=old + 3600, auth_time=old), "expired_token")
        self._refused(verifier, self._sign(drop=("exp",)))
        self._refused(verifier, self._sign(exp=float(time.time() + 3600)))

    def test_issued_in_the_future_is_refused(self, verifier: FirebaseTokenVerifier) -> None:
        later = int(time.time()) + 600
        self._refused(verifier, self._sign(iat=later, exp=later + 3600, auth_time=int(time.time())))
        self._refused(verifier, self._sign(drop=("iat",)))

    def test_auth_time_must_be_in_the_past(self, verifier: FirebaseTokenVerifier) -> None:
        self._refused(verifier, self._sign(auth_time=int(time.time()) + 600))
        self._refused(verifier, self._sign(drop=("auth_time",)))
        self._refused(verifier, self._sign(auth_time="yesterday"))

    def test_subject_is_a_uid_of_1_to_128_characters(self, verifier: FirebaseTokenVerifier) -> None:
        assert verifier.verify(self._sign(sub="u" * 128)).uid == "u" * 128
        self._refused(verifier, self._sign(sub="u" * 129))
        self._refused(verifier, self._sign(sub=""))
        self._refused(verifier, self._sign(sub=42))
        self._refused(verifier, self._sign(drop=("sub",)))

    def test_an_unsigned_emulator_token_is_refused(
        self, verifier: FirebaseTokenVerifier, endpoint: FakeCertificates
    ) -> None:
        self._refused(verifier, mint_token("alice", "alice@example.com"))
        assert endpoint.fetches == 0

    @pytest.mark.parametrize("name", sorted(HOSTILE_TOKENS))
    def test_hostile_tokens_are_401_before_any_key_is_fetched(
        self, verifier: FirebaseTokenVerifier, endpoint: FakeCertificates, name: str
    ) -> None:
        self._refused(verifier, HOSTILE_TOKENS[name])
        assert endpoint.fetches == 0

    def test_keys_are_fetched_once_per_max_age(
        self, verifier: FirebaseTokenVerifier, endpoint: FakeCertificates, clock: Clock
    ) -> None:
        for _ in range(3):
            verifier.verify(self._sign())
        assert endpoint.fetches == 1
        clock.now += endpoint.max_age - 1
        verifier.verify(self._sign())
        assert endpoint.fetches == 1
        # Google rotated its keys: kid-1 is gone once the cached copy expires.
        endpoint.certificates = {"kid-3": OTHER_CERT}
        clock.now += 1
        self._refused(verifier, self._sign())
        assert endpoint.fetches == 2
        assert verifier.verify(self._sign(OTHER_KEY, header={"kid": "kid-3"})).uid == "alice"

    def test_an_unreachable_key_endpoint_is_503_not_401(
        self, verifier: FirebaseTokenVerifier, endpoint: FakeCertificates, clock: Clock
    ) -> None:
        endpoint.failure = UpstreamUnavailable("no route")
        with pytest.raises(UpstreamUnavailable):
            verifier.verify(self._sign())
        # The next request tries again rather than caching the failure.
        endpoint.failure = None
        assert verifier.verify(self._sign()).uid == "alice"


class TestGoogleCertificateEndpoint:
    """fetch_certificates: what it reads from Google's answer, and what a failure becomes."""

    @staticmethod
    def _answer(
        mocker: MockerFixture, body: Any, cache_control: str | None, status: int = 200
    ) -> Any:
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        if cache_control is not None:
            response.headers["Cache-Control"] = cache_control
        return mocker.patch("requests.get", return_value=response)

    def test_reads_the_certificates_and_their_max_age(self, mocker: MockerFixture) -> None:
        get = self._answer(
            mocker, {"kid-1": GOOGLE_CERT}, "public, max-age=19737, must-revalidate, no-transform"
        )
        assert fetch_certificates() == ({"kid-1": GOOGLE_CERT}, 19737.0)
        assert get.call_args.args == (CERTIFICATES_URL,)

    @pytest.mark.parametrize("cache_control", [None, "no-cache", "max-age=soon", "s-maxage=60"])
    def test_without_a_usable_max_age_the_keys_are_kept_a_minute(
        self, mocker: MockerFixture, cache_control: str | None
    ) -> None:
        self._answer(mocker, {"kid-1": GOOGLE_CERT}, cache_control)
        assert fetch_certificates()[1] == DEFAULT_MAX_AGE_SECONDS

    @pytest.mark.parametrize(
        ("body", "status"),
        [({"kid-1": GOOGLE_CERT}, 500), (["not", "a", "map"], 200), ({"k": 1}, 200)],
    )
    def test_a_bad_answer_is_503(self, mocker: MockerFixture, body: Any, status: int) -> None:
        self._answer(mocker, body, "max-age=60", status)
        with pytest.raises(UpstreamUnavailable):
            fetch_certificates()

    def test_no_connection_is_503(self, mocker: MockerFixture) -> None:
        mocker.patch("requests.get", side_effect=requests.ConnectionError("no route"))
        with pytest.raises(UpstreamUnavailable):
            fetch_certificates()

    def test_an_unreadable_certificate_does_not_hide_the_others(self) -> None:
        keys = PublicKeys(
            fetch=FakeCertificates({"bad": "not a certificate", "kid-1": GOOGLE_CERT})
        )
        assert keys.get("kid-1") is not None
        assert keys.get("bad") is None
