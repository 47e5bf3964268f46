"""What an operation of the REST API is (its permission, typed query and body, statuses and
media types) and what a route is (a path template, its handler and its operations); the table
of every route is :mod:`.routes`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ..core.permissions import Permission
from .params import Param

PLATFORM: Literal["platform"] = "platform"  # only the platform owner (creates tenants)
# Anyone, without credentials (liveness for monitoring probes); nothing tenant-related.
PUBLIC: Literal["public"] = "public"
API_PREFIX = "/astralytiq/api"
#: Operations whose work grows with the data (reading, writing or computing over whole
#: versions and models): they run on the long-work pool, a few at once per tenant
#: (``server_extension.admission``), so that they never hold up short requests or ``/health``.
LONG_OPERATIONS = frozenset(
    {
        "dataset.upload",
        "dataset.ingest",
        "dataset.data",
        "dataset.profile",
        "dataset.clusters",
        "dataset.sample",
        "dataset.aggregate",
        "dataset.preview",
        "dataset.apply",
        "model.register",
        "model.artifact",
        "model.score",
    }
)


@dataclass(frozen=True)
class Operation:
    """One verb of a route: ``id`` names it in audit events, metrics and OpenAPI."""

    id: str
    # None: any authenticated principal; a tuple: every one of these permissions.
    permission: Permission | tuple[Permission, ...] | Literal["platform", "public"] | None
    summary: str
    #: The query parameters the operation reads, typed and bounded; any other is refused (a
    #: typo such as ``?limt=5`` must not silently return the default page).
    query: tuple[Param, ...] = ()
    #: The fields of a JSON object body (``None``: the operation takes no JSON object body);
    #: unknown fields are refused, so ``tenant_id`` or ``created_by`` can never be assigned.
    body: tuple[Param, ...] | None = None
    #: The statuses a success answers with (``204`` has no body).
    success: tuple[int, ...] = (200,)
    #: Media types of a successful answer; errors are always JSON.
    produces: tuple[str, ...] = ("application/json",)

    @property
    def query_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.query)

    def authorizer_action(self, method: str) -> str:
        """jupyter_server's authorizer action: ``read`` for GETs and for operations that
        only need read permissions (a POSTed recipe preview changes nothing), else ``write``."""
        reads = self.permissions and all(p.value.endswith(":read") for p in self.permissions)
        return "read" if method == "GET" or reads else "write"

    @property
    def long(self) -> bool:
        """Whether the work is long (see :data:`LONG_OPERATIONS`)."""
        return self.id in LONG_OPERATIONS

    @property
    def permissions(self) -> tuple[Permission, ...]:
        """The permissions required (empty for ``None`` and ``PLATFORM``)."""
        if isinstance(self.permission, Permission):
            return (self.permission,)
        if isinstance(self.permission, tuple):
            return self.permission
        return ()


@dataclass(frozen=True)
class Route:
    template: str
    handler: type
    operations: dict[str, Operation] = field(default_factory=dict)

    @property
    def area(self) -> str:
        """The jupyter_server authorizer resource suffix: ``astralytiq:<area>``."""
        return self.template.strip("/").split("/")[0].split(".")[0]

    @property
    def pattern(self) -> str:
        """The tornado pattern: each ``{param}`` matches one path segment."""
        return API_PREFIX + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)

    def spec(self) -> tuple[str, Any, dict[str, Any]]:
        return (self.pattern, self.handler, {"route": self})


JSON = "application/json"
