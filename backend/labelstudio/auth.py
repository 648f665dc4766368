"""The ``Authorization`` header for Label Studio: legacy tokens as ``Token``, personal access tokens as ``Bearer``.

A personal access token is a JWT refresh token: it is exchanged at ``/api/token/refresh/`` for a short-lived access
token, which is reused until shortly before it expires (``EARLY`` seconds, or half its life when it lives shorter)
and then exchanged again. A failed exchange is not retried for ``PAUSE`` seconds, doubling up to ``MAX_PAUSE`` while
it keeps failing, so an endpoint that hangs costs one time-out per pause, not one per image.
"""
from __future__ import annotations

import base64
import json
import threading
import time

import requests

EARLY = 30.0  # seconds before an access token's expiry at which a new one is fetched
PAUSE = 5.0  # seconds without a new exchange after one failed
MAX_PAUSE = 300.0


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
        self._access: tuple[str, float] | None = None  # (token, time to renew it)
        self._failed: tuple[str, float, float] | None = None  # (why, retry after, pause) after a failed exchange
        self._lock = threading.Lock()

    @property
    def personal(self) -> bool:
        return self.claims is not None and self.claims.get("token_type") == "refresh"

    def header(self, deadline: float | None = None) -> str:
        """``Token <legacy token>`` or ``Bearer <access token>``; an exchange waits at most until ``deadline``
        (``time.monotonic()``), else the time-out."""
        if not self.personal:
            return f"Token {self.token}"
        if not self._lock.acquire(timeout=self._left(deadline)):  # another thread's exchange hangs
            raise AuthError("the personal access token is being exchanged and that takes too long")
        try:
            if self._access is not None and time.time() < self._access[1]:
                return f"Bearer {self._access[0]}"
            if self._failed is not None and time.monotonic() < self._failed[1]:
                raise AuthError(f"{self._failed[0]} (not tried again for {self._failed[1] - time.monotonic():.0f} s)")
            try:
                self._access = self._refresh(self._left(deadline))
            except AuthError as exc:
                pause = min(MAX_PAUSE, self._failed[2] * 2) if self._failed is not None else PAUSE
                self._failed = (str(exc), time.monotonic() + pause, pause)
                raise
            self._failed = None
            return f"Bearer {self._access[0]}"
        finally:
            self._lock.release()

    def _left(self, deadline: float | None) -> float:
        return self.timeout if deadline is None else max(1e-3, min(self.timeout, deadline - time.monotonic()))

    def _refresh(self, timeout: float) -> tuple[str, float]:
        """A new access token and the time (``time.time()``) to renew it."""
        if float(self.claims.get("exp", 0)) < time.time():
            raise AuthError("the personal access token (LABEL_STUDIO_API_KEY) has expired; create a new one")
        try:
            response = self.session.post(f"{self.url}/api/token/refresh/", json={"refresh": self.token},
                                         timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise AuthError(f"cannot exchange the personal access token: {type(exc).__name__}") from None
        try:
            access = response.json().get("access") if response.status_code == 200 else None
        except (ValueError, AttributeError):
            access = None
        if not isinstance(access, str):
            raise AuthError(f"Label Studio refused the personal access token (HTTP {response.status_code})")
        now = time.time()
        try:
            expiry = float((jwt_claims(access) or {}).get("exp", now + 60))
        except (TypeError, ValueError):
            expiry = now + 60
        return access, expiry - min(EARLY, max(0.0, expiry - now) / 2)  # a short-lived token is used half its life
