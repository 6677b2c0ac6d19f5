"""Ids are never reused, and a coupon records which strategy family admitted first.

SQLite hands a deleted newest row's id to the next insert unless the table says
`AUTOINCREMENT`, which only a rebuild can add. The rebuild is written out by hand rather
than with `batch_alter_table`: the engine runs with `PRAGMA foreign_keys = ON` inside the
migration's transaction (where the pragma cannot be switched off), and dropping the old
`coupon` table would then cascade-delete every issued row. So both tables are rebuilt,
the new `issued_coupon` pointing at the new `coupon`, the old ones dropped children
first, and the new ones renamed into place (SQLite rewrites the foreign key as it
renames). MariaDB (≥ 10.2.4) and MySQL 8 already persist `AUTO_INCREMENT`: they only gain
the column.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_NEW = "_fcfs_new_"
_COPY_COUPONS = (
    "INSERT INTO _fcfs_new_coupon (id, name, total_quantity, issued_quantity, starts_at, ends_at, created_at) "
    "SELECT id, name, total_quantity, issued_quantity, starts_at, ends_at, created_at FROM coupon"
)
_COPY_ISSUED = (
    "INSERT INTO _fcfs_new_issued_coupon (id, coupon_id, user_id, event_id, issued_at) "
    "SELECT id, coupon_id, user_id, event_id, issued_at FROM issued_coupon"
)


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _moment() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _admission() -> sa.Column[str]:
    return sa.Column("admission", sa.String(100), nullable=True)


def _create_sqlite_tables(prefix: str, *, autoincrement: bool, admission: bool) -> None:
    extra = [_admission()] if admission else []
    op.create_table(
        f"{prefix}coupon",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("total_quantity", sa.Integer(), nullable=False),
        sa.Column("issued_quantity", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("starts_at", _moment(), nullable=True),
        sa.Column("ends_at", _moment(), nullable=True),
        sa.Column("created_at", _moment(), nullable=False),
        *extra,
        sqlite_autoincrement=autoincrement,
    )
    op.create_table(
        f"{prefix}issued_coupon",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("coupon_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.CHAR(36), nullable=True),
        sa.Column("issued_at", _moment(), nullable=False),
        sa.ForeignKeyConstraint(
            ["coupon_id"], [f"{prefix}coupon.id"], name="fk_issued_coupon_coupon", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("coupon_id", "user_id", name="uq_issued_coupon_coupon_user"),
        sqlite_autoincrement=autoincrement,
    )


def _rebuild_sqlite(*, autoincrement: bool, admission: bool) -> None:
    """Copy both tables into new ones, drop the old (children first: nothing cascades), rename."""
    _create_sqlite_tables(_NEW, autoincrement=autoincrement, admission=admission)
    op.execute(_COPY_COUPONS)
    op.execute(_COPY_ISSUED)
    op.drop_table("issued_coupon")
    op.drop_table("coupon")
    op.rename_table(f"{_NEW}coupon", "coupon")
    op.rename_table(f"{_NEW}issued_coupon", "issued_coupon")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(autoincrement=True, admission=True)
    else:
        op.add_column("coupon", _admission())


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(autoincrement=False, admission=False)
    else:
        op.drop_column("coupon", "admission")
