"""Kernel credentials: every kernel this server starts acts as the Jupyter user whose request
started it, with a platform token of its own, and a Voila page's kernel never sees the
server owner's secrets.

How a kernel gets its identity (DESIGN §6-§7):

- jupyter_server records the request handler of the running request in its ``CallContext``
  (a context variable, so concurrent requests never see each other's). A kernel started by a
  request (JupyterLab's ``POST /api/sessions``, Voila's ``/voila/render/...``) is launched in
  a task created from that request's context, so the kernel provisioner
  (:class:`AstralytiqProvisioner`, made the server's default provisioner by the extension)
  reads the handler, resolves its ``current_user`` to a principal, mints a short-lived
  platform token for it (``core.tokens``) and puts it into the new kernel's own environment
  (``ASTRALYTIQ_TOKEN``) with the API's URL and the token's expiry. Two viewers
  opening the same page at once are two requests, two contexts, two tokens.
- A Voila page's kernel (its environment carries Voila's ``VOILA_REQUEST_URL``) starts from
  the server's ``os.environ``: every variable that looks like a secret (the owner's
  ``JUPYTERHUB_API_TOKEN``, ``JPY_API_TOKEN``, ``JUPYTER_TOKEN``, cloud keys...) is removed
  before the viewer's token is added. The extension never puts a secret into ``os.environ``.
- Voila's ``prelaunch_hook`` (set by the extension on Voila's configuration) resolves the
  viewer before any kernel starts: a viewer who is no member gets Voila's error page. A
  ``?tenant=`` query argument picks one of several tenants.
- The token is revoked when the kernel shuts down (the provisioner's ``cleanup``); a kernel
  that is killed leaves a token that expires after ``c.AstralytiQ.kernel_token_seconds``.
  A kernel restarted keeps the identity it was started with (the provisioner survives
  restarts) and gets a fresh token. While a kernel runs, its client extends the token before
  it expires (``POST tokens/session``), as long as the user is still a member.
- Fail closed: a kernel whose user cannot be resolved, or that is started outside any
  request, gets the API's URL and no token, so ``aq.connect()`` answers "not signed in"
  rather than falling back to anyone's identity.
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import TYPE_CHECKING, Any

from jupyter_client.provisioning import LocalProvisioner
from jupyter_server import CallContext

from ..core.errors import AstralytiqError
from ..core.permissions import Principal
from ..core.tokens import KERNEL_TOKEN_PREFIX

if TYPE_CHECKING:
    from .app import AstralytiQ

#: The entry point name of :class:`AstralytiqProvisioner` (``jupyter_client.kernel_provisioners``).
PROVISIONER = "astralytiq-provisioner"
ENV_URL = "ASTRALYTIQ_URL"
ENV_TOKEN = "ASTRALYTIQ_TOKEN"  # noqa: S105 - a variable name, not a secret
ENV_EXPIRES = "ASTRALYTIQ_TOKEN_EXPIRES"
#: Voila sets this in the environment of every page kernel it starts.
VOILA_MARKER = "VOILA_REQUEST_URL"
#: The principal resolved by Voila's prelaunch hook for the running request.
PRINCIPAL_KEY = "ASTRALYTIQ_PRINCIPAL"
#: Names of variables a viewer's kernel must not inherit from the server's environment.
SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|AUTH", re.I
)


def is_page_kernel(env: dict[str, str]) -> bool:
    """Whether a kernel's environment is that of a Voila page (the viewer's kernel)."""
    return VOILA_MARKER in env


def strip_secrets(env: dict[str, str]) -> list[str]:
    """Remove every secret-looking variable from ``env``; the names removed."""
    names = [name for name in env if SECRET_NAME.search(name)]
    for name in names:
        del env[name]
    return names


def extension_of(configurable: Any) -> AstralytiQ | None:
    """The AstralytiQ extension of the server a provisioner belongs to (walking the traitlets
    parents: provisioner -> kernel manager -> mapping kernel manager -> ServerApp), or
    ``None`` when the extension is not loaded there (then the provisioner is a plain one)."""
    node = configurable
    for _ in range(8):
        if node is None:
            return None
        settings = getattr(getattr(node, "web_app", None), "settings", None)
        if isinstance(settings, dict):
            return settings.get("astralytiq")
        node = getattr(node, "parent", None)
    return None


class KernelCredentials:
    """The extension's side of kernel identity: who a kernel acts as, and its token."""

    def __init__(self, app: AstralytiQ) -> None:
        self.app = app

    @property
    def url(self) -> str:
        return self.app.serverapp.connection_url

    def resolve_request(self, handler: Any, tenant: str | None = None) -> Principal:
        """The principal of a request's user; :class:`Forbidden` if they have no role."""
        user = getattr(handler, "current_user", None)
        if user is None:
            from ..core.errors import Forbidden

            raise Forbidden("You are not signed in to this Jupyter server.")
        resolver = self.app.resolver
        return resolver.cached(user, tenant) or resolver.resolve_and_cache(user, tenant)

    def voila_prelaunch(self, handler: Any, notebook: Any, cwd: str) -> None:
        """Voila's ``prelaunch_hook``: resolve the viewer before a page kernel starts (an error
        page for a viewer who is no member), and leave the principal in the request's call
        context for the provisioner."""
        from tornado import web

        tenant = handler.get_argument("tenant", None) or None
        try:
            principal = self.resolve_request(handler, tenant)
        except AstralytiqError as exc:
            # Voila's error page shows the reason: say why in plain words.
            reason = " ".join(exc.message.split()).encode("latin-1", "replace").decode("latin-1")
            raise web.HTTPError(403, exc.message, reason=f"No access. {reason}") from None
        CallContext.set(PRINCIPAL_KEY, principal)

    def principal_for_launch(self) -> Principal | None:
        """Who the kernel being launched acts as: the principal the prelaunch hook resolved,
        else the current request's user; ``None`` outside any request or for a user without
        a role."""
        principal = CallContext.get(PRINCIPAL_KEY)
        if isinstance(principal, Principal):
            return principal
        handler = CallContext.get(CallContext.JUPYTER_HANDLER)
        if handler is None:
            return None
        try:
            return self.resolve_request(handler)
        except AstralytiqError as exc:
            self.app.log.warning("Kernel started without AstralytiQ credentials: %s", exc.message)
            return None

    async def prepare(self, env: dict[str, str], principal: Principal | None) -> tuple[str, ...]:
        """Fill a new kernel's environment for ``principal`` (``None``: no token); the id of the
        token issued, if any."""
        if is_page_kernel(env):
            strip_secrets(env)
        for name in (ENV_TOKEN, ENV_EXPIRES):
            env.pop(name, None)
        env[ENV_URL] = self.url
        if principal is None:
            return ()
        page = is_page_kernel(env)
        issued = await asyncio.to_thread(
            self.app.store.tokens.issue,
            principal.tenant,
            principal.user,
            principal.role,
            name=f"{KERNEL_TOKEN_PREFIX}{'voila page' if page else 'kernel'}",
            expires_in=self.app.kernel_token_seconds,
            created_by=principal.user,
            requires_membership=principal.via != "hub",
        )
        env[ENV_TOKEN] = issued.secret
        env[ENV_EXPIRES] = str(int(issued.token.expires_at.timestamp()))
        return (issued.token.id,)

    async def retire(self, token_ids: tuple[str, ...]) -> None:
        """Revoke the tokens of a kernel that has shut down."""
        for token_id in token_ids:
            try:
                await asyncio.to_thread(self.app.store.tokens.retire, token_id)
            except Exception:  # the server may be shutting down its store
                self.app.log.warning("Could not revoke the token of a stopped kernel")


class AstralytiqProvisioner(LocalProvisioner):  # type: ignore[misc]
    """jupyter_client's local provisioner plus the kernel's AstralytiQ identity (see the
    module docstring). On a server without the extension it is the plain local provisioner.
    The same instance serves a kernel across restarts, so a restart keeps its principal."""

    _principal: Principal | None = None
    _token_ids: tuple[str, ...] = ()

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        kwargs = await super().pre_launch(**kwargs)
        app = extension_of(self)
        if app is None:
            return kwargs
        credentials: KernelCredentials = app.kernel_credentials
        if self._principal is None:
            self._principal = credentials.principal_for_launch()
        env = kwargs.setdefault("env", dict(os.environ))
        await credentials.retire(self._token_ids)  # a restart: the previous token goes
        self._token_ids = await credentials.prepare(env, self._principal)
        return kwargs

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        if restart:
            return  # pre_launch of the restarted kernel replaces the token
        app = extension_of(self)
        if app is not None and self._token_ids:
            await app.kernel_credentials.retire(self._token_ids)
            self._token_ids = ()
