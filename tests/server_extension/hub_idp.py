"""An identity provider shaped like JupyterHub's singleuser one: it returns users that carry
the hub's user model (``hub_user``, with ``groups``). Tokens map to hub user models through
configuration instead of a call to the hub API, which a test machine does not run."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User
from traitlets import Dict


class HubUser(User):
    """Like ``jupyterhub.singleuser.extension.JupyterHubUser``: the hub model rides along."""

    def __init__(self, hub_user: dict[str, Any]) -> None:
        self.hub_user = hub_user
        super().__init__(username=hub_user["name"])


class HubTestIdentityProvider(IdentityProvider):
    users = Dict(help="token -> JupyterHub user model").tag(config=True)

    def get_user(self, handler: Any) -> HubUser | None:
        scheme, _, token = handler.request.headers.get("Authorization", "").partition(" ")
        model = self.users.get(token.strip()) if scheme.lower() == "token" else None
        if model is None:
            return None
        handler._token_authenticated = True
        return HubUser(model)
