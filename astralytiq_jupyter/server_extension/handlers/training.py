"""Training slots for trainings that run in kernels (the remote backend): the server counts
them in the shared database, checks the quota and audits refusals (``core.training_slots``)."""

from __future__ import annotations

from ..base import ApiHandler


class TrainingSlotsHandler(ApiHandler):
    async def post(self) -> None:
        body = self.json_body()
        dataset = body.get("dataset")
        slot = await self.run(
            self.app.store.training_slots.acquire,
            self.principal,
            action=body.get("action", "model.train"),
            resource=f"dataset:{dataset}" if dataset else "",
        )
        self.reply(slot, 201)


class TrainingSlotHandler(ApiHandler):
    async def put(self, slot_id: str) -> None:
        slot = await self.run(self.app.store.training_slots.renew, self.principal, slot_id)
        self.reply(slot)

    async def delete(self, slot_id: str) -> None:
        await self.run(self.app.store.training_slots.release, self.principal, slot_id)
        self.set_status(204)
        self.finish()
