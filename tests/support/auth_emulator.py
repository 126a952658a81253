"""Real users of the local Firebase Auth emulator, through its REST API (as the Firebase JS SDK
calls it): sign-up, the verification mail's code, sign-in, and the admin reads of a user.

The emulator answers Google's Identity Toolkit paths under
``http://HOST/identitytoolkit.googleapis.com/v1``; any API key works, and
``Authorization: Bearer owner`` makes a call an admin's.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import requests

API_KEY = "demo-api-key"
PASSWORD = "correct horse battery staple"


class AuthEmulator:
    def __init__(self, host: str, project_id: str) -> None:
        self.root = f"http://{host}"
        self.project_id = project_id
        self.api = f"{self.root}/identitytoolkit.googleapis.com/v1"

    def _post(self, path: str, body: dict[str, Any], *, admin: bool = False) -> dict[str, Any]:
        headers = {"Authorization": "Bearer owner"} if admin else {}
        response = requests.post(
            f"{self.api}/{path}", params={"key": API_KEY}, json=body, headers=headers, timeout=30
        )
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        data: dict[str, Any] = response.json()
        return data

    def sign_up(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        """accounts:signUp: the new user's localId and first (unverified) ID token."""
        return self._post(
            "accounts:signUp", {"email": email, "password": password, "returnSecureToken": True}
        )

    def sign_in(self, email: str, password: str = PASSWORD) -> str:
        """accounts:signInWithPassword: a fresh ID token (claims as they are now)."""
        answer = self._post(
            "accounts:signInWithPassword",
            {"email": email, "password": password, "returnSecureToken": True},
        )
        return str(answer["idToken"])

    def verification_code(self, id_token: str, email: str) -> str:
        """Asks for the verification mail (accounts:sendOobCode) and reads its code from the
        emulator's outbox (``/emulator/v1/projects/{project}/oobCodes``)."""
        self._post("accounts:sendOobCode", {"requestType": "VERIFY_EMAIL", "idToken": id_token})
        response = requests.get(
            f"{self.root}/emulator/v1/projects/{self.project_id}/oobCodes", timeout=30
        )
        response.raise_for_status()
        codes = [
            entry["oobCode"]
            for entry in response.json()["oobCodes"]
            if entry["email"] == email and entry["requestType"] == "VERIFY_EMAIL"
        ]
        assert codes, f"no verification mail for {email}"
        return str(codes[-1])

    def verification_link(self, email: str, *, timeout: float = 90.0) -> str:
        """The link of the newest verification mail to ``email`` in the emulator's outbox.

        The app asks for the mail from the browser, possibly after it has shown the page that
        says to check it: the outbox is read until the mail is there, within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            response = requests.get(
                f"{self.root}/emulator/v1/projects/{self.project_id}/oobCodes", timeout=30
            )
            response.raise_for_status()
            links = [
                entry["oobLink"]
                for entry in response.json()["oobCodes"]
                if entry["email"] == email and entry["requestType"] == "VERIFY_EMAIL"
            ]
            if links or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        assert links, f"no verification mail for {email} within {timeout:.0f} s"
        return str(links[-1])

    def verify_email(self, id_token: str, email: str) -> None:
        """What the link in the mail does: accounts:update with the mail's code."""
        answer = self._post("accounts:update", {"oobCode": self.verification_code(id_token, email)})
        assert answer["emailVerified"] is True

    def user(self, uid: str) -> dict[str, Any]:
        """The user as the Admin API reads it (accounts:lookup)."""
        answer = self._post(
            f"projects/{self.project_id}/accounts:lookup", {"localId": [uid]}, admin=True
        )
        users: list[dict[str, Any]] = answer.get("users", [])
        assert len(users) == 1, answer
        return users[0]

    def custom_claims(self, uid: str) -> dict[str, Any]:
        claims: dict[str, Any] = json.loads(self.user(uid).get("customAttributes") or "{}")
        return claims

    def set_custom_claims(self, uid: str, claims: dict[str, Any]) -> None:
        self._post(
            f"projects/{self.project_id}/accounts:update",
            {"localId": uid, "customAttributes": json.dumps(claims)},
            admin=True,
        )

    def delete(self, uid: str) -> None:
        self._post(f"projects/{self.project_id}/accounts:delete", {"localId": uid}, admin=True)


def token_claims(id_token: str) -> dict[str, Any]:
    """The claims of an ID token, unverified (the emulator's tokens are unsigned)."""
    payload = id_token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"
