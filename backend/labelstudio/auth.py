"""The ``Authorization`` header for Label Studio: legacy tokens as ``Token``, personal access tokens as ``Bearer``.

A personal access token is a JWT refresh token: it is exchanged at ``/api/token/refresh/`` for a short-lived access
token, which is reused until shortly before it expires and then exchanged again.
"""
from __future__ import annotations

import base64
import json
import threading
import time

import requests

EARLY = 30.0  # seconds before an access token's expiry at which a new one is fetched


class AuthError(RuntimeError):
    """The token cannot be used (an expired personal access token, a refused refresh)."""


def jwt_claims(token: str) -> dict | None:
    """The claims of a JWT, read without verifying it (Label Studio verifies); None for a legacy token."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


class LabelStudioAuth:
    """Headers for requests to the Label Studio at ``url`` with ``token``."""

    def __init__(self, url: str, token: str, session: requests.Session, timeout: float):
        self.url, self.token, self.session, self.timeout = url.rstrip("/"), token, session, timeout
        self.claims = jwt_claims(token)
        self._access: tuple[str, float] | None = None  # (token, expiry)
        self._lock = threading.Lock()

    @property
    def personal(self) -> bool:
        return self.claims is not None and self.claims.get("token_type") == "refresh"

    def header(self) -> str:
        """``Token <legacy token>`` or ``Bearer <access token>``."""
        if not self.personal:
            return f"Token {self.token}"
        with self._lock:
            if self._access is None or self._access[1] - EARLY < time.time():
                self._access = self._refresh()
            return f"Bearer {self._access[0]}"

    def _refresh(self) -> tuple[str, float]:
        if float(self.claims.get("exp", 0)) < time.time():
            raise AuthError("the personal access token (LABEL_STUDIO_API_KEY) has expired; create a new one")
        try:
            response = self.session.post(f"{self.url}/api/token/refresh/", json={"refresh": self.token},
                                         timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise AuthError(f"cannot exchange the personal access token: {type(exc).__name__}") from None
        try:
            access = response.json().get("access") if response.status_code == 200 else None
        except (ValueError, AttributeError):
            access = None
        if not isinstance(access, str):
            raise AuthError(f"Label Studio refused the personal access token (HTTP {response.status_code})")
        claims = jwt_claims(access) or {}
        return access, float(claims.get("exp", time.time() + 60))
