"""Platform API tokens of the tenant (admins)."""

from __future__ import annotations

from ..base import ApiHandler, PageHandler


class TokensHandler(PageHandler):
    service = "tokens"

    async def post(self) -> None:
        body = self.json_body()
        issued = await self.run(
            self.app.store.tokens.create,
            self.principal,
            body["name"],
            role=body.get("role"),
            expires_in=body.get("expires_in"),
        )
        self.reply(issued, 201)


class TokenHandler(ApiHandler):
    async def delete(self, token_id: str) -> None:
        await self.run(self.app.store.tokens.revoke, self.principal, token_id)
        self.set_status(204)
        self.finish()
