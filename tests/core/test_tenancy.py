from __future__ import annotations

import pytest

from astralytiq_jupyter.core.errors import Conflict, Forbidden, Invalid, NotFound, QuotaExceeded
from astralytiq_jupyter.core.permissions import Principal, Role
from astralytiq_jupyter.core.tenancy import PLANS

from ..conftest import principal_for

OWNER = Principal("root", "default", Role.ADMIN, platform_owner=True)


def test_platform_owner_creates_tenant_with_admin(store):
    tenant = store.tenants.create(OWNER, "acme", "ACME Corp", plan="basic", admin="ann")
    assert tenant.slug == "acme" and tenant.plan == "basic" and tenant.quotas == PLANS["basic"]
    assert store.member_role("acme", "ann") is Role.ADMIN
    assert [t.slug for t in store.tenants.list_all(OWNER)] == ["acme", "default"]


def test_tenant_creation_rules(store):
    admin = principal_for(store, "default", "alice", Role.ADMIN)
    with pytest.raises(Forbidden):
        store.tenants.create(admin, "evil")
    with pytest.raises(Invalid):
        store.tenants.create(OWNER, "Bad Slug")
    with pytest.raises(Invalid, match="Unknown plan"):
        store.tenants.create(OWNER, "x", plan="platinum")
    store.tenants.create(OWNER, "acme")
    with pytest.raises(Conflict):
        store.tenants.create(OWNER, "acme")


def test_member_management_respects_role_ranks(store):
    admin = principal_for(store, "acme", "ann", Role.ADMIN)
    store.tenants.add_member(admin, "bob", "analyst")
    store.tenants.add_member(admin, "val", Role.VIEWER)
    assert {m.username: m.role for m in store.tenants.members(admin)} == {
        "ann": Role.ADMIN,
        "bob": Role.ANALYST,
        "val": Role.VIEWER,
    }
    with pytest.raises(Forbidden, match="only roles below your own"):
        store.tenants.add_member(admin, "eve", "admin")
    with pytest.raises(Conflict):
        store.tenants.add_member(admin, "bob", "viewer")
    assert store.tenants.set_role(admin, "val", "analyst").role is Role.ANALYST
    store.tenants.remove_member(admin, "val")
    with pytest.raises(NotFound):
        store.tenants.set_role(admin, "val", "viewer")
    with pytest.raises(Invalid, match="yourself"):
        store.tenants.remove_member(admin, "ann")
    analyst = Principal("bob", "acme", Role.ANALYST)
    with pytest.raises(Forbidden):
        store.tenants.add_member(analyst, "x", "viewer")
    with pytest.raises(Forbidden):
        store.tenants.members(analyst)


def test_admin_cannot_demote_or_remove_another_admin(store):
    ann = principal_for(store, "acme", "ann", Role.ADMIN)
    principal_for(store, "acme", "adam", Role.ADMIN)
    with pytest.raises(Forbidden):
        store.tenants.set_role(ann, "adam", "viewer")
    with pytest.raises(Forbidden):
        store.tenants.remove_member(ann, "adam")
    assert store.member_role("acme", "adam") is Role.ADMIN


def test_member_quota(store):
    admin = principal_for(store, "tiny", "ann", Role.ADMIN, plan="free")
    store.tenants.add_member(admin, "b", "viewer")
    store.tenants.add_member(admin, "c", "viewer")
    with pytest.raises(QuotaExceeded, match="3 members"):
        store.tenants.add_member(admin, "d", "viewer")
    assert len(store.tenants.members(admin)) == 3


def test_members_of_other_tenants_are_not_found(store):
    ann = principal_for(store, "acme", "ann", Role.ADMIN)
    principal_for(store, "globex", "gus", Role.VIEWER)
    with pytest.raises(NotFound):
        store.tenants.set_role(ann, "gus", "analyst")
    with pytest.raises(NotFound):
        store.tenants.remove_member(ann, "gus")
    assert store.member_role("globex", "gus") is Role.VIEWER


def test_branding_and_settings(store):
    admin = principal_for(store, "acme", "ann", Role.ADMIN)
    tenant = store.tenants.update(
        admin,
        display_name="ACME",
        branding={"company_name": "ACME", "primary_color": "#112233"},
        settings={"currency": "EUR"},
    )
    assert tenant.branding == {"company_name": "ACME", "primary_color": "#112233"}
    assert tenant.settings == {"currency": "EUR"}
    with pytest.raises(Invalid, match="colour"):
        store.tenants.update(admin, branding={"primary_color": "red; background:url(x)"})
    with pytest.raises(Invalid, match="Unknown branding"):
        store.tenants.update(admin, branding={"css": "x"})
    with pytest.raises(Invalid, match="logo"):
        store.tenants.update(admin, branding={"logo_url": "javascript:alert(1)"})
    with pytest.raises(Forbidden, match="plan"):
        store.tenants.update(admin, plan="enterprise")
    with pytest.raises(Forbidden):
        store.tenants.update(Principal("v", "acme", Role.VIEWER), display_name="x")
    assert store.tenants.get(admin).display_name == "ACME"


def test_usage_reports_quotas(store):
    admin = principal_for(store, "acme", "ann", Role.ADMIN, plan="free")
    usage = store.tenants.usage(admin)
    assert usage["plan"] == "free"
    assert usage["used"]["members"] == 1 and usage["used"]["datasets"] == 0
    assert usage["quotas"]["datasets"] == PLANS["free"].datasets


def test_unknown_tenant_is_not_found(store):
    with pytest.raises(NotFound):
        store.tenants.get(Principal("x", "nope", Role.ADMIN))
