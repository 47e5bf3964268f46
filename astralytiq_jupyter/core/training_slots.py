"""Training slots: the tenant's quota of concurrent trainings, counted in the shared database.

A training (in a kernel, a script or a server's worker; through the local or the remote
backend) first takes a slot here. Slots are rows of the metadata database, so every process
and every server of a store counts the same trainings: a second kernel cannot get around the
quota. Taking a slot checks the ``model:train`` permission and the plan's
``concurrent_trainings`` under the tenant's lock, and is audited whatever its outcome. A slot
lives for ``ttl`` seconds unless its holder renews it (:func:`holding` does, in the
background); the slot of a crashed process expires and is reclaimed by the next acquisition.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from .errors import Invalid, NotFound, QuotaExceeded
from .models import TrainingSlotRecord, utcnow
from .permissions import Permission, Principal, require

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

#: Seconds a slot lives without a heartbeat: long enough for a busy machine to miss a few
#: beats, short enough that a crashed kernel's slot comes back within minutes.
SLOT_TTL = 120.0
#: Beats per lifetime: a holder renews every ``ttl / BEATS`` seconds.
BEATS = 4
#: The seconds a refused caller is told to wait (``Retry-After``): a hint, since how long
#: the running trainings take is not known.
RETRY_AFTER = 30
ACTIONS = ("model.train", "model.compare")
_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class TrainingSlot:
    """One of the tenant's concurrent-training slots, held by ``user``."""

    id: str
    tenant: str
    user: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime

    @property
    def renew_every(self) -> float:
        """Seconds between heartbeats that keep the slot alive."""
        return (self.expires_at - self.renewed_at).total_seconds() / BEATS

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "user": self.user,
            "acquired_at": self.acquired_at.isoformat(),
            "renewed_at": self.renewed_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


class TrainingSlots:
    """Acquire, renew and release training slots for a :class:`Principal`.

    ``clock`` gives the current UTC time (a store's processes share one database, so their
    clocks are assumed to agree within a small part of ``ttl``)."""

    def __init__(
        self,
        store: Store,
        *,
        ttl: float = SLOT_TTL,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.ttl = timedelta(seconds=ttl)
        self.clock = clock

    def acquire(
        self, principal: Principal, *, action: str = "model.train", resource: str = ""
    ) -> TrainingSlot:
        """Take a slot for a training ``action`` on ``resource`` (e.g. ``dataset:sales@2``):
        :class:`Forbidden` without ``model:train``, :class:`QuotaExceeded` (429, with
        ``retry_after``) when the tenant already runs as many trainings as its plan allows.
        Slots whose holders stopped renewing them are reclaimed first. Audited."""
        if action not in ACTIONS:
            raise Invalid(
                f"Unknown training action {action!r}; expected one of: {', '.join(ACTIONS)}."
            )
        with self.store.audit.action(principal, action, resource) as act:
            require(principal, Permission.MODEL_TRAIN)
            now = self.clock()
            with self.store.transaction() as session:
                repo = self.store.repo(session, principal)
                # Serialises acquisitions of this tenant across processes and servers, so
                # that the count below and the insert after it are one step.
                repo.lock_tenant()
                session.execute(
                    delete(TrainingSlotRecord).where(
                        TrainingSlotRecord.tenant_id == repo.tenant_id,
                        TrainingSlotRecord.expires_at <= now,
                    )
                )
                limit = self.store.quotas(session, principal).concurrent_trainings
                running = repo.count(TrainingSlotRecord)
                if limit is not None and running >= limit:
                    raise QuotaExceeded(
                        f"Your workspace already runs {running} training"
                        f"{'' if running == 1 else 's'}, the limit is {limit}; wait for one "
                        "to finish.",
                        quota="concurrent_trainings",
                        limit=limit,
                        running=running,
                        retry_after=RETRY_AFTER,
                    )
                row = repo.add(
                    TrainingSlotRecord(
                        username=principal.user,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=now + self.ttl,
                    )
                )
                session.flush()
                act.detail.update(slot=row.id, running=running + 1, limit=limit)
                return _slot(row, principal)

    def renew(self, principal: Principal, slot_id: str) -> TrainingSlot:
        """Extend the life of the caller's slot by ``ttl`` from now; :class:`NotFound` when
        it is not the caller's or has expired and been reclaimed."""
        require(principal, Permission.MODEL_TRAIN)
        now = self.clock()
        with self.store.transaction() as session:
            row = self._own(session, principal, slot_id)
            row.renewed_at = now
            row.expires_at = now + self.ttl
            session.flush()
            return _slot(row, principal)

    def release(self, principal: Principal, slot_id: str) -> None:
        """Give the caller's slot back (:class:`NotFound` if it holds no such slot)."""
        require(principal, Permission.MODEL_TRAIN)
        with self.store.transaction() as session:
            session.delete(self._own(session, principal, slot_id))

    def running(self, principal: Principal) -> int:
        """How many live slots the principal's tenant holds now."""
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            return repo.count(TrainingSlotRecord, TrainingSlotRecord.expires_at > self.clock())

    @contextmanager
    def hold(
        self, principal: Principal, *, action: str = "model.train", resource: str = ""
    ) -> Iterator[TrainingSlot]:
        """A slot for the duration of the ``with`` block, renewed in the background."""
        slot = self.acquire(principal, action=action, resource=resource)
        with holding(
            slot,
            lambda: self.renew(principal, slot.id),
            lambda: self.release(principal, slot.id),
        ):
            yield slot

    def _own(self, session: Any, principal: Principal, slot_id: str) -> TrainingSlotRecord:
        """The principal's own slot ``slot_id``; others' (other tenants' included) are not
        found, like ids that never existed."""
        if not isinstance(slot_id, str) or not _ID.match(slot_id):
            raise NotFound("Training slot not found.")
        return self.store.repo(session, principal).get(
            TrainingSlotRecord,
            "Training slot",
            TrainingSlotRecord.id == slot_id,
            TrainingSlotRecord.username == principal.user,
        )


def _slot(row: TrainingSlotRecord, principal: Principal) -> TrainingSlot:
    return TrainingSlot(
        id=row.id,
        tenant=principal.tenant,
        user=row.username,
        acquired_at=row.acquired_at,
        renewed_at=row.renewed_at,
        expires_at=row.expires_at,
    )


@contextmanager
def holding(
    slot: TrainingSlot, renew: Callable[[], Any], release: Callable[[], Any]
) -> Iterator[TrainingSlot]:
    """Keep ``slot`` alive while the block runs (``renew`` every ``slot.renew_every``
    seconds on a daemon thread), then ``release`` it. Used alike for slots held in-process
    and over the REST API; a slot that could not be renewed (it expired while its holder
    was stalled) is left to expire, and the training goes on."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(slot.renew_every):
            try:
                renew()
            except NotFound:
                log.warning("Training slot %s expired before it was renewed.", slot.id)
                return
            except Exception:  # a network or database hiccup: try again at the next beat
                log.warning("Could not renew training slot %s.", slot.id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"training-slot-{slot.id[:8]}", daemon=True)
    thread.start()
    try:
        yield slot
    finally:
        stop.set()
        thread.join()
        try:
            release()
        except NotFound:
            pass  # expired and reclaimed meanwhile: nothing left to give back
        except Exception:  # the training's own outcome matters more; the slot will expire
            log.warning("Could not release training slot %s.", slot.id, exc_info=True)
