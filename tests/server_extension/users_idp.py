"""Several users on one Jupyter server, for tests: each user has a token (``?token=`` in the
URL or ``Authorization: token ...``); once signed in with it, jupyter_server's login cookie
carries the user, as it does for a browser."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User
from traitlets import Dict


class UsersIdentityProvider(IdentityProvider):
    users = Dict(help="token -> username").tag(config=True)

    async def get_user_token(self, handler: Any) -> User | None:
        token = self.get_token(handler)
        name = self.users.get(token) if token else None
        return User(username=name) if name else None
