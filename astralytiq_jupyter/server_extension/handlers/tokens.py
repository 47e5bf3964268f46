"""Platform API tokens of the tenant (admins)."""

from __future__ import annotations

from ..base import ApiHandler


class TokensHandler(ApiHandler):
    async def get(self) -> None:
        limit, offset = self.params.get("limit", 100), self.params.get("offset", 0)
        inactive = self.params.get("include_inactive", False)
        tokens = await self.run(
            self.app.store.tokens.list,
            self.principal,
            include_inactive=inactive,
            limit=limit,
            offset=offset,
        )
        self.page(tokens, limit, offset)

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
