"""Training slots in the shared database: the tenant's concurrent-training quota holds
across processes (separate stores on one database, a real second process), refusals are
audited, a crashed holder's slot is reclaimed once it expires, a viewer gets none, and other
tenants' slots do not count. On SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from astralytiq_jupyter.core.config import StoreConfig
from astralytiq_jupyter.core.errors import Forbidden, Invalid, NotFound, QuotaExceeded
from astralytiq_jupyter.core.models import utcnow
from astralytiq_jupyter.core.permissions import Role
from astralytiq_jupyter.core.store import Store
from astralytiq_jupyter.core.training import TrainingProgress
from astralytiq_jupyter.core.training_slots import SLOT_TTL, TrainingSlots, holding

from ..conftest import principal_for, workspace_for


@pytest.fixture
def other_store(store_config: StoreConfig, store: Store) -> Iterator[Store]:
    """A second process's view of the same database (its own engine and services)."""
    with Store(store_config) as s:
        yield s


def _limit(store: Store, tenant: str, n: int) -> None:
    """Set the tenant's concurrent-training quota (as a platform operator's override)."""
    from astralytiq_jupyter.core.models import TenantRecord

    with store.transaction() as session:
        row = store.tenant_record(session, tenant)
        assert isinstance(row, TenantRecord)
        row.quota_overrides = {**(row.quota_overrides or {}), "concurrent_trainings": n}


def _audit(store: Store, tenant: str, **filters: object) -> list:
    admin = principal_for(store, tenant, "auditor", Role.ADMIN)
    return store.audit.list(admin, **filters)


def test_two_stores_on_one_database_share_the_quota(store: Store, other_store: Store) -> None:
    ann = principal_for(store, "acme", "ann", Role.ANALYST)
    bob = principal_for(store, "acme", "bob", Role.ANALYST)
    _limit(store, "acme", 2)
    first = store.training_slots.acquire(ann, resource="dataset:sales@1")
    other_store.training_slots.acquire(bob)
    with pytest.raises(QuotaExceeded) as refused:
        other_store.training_slots.acquire(ann, resource="dataset:sales@1")
    error = refused.value
    assert error.message == (
        "Your workspace already runs 2 trainings, the limit is 2; wait for one to finish."
    )
    assert error.detail["quota"] == "concurrent_trainings" and error.detail["retry_after"] > 0
    assert error.http_status == 429
    # Once one is given back (by the process that holds it), the next caller gets one.
    store.training_slots.release(ann, first.id)
    assert other_store.training_slots.acquire(ann).user == "ann"
    assert store.training_slots.running(ann) == 2


def test_concurrent_acquisitions_never_exceed_the_quota(store: Store, other_store: Store) -> None:
    ann = principal_for(store, "acme", "ann", Role.ANALYST)
    _limit(store, "acme", 3)
    results: list[object] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def take(s: Store) -> None:
        start.wait()
        try:
            outcome: object = s.training_slots.acquire(ann)
        except QuotaExceeded as exc:
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=take, args=((store, other_store)[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(results) == 8 and len(refused) == 5
    assert store.training_slots.running(ann) == 3


def test_a_refusal_is_audited(store: Store) -> None:
    ann = principal_for(store, "acme", "ann", Role.ANALYST)
    _limit(store, "acme", 1)
    store.training_slots.acquire(ann, action="model.compare", resource="dataset:sales@2")
    with pytest.raises(QuotaExceeded):
        store.training_slots.acquire(ann, resource="dataset:sales@3")
    with pytest.raises(Invalid, match="Unknown training action"):
        store.training_slots.acquire(ann, action="model.delete")
    [refusal] = _audit(store, "acme", action="model.train", actor="ann")
    assert (refusal.outcome, refusal.resource) == ("error", "dataset:sales@3")
    assert refusal.detail["error"] == "quota_exceeded"
    assert "already runs 1 training," in refusal.detail["reason"]
    [taken] = _audit(store, "acme", action="model.compare", actor="ann")
    assert taken.outcome == "ok" and taken.detail["running"] == 1


def test_a_viewer_gets_no_slot_and_the_refusal_is_audited(store: Store) -> None:
    vic = principal_for(store, "acme", "vic", Role.VIEWER)
    with pytest.raises(Forbidden, match="model:train"):
        store.training_slots.acquire(vic, resource="dataset:sales")
    [denied] = _audit(store, "acme", actor="vic", outcome="denied")
    assert (denied.action, denied.resource) == ("model.train", "dataset:sales")
    assert store.training_slots.running(vic) == 0


def test_other_tenants_slots_do_not_count(store: Store, other_store: Store) -> None:
    ann = principal_for(store, "acme", "ann", Role.ANALYST)
    gus = principal_for(store, "globex", "gus", Role.ANALYST)
    _limit(store, "acme", 1)
    _limit(store, "globex", 1)
    mine = store.training_slots.acquire(ann)
    theirs = other_store.training_slots.acquire(gus)
    assert store.training_slots.running(ann) == 1 and store.training_slots.running(gus) == 1
    # Another tenant's slot is not found: neither renewed nor released by a stranger.
    for call in (store.training_slots.renew, store.training_slots.release):
        with pytest.raises(NotFound):
            call(ann, theirs.id)
        with pytest.raises(NotFound):
            call(gus, mine.id)
        with pytest.raises(NotFound):
            call(ann, "../" + mine.id)


def test_renewing_keeps_a_slot_alive_past_its_first_expiry(store: Store) -> None:
    ann = principal_for(store, "acme", "ann", Role.ANALYST)
    _limit(store, "acme", 1)
    now = utcnow()
    clock = [now]
    slots = TrainingSlots(store, ttl=60, clock=lambda: clock[0])
    slot = slots.acquire(ann)
    assert slot.expires_at == now + timedelta(seconds=60) and slot.renew_every == 15
    clock[0] = now + timedelta(seconds=45)
    renewed = slots.renew(ann, slot.id)
    assert renewed.expires_at == clock[0] + timedelta(seconds=60)
    clock[0] = now + timedelta(seconds=90)  # past the first expiry, within the renewed one
    with pytest.raises(QuotaExceeded):
        slots.acquire(ann)
    clock[0] = now + timedelta(seconds=106)  # the holder stopped renewing: reclaimed
    assert slots.acquire(ann).id != slot.id
    with pytest.raises(NotFound):
        slots.renew(ann, slot.id)


CRASHING_HOLDER = """
import os, sys
from astralytiq_jupyter.core.config import StoreConfig
from astralytiq_jupyter.core.permissions import Principal, Role
from astralytiq_jupyter.core.store import Store

store = Store(StoreConfig(home=sys.argv[1], database_url=sys.argv[2] or None))
slot = store.training_slots.acquire(Principal(user="ann", tenant="acme", role=Role.ANALYST))
print(slot.id, flush=True)
os._exit(3)  # dies holding its slot, without releasing it, as a crashed kernel does
"""


def test_the_slot_of_a_dead_process_is_reclaimed_once_expired(
    store: Store, store_config: StoreConfig
) -> None:
    ann = principal_for(store, "acme", "ann", Role.ANALYST)
    _limit(store, "acme", 1)
    dead = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASHING_HOLDER,
            str(store_config.home),
            store_config.database_url or "",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dead.returncode == 3, dead.stderr
    dead_slot = dead.stdout.strip()
    # Until it expires, the dead holder's slot still counts (it might be a slow one)...
    with pytest.raises(QuotaExceeded):
        store.training_slots.acquire(ann)
    # ...and once its lifetime is over without a heartbeat, the next caller reclaims it.
    later = TrainingSlots(store, clock=lambda: utcnow() + timedelta(seconds=SLOT_TTL + 1))
    slot = later.acquire(ann)
    assert later.running(ann) == 1 and slot.id != dead_slot
    with pytest.raises(NotFound):
        store.training_slots.renew(ann, dead_slot)


def test_holding_renews_in_the_background_and_releases(store: Store) -> None:
    ann = principal_for(store, "acme", "ann", Role.ANALYST)
    slots = TrainingSlots(store, ttl=0.2)  # a beat every 0.05 s
    slot = slots.acquire(ann)
    beats = threading.Semaphore(0)

    def renew() -> None:
        slots.renew(ann, slot.id)
        beats.release()

    with holding(slot, renew, lambda: slots.release(ann, slot.id)):
        for _ in range(3):
            assert beats.acquire(timeout=30)
        assert slots.running(ann) == 1
    assert slots.running(ann) == 0


def test_training_holds_a_slot_while_it_runs(store: Store, other_store: Store) -> None:
    """Two workspaces with separate backends (and stores): while one trains, the other is
    refused; afterwards the slot is free again."""
    first = workspace_for(store, "acme", "ann", Role.ANALYST)
    second = workspace_for(other_store, "acme", "bob", Role.ANALYST)
    _limit(store, "acme", 1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    first.datasets.save(pd.DataFrame({"x": x, "y": 3 * x + rng.normal(size=60) * 0.1}), "line")
    started, go_on = threading.Event(), threading.Event()

    def progress(_: TrainingProgress) -> None:
        started.set()
        assert go_on.wait(60)

    options = {"target": "y", "algorithms": ["linear_regression"], "cv_folds": 2}
    worker = threading.Thread(
        target=first.train, args=("line",), kwargs={**options, "progress": progress}
    )
    worker.start()
    try:
        assert started.wait(60)
        with pytest.raises(QuotaExceeded, match="already runs 1 training"):
            second.train("line", **options)
    finally:
        go_on.set()
        worker.join(120)
    assert store.training_slots.running(first.me) == 0
    assert second.train("line", **options).spec.dataset == "line@1"
