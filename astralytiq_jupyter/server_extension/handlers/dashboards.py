"""Dashboard specs."""

from __future__ import annotations

import json

from ...core.errors import Invalid
from ..base import ApiHandler, PageHandler


class DashboardsHandler(PageHandler):
    service = "dashboards"

    async def post(self) -> None:
        body = self.json_body()
        saved = await self.run(
            self.app.store.dashboards.save,
            self.principal,
            body["spec"],
            expected_revision=body.get("expected_revision"),
        )
        self.reply(saved, 201 if saved.revision == 1 else 200)


class DashboardHandler(ApiHandler):
    async def get(self, name: str) -> None:
        self.reply(await self.run(self.app.store.dashboards.get, self.principal, name))

    async def put(self, name: str) -> None:
        body = self.json_body()
        spec = body["spec"]
        if not isinstance(spec, dict) or spec.get("name", name) != name:
            raise Invalid(f"The spec's name must be {json.dumps(name)}, as in the path.")
        saved = await self.run(
            self.app.store.dashboards.save,
            self.principal,
            {**spec, "name": name},
            expected_revision=body.get("expected_revision"),
        )
        self.reply(saved)

    async def delete(self, name: str) -> None:
        await self.run(self.app.store.dashboards.delete, self.principal, name)
        self.set_status(204)
        self.finish()


class PublishHandler(ApiHandler):
    async def post(self, name: str) -> None:
        url = await self.run(self.app.store.dashboards.publish, self.principal, name)
        self.reply({"name": name, "url": url})
