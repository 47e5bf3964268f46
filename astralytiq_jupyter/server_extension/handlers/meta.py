"""Health, the caller's identity, and the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

from ..._version import __version__
from ...core import db
from ...core.errors import Invalid
from ..base import ApiHandler, public_request

OPENAPI = Path(__file__).resolve().parent.parent / "openapi.json"


class HealthHandler(ApiHandler):
    """Liveness for anyone (monitoring probes carry no credentials): the server answers.
    Authenticated callers also get the version and the database schema revision."""

    async def get(self) -> None:
        if public_request(self):
            self.reply({"status": "ok"})
            return
        schema = await self.run(db.current_revision, self.app.store.engine)
        self.reply({"status": "ok", "version": __version__, "schema": schema})


class MeHandler(ApiHandler):
    async def get(self) -> None:
        tenant = await self.run(self.app.store.tenants.get, self.principal)
        self.reply(
            {
                **self.principal.to_dict(),
                "via": self.principal.via,
                "tenant_name": tenant.display_name,
                "branding": tenant.branding,
            }
        )


class SessionHandler(ApiHandler):
    """A kernel keeps its platform token alive while it runs (``server_extension.kernels``)."""

    async def post(self) -> None:
        self.json_body()  # an empty object: the token says whose session it is
        token = self._bearer()
        if token is None:
            raise Invalid(
                "Only a kernel's platform token (Authorization: Bearer aqt_...) is extended."
            )
        expires_at = await self.run(
            self.app.store.tokens.extend, token, self.app.kernel_token_seconds
        )
        self.reply({"expires_at": expires_at.isoformat()})


class OpenAPIHandler(ApiHandler):
    async def get(self) -> None:
        text = await self.run(OPENAPI.read_text, encoding="utf-8")
        self.finish(text)
