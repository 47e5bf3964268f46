"""The tenant: settings, branding, plan, usage, members; tenants (platform owner)."""

from __future__ import annotations

from ..base import ApiHandler


class TenantHandler(ApiHandler):
    async def get(self) -> None:
        self.reply(await self.run(self.app.store.tenants.get, self.principal))

    async def patch(self) -> None:
        body = self.json_body()
        self.reply(await self.run(self.app.store.tenants.update, self.principal, **body))


class UsageHandler(ApiHandler):
    async def get(self) -> None:
        self.reply(await self.run(self.app.store.tenants.usage, self.principal))


class MembersHandler(ApiHandler):
    async def get(self) -> None:
        self.reply({"items": await self.run(self.app.store.tenants.members, self.principal)})

    async def post(self) -> None:
        body = self.json_body()
        member = await self.run(
            self.app.store.tenants.add_member, self.principal, body["username"], body["role"]
        )
        self.reply(member, 201)


class MemberHandler(ApiHandler):
    async def patch(self, username: str) -> None:
        body = self.json_body()
        self.reply(
            await self.run(self.app.store.tenants.set_role, self.principal, username, body["role"])
        )

    async def delete(self, username: str) -> None:
        await self.run(self.app.store.tenants.remove_member, self.principal, username)
        self.set_status(204)
        self.finish()


class TenantsHandler(ApiHandler):
    async def get(self) -> None:
        self.reply({"items": await self.run(self.app.store.tenants.list_all, self.principal)})

    async def post(self) -> None:
        body = self.json_body()
        tenant = await self.run(
            self.app.store.tenants.create,
            self.principal,
            body["slug"],
            display_name=body.get("display_name"),
            plan=body.get("plan", "free"),
            admin=body.get("admin"),
        )
        self.reply(tenant, 201)
