"""Training slots: the concurrent trainings of each tenant, counted in the shared database so
that every kernel and server of a store sees the same count (``core.training_slots``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_slots",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_training_slots_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_slots")),
    )
    op.create_index(
        "ix_training_slots_tenant_expires", "training_slots", ["tenant_id", "expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_training_slots_tenant_expires", table_name="training_slots")
    op.drop_table("training_slots")
