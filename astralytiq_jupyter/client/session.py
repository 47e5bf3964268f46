"""A kernel's credentials: the platform token the server gave it, kept alive while it runs.

The server extension starts every kernel with ``ASTRALYTIQ_URL``, ``ASTRALYTIQ_TOKEN`` (a
short-lived platform token of the user the kernel acts as: a Voila page's viewer, or the user
who started it) and ``ASTRALYTIQ_TOKEN_EXPIRES`` (its expiry, seconds since the epoch). Once
half its remaining lifetime has passed, the next request first asks the server to extend it
(``POST session``); the server does so while the user is a member of the tenant. When it
cannot be extended (a JupyterHub identity, a membership gone) the token runs out and requests
fail with a message saying to reload the page or restart the kernel.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests

ENV_URL = "ASTRALYTIQ_URL"
ENV_TOKEN = "ASTRALYTIQ_TOKEN"  # noqa: S105 - a variable name, not a secret
ENV_EXPIRES = "ASTRALYTIQ_TOKEN_EXPIRES"
RETRY_SECONDS = 30.0  # after a failed extension, the next try waits this long

EXPIRED = (
    "Your session has expired: the access this page (or kernel) was given ran out. Reload "
    "the page, or restart the kernel, to continue."
)
NOT_SIGNED_IN = (
    "Not signed in: this kernel has no AstralytiQ credentials. Kernels started by the "
    "Jupyter server get them from its kernel provisioner; elsewhere use "
    "aq.connect(url=..., token=...)."
)


def env_expiry(token: str | None) -> float | None:
    """The expiry the server gave the kernel's own token, if ``token`` is that token."""
    raw = os.environ.get(ENV_EXPIRES, "")
    if not token or token != os.environ.get(ENV_TOKEN) or not raw.isdigit():
        return None
    return float(raw)


class TokenLease:
    """When a kernel token runs out, and its extension before that (thread-safe)."""

    def __init__(self, token: str, expires_at: float, *, clock: Callable[[], float] = time.time):
        self.token = token
        self.expires_at = expires_at
        self.clock = clock
        self.renewable = True
        self._lock = threading.Lock()
        self._renew_at = self._halfway(expires_at)

    def _halfway(self, expires_at: float) -> float:
        now = self.clock()
        return now + max(expires_at - now, 0.0) / 2

    def due(self) -> bool:
        return self.renewable and self.clock() >= self._renew_at

    def expired(self) -> bool:
        return self.clock() >= self.expires_at

    def renew(self, session: requests.Session, url: str, timeout: float) -> None:
        """Ask the server for a later expiry; a refusal stops further attempts (the token
        then runs out), a network error is left to the request that follows."""
        import requests

        with self._lock:
            if not self.due():
                return
            try:
                response = session.post(url, json={}, timeout=timeout)
            except requests.RequestException:
                self._renew_at = self.clock() + RETRY_SECONDS
                return
            if response.status_code != 200:
                self.renewable = response.status_code >= 500
                self._renew_at = self.clock() + RETRY_SECONDS
                return
            self.expires_at = datetime.fromisoformat(response.json()["expires_at"]).timestamp()
            self._renew_at = self._halfway(self.expires_at)
            if os.environ.get(ENV_TOKEN) == self.token:
                os.environ[ENV_EXPIRES] = str(int(self.expires_at))
