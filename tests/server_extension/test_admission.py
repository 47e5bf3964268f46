"""The per-tenant gate of long requests, on its own: places, order, bound and withdrawal."""

from __future__ import annotations

import asyncio

import pytest

from astralytiq_jupyter.core.errors import QuotaExceeded
from astralytiq_jupyter.server_extension.admission import RETRY_AFTER_SECONDS, TenantGate, Withdrawn


def test_places_are_per_tenant_and_handed_on_in_arrival_order() -> None:
    async def scenario() -> None:
        gate = TenantGate(running=2, waiting=2)
        first, second = gate.enter("a"), gate.enter("a")
        assert first.admitted and second.admitted
        other = gate.enter("b")  # another tenant is not held up by "a"
        assert other.admitted and gate.active("b") == 1
        third, fourth = gate.enter("a"), gate.enter("a")
        assert not third.admitted and gate.queued("a") == 2
        with pytest.raises(QuotaExceeded) as refused:
            gate.enter("a")
        assert refused.value.detail == {
            "quota": "long_requests",
            "limit": 2,
            "retry_after": RETRY_AFTER_SECONDS,
        }
        order: list[str] = []

        async def wait(ticket, name: str) -> None:
            await ticket.wait()
            order.append(name)

        waiters = [asyncio.create_task(wait(t, n)) for t, n in ((fourth, "4"), (third, "3"))]
        await asyncio.sleep(0)
        first.leave()
        first.leave()  # leaving twice gives back one place
        await asyncio.sleep(0)
        assert order == ["3"] and gate.active("a") == 2 and gate.queued("a") == 1
        second.leave()
        await asyncio.gather(*waiters)
        assert order == ["3", "4"]
        for ticket in (third, fourth, other):
            ticket.leave()
        assert gate.active("a") == gate.active("b") == gate.queued("a") == 0

    asyncio.run(scenario())


def test_a_withdrawn_waiter_loses_its_turn_and_takes_no_place() -> None:
    async def scenario() -> None:
        gate = TenantGate(running=1, waiting=3)
        held, gone, next_one = gate.enter("a"), gate.enter("a"), gate.enter("a")
        waiting = asyncio.create_task(gone.wait())
        await asyncio.sleep(0)
        gone.leave()
        with pytest.raises(Withdrawn):
            await waiting
        assert gate.queued("a") == 1
        held.leave()
        await next_one.wait()  # the place skipped the withdrawn request
        assert gate.active("a") == 1 and gate.queued("a") == 0
        next_one.leave()
        assert gate.active("a") == 0

    asyncio.run(scenario())
