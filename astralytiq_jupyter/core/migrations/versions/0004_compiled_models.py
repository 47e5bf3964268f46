"""Compiled model runtime: each model version records whether it is served by ONNX Runtime
(with the compiled file's key, hash and size) or by scikit-learn, and why.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 07:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(
            sa.Column("runtime", sa.String(length=16), nullable=False, server_default="sklearn")
        )
        batch.add_column(sa.Column("runtime_note", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("compiled_key", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("compiled_sha256", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("compiled_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        for column in ("compiled_bytes", "compiled_sha256", "compiled_key", "runtime_note"):
            batch.drop_column(column)
        batch.drop_column("runtime")
