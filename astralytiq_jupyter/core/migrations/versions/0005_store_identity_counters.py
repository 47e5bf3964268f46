"""Data safety: the store's identity (matched against a marker in its storage root) and
per-name version counters, so that a version number is never given twice, even after deletes.

Existing names start from their highest surviving version.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    identity = op.create_table(
        "store_identity",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("store_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_identity")),
    )
    op.bulk_insert(
        identity,
        [{"id": 1, "store_id": uuid.uuid4().hex, "created_at": datetime.now(timezone.utc)}],
    )
    op.create_table(
        "version_counters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_version_counters_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_counters")),
        sa.UniqueConstraint(
            "tenant_id", "kind", "name", name=op.f("uq_version_counters_tenant_id")
        ),
    )
    for kind, owners, versions, owner_id in (
        ("datasets", "datasets", "dataset_versions", "dataset_id"),
        ("models", "models", "model_versions", "model_id"),
    ):
        op.execute(
            f"INSERT INTO version_counters (tenant_id, kind, name, last_version) "  # noqa: S608
            f"SELECT o.tenant_id, '{kind}', o.name, MAX(v.version) FROM {owners} o "
            f"JOIN {versions} v ON v.{owner_id} = o.id GROUP BY o.tenant_id, o.name"
        )


def downgrade() -> None:
    op.drop_table("version_counters")
    op.drop_table("store_identity")
