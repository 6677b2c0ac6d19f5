"""The coupon and issued_coupon tables (docs/design.md §3b).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _moment() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "coupon",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("total_quantity", sa.Integer(), nullable=False),
        sa.Column("issued_quantity", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("starts_at", _moment(), nullable=True),
        sa.Column("ends_at", _moment(), nullable=True),
        sa.Column("created_at", _moment(), nullable=False),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )
    op.create_table(
        "issued_coupon",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("coupon_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.CHAR(36), nullable=True),
        sa.Column("issued_at", _moment(), nullable=False),
        sa.ForeignKeyConstraint(["coupon_id"], ["coupon.id"], name="fk_issued_coupon_coupon", ondelete="CASCADE"),
        sa.UniqueConstraint("coupon_id", "user_id", name="uq_issued_coupon_coupon_user"),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )


def downgrade() -> None:
    op.drop_table("issued_coupon")
    op.drop_table("coupon")
