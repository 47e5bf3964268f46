from __future__ import annotations

import pytest

from astralytiq_jupyter.core.errors import Forbidden, Invalid
from astralytiq_jupyter.core.permissions import Principal, Role

from ..conftest import principal_for


def test_mutations_and_denials_are_recorded(store):
    admin = principal_for(store, "acme", "ann", Role.ADMIN)
    viewer = principal_for(store, "acme", "val", Role.VIEWER)
    store.tenants.add_member(admin, "bob", "analyst")
    with pytest.raises(Forbidden):
        store.tenants.add_member(viewer, "eve", "viewer")
    with pytest.raises(Invalid):
        store.tenants.add_member(admin, "x", "superuser")
    events = store.audit.list(admin)
    assert [(e.actor, e.action, e.outcome) for e in events] == [
        ("ann", "member.add", "error"),
        ("val", "member.add", "denied"),
        ("ann", "member.add", "ok"),
    ]
    assert events[1].resource == "member:eve" and "member:manage" in events[1].detail["reason"]
    assert events[2].detail == {"role": "analyst"}
    assert [e.action for e in store.audit.list(admin, outcome="denied")] == ["member.add"]
    assert [e.actor for e in store.audit.list(admin, actor="ann")] == ["ann", "ann"]
    assert len(store.audit.list(admin, limit=1)) == 1
    assert len(store.audit.list(admin, limit=2, offset=2)) == 1


def test_audit_is_admin_only_and_tenant_scoped(store):
    admin = principal_for(store, "acme", "ann", Role.ADMIN)
    other = principal_for(store, "globex", "gus", Role.ADMIN)
    store.tenants.add_member(other, "gina", "viewer")
    assert store.audit.list(admin) == []
    with pytest.raises(Forbidden):
        store.audit.list(Principal("bob", "acme", Role.ANALYST))
    with pytest.raises(Invalid):
        store.audit.list(admin, outcome="maybe")
    with pytest.raises(Invalid):
        store.audit.list(admin, limit=0)
