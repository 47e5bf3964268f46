"""Saved cleaning recipes."""

from __future__ import annotations

from ..base import ApiHandler, PageHandler


class RecipesHandler(PageHandler):
    service = "recipes"

    async def post(self) -> None:
        body = self.json_body()
        saved = await self.run(
            self.app.store.recipes.save,
            self.principal,
            body["name"],
            body["steps"],
            description=body.get("description"),
        )
        self.reply(saved, 201)


class RecipeHandler(ApiHandler):
    async def get(self, name: str) -> None:
        self.reply(await self.run(self.app.store.recipes.get, self.principal, name))

    async def put(self, name: str) -> None:
        body = self.json_body()
        saved = await self.run(
            self.app.store.recipes.save,
            self.principal,
            name,
            body["steps"],
            description=body.get("description"),
        )
        self.reply(saved)

    async def delete(self, name: str) -> None:
        await self.run(self.app.store.recipes.delete, self.principal, name)
        self.set_status(204)
        self.finish()
