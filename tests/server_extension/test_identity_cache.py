"""The resolved-principal cache never outlives a membership change made in this process."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from astralytiq_jupyter.core.errors import Forbidden
from astralytiq_jupyter.core.permissions import Principal, Role
from astralytiq_jupyter.server_extension.identity import PrincipalResolver

from ..conftest import principal_for


@pytest.fixture
def resolver(store):
    app = SimpleNamespace(
        store=store,
        owner="owner",
        owner_fallback=False,
        default_tenant="default",
        platform_owner_names=frozenset(),
    )
    return PrincipalResolver(app)


def test_cache_is_invalidated_by_role_changes(store, resolver):
    admin = principal_for(store, "acme", "ann", Role.ADMIN)
    store.tenants.add_member(admin, "bob", "analyst")
    user = SimpleNamespace(username="bob")
    assert resolver.cached(user, None) is None
    assert resolver.resolve_and_cache(user, None).role is Role.ANALYST
    assert resolver.cached(user, None).role is Role.ANALYST
    store.tenants.set_role(admin, "bob", "viewer")
    assert resolver.cached(user, None) is None
    assert resolver.resolve_and_cache(user, None).role is Role.VIEWER
    store.tenants.remove_member(admin, "bob")
    assert resolver.cached(user, None) is None
    with pytest.raises(Forbidden):
        resolver.resolve_and_cache(user, None)


def test_cache_expires(store, resolver, monkeypatch):
    principal_for(store, "acme", "carl", Role.VIEWER)
    user = SimpleNamespace(username="carl")
    first = resolver.resolve_and_cache(user, None)
    assert isinstance(first, Principal) and resolver.cached(user, None) == first
    monkeypatch.setattr(resolver, "cache_seconds", -1.0)
    resolver.resolve_and_cache(user, None)
    assert resolver.cached(user, None) is None


def test_token_authentications_are_cached_until_revoked_or_expired(store, resolver):
    import time as _time

    admin = principal_for(store, "acme", "ann", Role.ADMIN)
    issued = store.tokens.create(admin, "ci", role="analyst")
    principal = resolver.authenticate_token(issued.secret)
    assert principal.role is Role.ANALYST and principal.via == "token"
    assert resolver.cached_token(issued.secret) == principal
    assert resolver.cached_token("aqt_" + "0" * 60) is None  # never the wrong token
    # Revoking through this process refuses the token at once.
    store.tokens.revoke(admin, issued.token.id)
    assert resolver.cached_token(issued.secret) is None
    assert resolver.authenticate_token(issued.secret) is None

    # A token about to expire is remembered no longer than it is valid.
    from datetime import datetime, timedelta, timezone

    from astralytiq_jupyter.core.models import ApiTokenRecord

    short = store.tokens.create(admin, "short")
    with store.transaction() as session:
        row = session.get(ApiTokenRecord, short.token.id)
        row.expires_at = datetime.now(timezone.utc) + timedelta(seconds=0.3)
    assert resolver.authenticate_token(short.secret) is not None
    assert resolver.cached_token(short.secret) is not None
    _time.sleep(0.4)
    assert resolver.cached_token(short.secret) is None
    assert resolver.authenticate_token(short.secret) is None


def test_the_cache_holds_no_token_secret(store, resolver):
    admin = principal_for(store, "acme", "ann", Role.ADMIN)
    issued = store.tokens.create(admin, "ci")
    resolver.authenticate_token(issued.secret)
    assert issued.secret not in repr(resolver._cache)
