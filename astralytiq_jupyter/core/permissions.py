"""Roles, permissions and the principal acting on a tenant.

``ROLE_PERMISSIONS`` is the one permission table of the product (DESIGN §4). Every layer
asks :func:`require` / :meth:`Principal.can`; nothing else encodes who may do what.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import Forbidden, Invalid


class Role(str, enum.Enum):
    """Member roles, ordered from least to most privileged."""

    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_ORDER.index(self)

    @classmethod
    def parse(cls, value: str | Role) -> Role:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(r.value for r in cls)
            raise Invalid(
                f"Unknown role {value!r}; expected one of: {names}.", role=value
            ) from None


_ROLE_ORDER = (Role.VIEWER, Role.ANALYST, Role.ADMIN)


class Permission(str, enum.Enum):
    """Things a principal may do; names are ``<area>:<action>``."""

    DATASET_READ = "dataset:read"
    DATASET_WRITE = "dataset:write"  # upload, ingest, save, apply recipes
    DATASET_EXPORT = "dataset:export"
    DATASET_DELETE = "dataset:delete"
    RECIPE_READ = "recipe:read"
    RECIPE_WRITE = "recipe:write"
    RECIPE_DELETE = "recipe:delete"
    MODEL_READ = "model:read"
    MODEL_PREDICT = "model:predict"
    MODEL_TRAIN = "model:train"
    MODEL_WRITE = "model:write"  # register versions, move aliases
    MODEL_DELETE = "model:delete"
    DASHBOARD_READ = "dashboard:read"
    DASHBOARD_WRITE = "dashboard:write"
    DASHBOARD_DELETE = "dashboard:delete"
    TENANT_READ = "tenant:read"
    TENANT_MANAGE = "tenant:manage"  # settings, branding
    MEMBER_READ = "member:read"
    MEMBER_MANAGE = "member:manage"
    AUDIT_READ = "audit:read"
    TOKEN_MANAGE = "token:manage"  # noqa: S105 - a permission name, not a secret


_P = Permission
_VIEWER = frozenset(
    {
        _P.DATASET_READ,
        _P.RECIPE_READ,
        _P.MODEL_READ,
        _P.MODEL_PREDICT,
        _P.DASHBOARD_READ,
        _P.TENANT_READ,
    }
)
_ANALYST = _VIEWER | {
    _P.DATASET_WRITE,
    _P.DATASET_EXPORT,
    _P.RECIPE_WRITE,
    _P.MODEL_TRAIN,
    _P.MODEL_WRITE,
    _P.DASHBOARD_WRITE,
}
_ADMIN = _ANALYST | {
    _P.DATASET_DELETE,
    _P.RECIPE_DELETE,
    _P.MODEL_DELETE,
    _P.DASHBOARD_DELETE,
    _P.TENANT_MANAGE,
    _P.MEMBER_READ,
    _P.MEMBER_MANAGE,
    _P.AUDIT_READ,
    _P.TOKEN_MANAGE,
}

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.ANALYST: frozenset(_ANALYST),
    Role.ADMIN: frozenset(_ADMIN),
}


@dataclass(frozen=True)
class Principal:
    """Who is acting, on which tenant, with which role.

    ``tenant`` is the tenant slug. ``platform_owner`` marks the operator who may create
    tenants; it grants nothing inside a tenant beyond ``role``.
    """

    user: str
    tenant: str
    role: Role
    platform_owner: bool = False
    display_name: str | None = None
    via: str = "local"  # how the identity was established: local, member, hub, token
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def permissions(self) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[self.role]

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def to_dict(self) -> dict:
        return {
            "user": self.user,
            "tenant": self.tenant,
            "role": self.role.value,
            "platform_owner": self.platform_owner,
            "display_name": self.display_name or self.user,
            "permissions": sorted(p.value for p in self.permissions),
        }


def require(principal: Principal, permission: Permission) -> None:
    """Raise :class:`Forbidden` unless ``principal`` holds ``permission``."""
    if not principal.can(permission):
        raise Forbidden(
            f"Your role '{principal.role.value}' in tenant '{principal.tenant}' does not allow "
            f"'{permission.value}'.",
            permission=permission.value,
            role=principal.role.value,
        )


def can_grant(granter: Role, role: Role) -> bool:
    """Admins manage roles strictly below their own (DESIGN §4); only the platform owner
    appoints admins."""
    return role.rank < granter.rank
