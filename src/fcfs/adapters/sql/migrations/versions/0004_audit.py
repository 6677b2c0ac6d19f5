"""The operators' audit trail: one row per admin action (docs/design.md, live controls).

`coupon_id` has no foreign key on purpose: a coupon's trail (its delete included) outlives
the coupon, and ids are never reused (0002), so an old trail never mixes with a new coupon.
Read per coupon, newest first, through the `(coupon_id, id)` index.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TEXT = 128


def _moment() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "admin_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("coupon_id", sa.BigInteger(), nullable=True),
        sa.Column("parameters", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"), nullable=False),
        sa.Column("outcome", sa.String(_TEXT), nullable=False),
        sa.Column("request_id", sa.String(_TEXT), nullable=True),
        sa.Column("client_address", sa.String(_TEXT), nullable=False),
        sa.Column("actor", sa.String(_TEXT), nullable=False),
        sa.Column("created_at", _moment(), nullable=False),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
        sqlite_autoincrement=True,
    )
    op.create_index("ix_admin_audit_coupon_id", "admin_audit", ["coupon_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_admin_audit_coupon_id", table_name="admin_audit")
    op.drop_table("admin_audit")
