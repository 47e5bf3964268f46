"""Metered usage that no other row records: API calls per tenant and month.

Counting in the database on every request would put a write on the hot path of every API
call (prediction included), so calls are counted in memory and flushed in one small
transaction per tenant every few seconds. The quota check uses the last flushed total plus
what this process has counted since, so several servers sharing a database may together
overshoot a monthly limit by at most one flush interval of traffic.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from .errors import QuotaExceeded
from .models import UsageCounterRecord
from .permissions import Principal
from .tenancy import current_period

if TYPE_CHECKING:
    from .store import Store

API_CALLS = "api_calls"


class UsageMeter:
    """Counts API calls per tenant and enforces the plan's monthly limit."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._pending: Counter[tuple[str, str]] = Counter()  # (tenant slug, period) -> calls
        self._flushed: dict[tuple[str, str], int] = {}
        self._limits: dict[str, int | None] = {}

    def is_warm(self, principal: Principal) -> bool:
        """Whether :meth:`count_call` will answer from memory (no database access)."""
        key = (principal.tenant, current_period())
        return principal.tenant in self._limits and key in self._flushed

    def calls_this_month(self, tenant: str) -> int:
        """Calls recorded in the database plus those this process has not flushed yet."""
        key = (tenant, current_period())
        with self._lock:
            pending = self._pending[key]
        return self._stored(key) + pending

    def count_call(self, principal: Principal) -> None:
        """Record one API call of ``principal``'s tenant; :class:`QuotaExceeded` once the
        month's allowance is used up (the refused call is not counted)."""
        key = (principal.tenant, current_period())
        if principal.tenant not in self._limits:
            self._limits[principal.tenant] = self._limit(principal)
        limit = self._limits[principal.tenant]
        with self._lock:
            if key not in self._flushed:
                self._flushed[key] = self._stored(key)
            used = self._flushed[key] + self._pending[key]
            if limit is not None and used >= limit:
                raise QuotaExceeded(
                    f"Your plan allows {limit:,} API calls per month and they are used up; "
                    "upgrade the plan or wait for next month.",
                    quota="api_calls_per_month",
                    limit=limit,
                )
            self._pending[key] += 1

    def flush(self) -> None:
        """Add the calls counted since the last flush to the database."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._limits.clear()  # plan changes take effect within one flush interval
        for (tenant, period), calls in pending.items():
            if calls:
                total = self._add(tenant, period, calls)
                with self._lock:
                    self._flushed[(tenant, period)] = total

    def _limit(self, principal: Principal) -> int | None:
        with self.store.session() as session:
            return self.store.quotas(session, principal).api_calls_per_month

    def _stored(self, key: tuple[str, str]) -> int:
        tenant, period = key
        with self.store.session() as session:
            tenant_id = self.store.tenant_id(session, tenant)
            value = session.scalar(
                UsageCounterRecord.__table__.select()
                .with_only_columns(UsageCounterRecord.value)
                .where(
                    UsageCounterRecord.tenant_id == tenant_id,
                    UsageCounterRecord.metric == API_CALLS,
                    UsageCounterRecord.period == period,
                )
            )
            return int(value or 0)

    def _add(self, tenant: str, period: str, calls: int) -> int:
        for _ in range(3):
            try:
                with self.store.transaction() as session:
                    tenant_id = self.store.tenant_id(session, tenant)
                    where = (
                        UsageCounterRecord.tenant_id == tenant_id,
                        UsageCounterRecord.metric == API_CALLS,
                        UsageCounterRecord.period == period,
                    )
                    result = session.execute(
                        update(UsageCounterRecord)
                        .where(*where)
                        .values(value=UsageCounterRecord.value + calls)
                    )
                    if result.rowcount == 0:
                        session.add(
                            UsageCounterRecord(
                                tenant_id=tenant_id, metric=API_CALLS, period=period, value=calls
                            )
                        )
                        session.flush()
                    return int(
                        session.scalar(
                            UsageCounterRecord.__table__.select()
                            .with_only_columns(UsageCounterRecord.value)
                            .where(*where)
                        )
                    )
            except IntegrityError:
                continue  # another server inserted the month's row first: update it instead
        raise RuntimeError("could not record API usage")  # pragma: no cover
