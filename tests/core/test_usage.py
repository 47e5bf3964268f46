"""API calls per month: counted in memory, flushed to the database, quota enforced."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from astralytiq_jupyter.core.errors import QuotaExceeded
from astralytiq_jupyter.core.models import TenantRecord, UsageCounterRecord
from astralytiq_jupyter.core.permissions import Role

from ..conftest import principal_for


def test_calls_are_counted_flushed_and_reported(store):
    admin = principal_for(store, "acme", "ann", Role.ADMIN)
    for _ in range(5):
        store.usage.count_call(admin)
    assert store.tenants.usage(admin)["used"]["api_calls_per_month"] == 5  # pending included
    store.usage.flush()
    store.usage.count_call(admin)
    store.usage.flush()
    with store.session() as s:
        assert s.scalar(select(UsageCounterRecord.value)) == 6
    assert store.tenants.usage(admin)["used"]["api_calls_per_month"] == 6


def test_monthly_quota_is_enforced(store):
    admin = principal_for(store, "tiny", "ann", Role.ADMIN, plan="free")
    with store.transaction() as s:
        s.scalars(select(TenantRecord).where(TenantRecord.slug == "tiny")).one().quota_overrides = {
            "api_calls_per_month": 3
        }
    for _ in range(3):
        store.usage.count_call(admin)
    with pytest.raises(QuotaExceeded, match="3 API calls per month"):
        store.usage.count_call(admin)
    store.usage.flush()
    # A second process (a fresh meter) sees the flushed total and refuses too.
    from astralytiq_jupyter.core.usage import UsageMeter

    with pytest.raises(QuotaExceeded):
        UsageMeter(store).count_call(admin)


def test_tenants_are_counted_separately(store):
    a = principal_for(store, "acme", "ann", Role.ADMIN)
    b = principal_for(store, "globex", "gus", Role.ADMIN)
    store.usage.count_call(a)
    store.usage.count_call(b)
    store.usage.count_call(b)
    store.usage.flush()
    assert store.tenants.usage(a)["used"]["api_calls_per_month"] == 1
    assert store.tenants.usage(b)["used"]["api_calls_per_month"] == 2
