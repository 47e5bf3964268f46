from __future__ import annotations

import pytest

from astralytiq_jupyter.core.errors import Forbidden, Invalid
from astralytiq_jupyter.core.permissions import (
    ROLE_PERMISSIONS,
    Permission,
    Principal,
    Role,
    can_grant,
    require,
)

P = Permission


def test_roles_are_nested():
    assert (
        ROLE_PERMISSIONS[Role.VIEWER]
        < ROLE_PERMISSIONS[Role.ANALYST]
        < ROLE_PERMISSIONS[Role.ADMIN]
    )
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)


def test_viewer_reads_and_predicts_only():
    assert ROLE_PERMISSIONS[Role.VIEWER] == {
        P.DATASET_READ,
        P.RECIPE_READ,
        P.MODEL_READ,
        P.MODEL_PREDICT,
        P.DASHBOARD_READ,
        P.TENANT_READ,
    }


def test_analyst_adds_upload_clean_export_train_register_dashboards():
    added = ROLE_PERMISSIONS[Role.ANALYST] - ROLE_PERMISSIONS[Role.VIEWER]
    assert added == {
        P.DATASET_WRITE,
        P.DATASET_EXPORT,
        P.RECIPE_WRITE,
        P.MODEL_TRAIN,
        P.MODEL_WRITE,
        P.DASHBOARD_WRITE,
    }


def test_admin_adds_delete_members_settings_audit():
    added = ROLE_PERMISSIONS[Role.ADMIN] - ROLE_PERMISSIONS[Role.ANALYST]
    assert {
        P.DATASET_DELETE,
        P.MODEL_DELETE,
        P.MEMBER_MANAGE,
        P.TENANT_MANAGE,
        P.AUDIT_READ,
    } <= added


def test_require_names_role_and_permission():
    viewer = Principal("v", "acme", Role.VIEWER)
    require(viewer, P.DATASET_READ)
    with pytest.raises(Forbidden, match="viewer.*dataset:write"):
        require(viewer, P.DATASET_WRITE)


@pytest.mark.parametrize(
    ("granter", "role", "allowed"),
    [
        (Role.ADMIN, Role.VIEWER, True),
        (Role.ADMIN, Role.ANALYST, True),
        (Role.ADMIN, Role.ADMIN, False),
        (Role.ANALYST, Role.VIEWER, True),
        (Role.ANALYST, Role.ANALYST, False),
        (Role.VIEWER, Role.VIEWER, False),
    ],
)
def test_nobody_grants_at_or_above_own_role(granter, role, allowed):
    assert can_grant(granter, role) is allowed


def test_unknown_role_is_invalid():
    with pytest.raises(Invalid, match="Unknown role 'owner'"):
        Role.parse("owner")


def test_principal_to_dict_lists_permissions():
    data = Principal("a", "acme", Role.ANALYST).to_dict()
    assert data["role"] == "analyst" and "dataset:write" in data["permissions"]
    assert "dataset:delete" not in data["permissions"]
