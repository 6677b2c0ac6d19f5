"""The two tables of docs/design.md §3b, for MariaDB/MySQL and SQLite alike.

The migrations in `migrations/versions` create the same schema by hand; these objects are
what the queries are built from. `UNIQUE (coupon_id, user_id)` is what makes a redelivered
event add no row (invariant 2); every query relies on it. Ids are never reused (SQLite's
`AUTOINCREMENT`; InnoDB keeps its counter across restarts since MariaDB 10.2.4 / MySQL 8.0):
a reused coupon id would hand a deleted coupon's in-flight events, gate keys and idempotency
answers to a new coupon (invariant 4). `coupon.admission` records the strategy family
that admitted first, so strategies keeping their truth elsewhere cannot mix on one coupon.
`coupon.state` (open / paused / closed) is the operator's switch, the truth the gate mirrors;
`state_version` orders those mirror writes. `admin_audit` is the operators' trail, read per
coupon newest first through its `(coupon_id, id)` index.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.types import CHAR, TypeDecorator

from fcfs.domain.coupon import MAX_NAME_LENGTH, Coupon, IssuedCoupon, ValidityWindow
from fcfs.domain.coupon_state import CouponState

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect, Row
    from sqlalchemy.sql.schema import SchemaItem
    from sqlalchemy.types import TypeEngine

MYSQL_DIALECTS = ("mysql", "mariadb")
EVENT_ID_LENGTH = 36
ADMISSION_LENGTH = 100
STATE_LENGTH = 16
AUDIT_ACTION_LENGTH = 32
AUDIT_TEXT_LENGTH = 128


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (`DATETIME(6)` on MySQL), always handed back timezone-aware UTC.

    A naive value is taken to be UTC already rather than refused: refusing would turn one
    odd event into an error a consumer retries forever.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in MYSQL_DIALECTS:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC)


def _id_type() -> TypeEngine[int]:
    """BIGINT everywhere but SQLite, where only `INTEGER PRIMARY KEY` autoincrements."""
    return BigInteger().with_variant(Integer(), "sqlite")


metadata = MetaData()


def _table(name: str, *columns: SchemaItem) -> Table:
    """Every table: an id that is never reused (see above) first, InnoDB, and full UTF-8."""
    return Table(
        name,
        metadata,
        Column("id", _id_type(), primary_key=True, autoincrement=True),
        *columns,
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
        sqlite_autoincrement=True,
    )


coupon = _table(
    "coupon",
    Column("name", String(MAX_NAME_LENGTH), nullable=False),
    Column("total_quantity", Integer, nullable=False),
    Column("issued_quantity", Integer, nullable=False, default=0, server_default=text("0")),
    Column("starts_at", UtcDateTime, nullable=True),
    Column("ends_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("admission", String(ADMISSION_LENGTH), nullable=True),
    Column("state", String(STATE_LENGTH), nullable=False, default="open", server_default=text("'open'")),
    Column("state_version", Integer, nullable=False, default=0, server_default=text("0")),
)

issued_coupon = _table(
    "issued_coupon",
    Column(
        "coupon_id",
        BigInteger,
        ForeignKey("coupon.id", ondelete="CASCADE", name="fk_issued_coupon_coupon"),
        nullable=False,
    ),
    Column("user_id", BigInteger, nullable=False),
    Column("event_id", CHAR(EVENT_ID_LENGTH), nullable=True),
    Column("issued_at", UtcDateTime, nullable=False),
    UniqueConstraint("coupon_id", "user_id", name="uq_issued_coupon_coupon_user"),
)

admin_audit = _table(
    "admin_audit",
    Column("action", String(AUDIT_ACTION_LENGTH), nullable=False),
    Column("coupon_id", BigInteger, nullable=True),  # no foreign key: the trail outlives its coupon
    Column("parameters", Text().with_variant(mysql.MEDIUMTEXT(), *MYSQL_DIALECTS), nullable=False),
    Column("outcome", String(AUDIT_TEXT_LENGTH), nullable=False),
    Column("request_id", String(AUDIT_TEXT_LENGTH), nullable=True),
    Column("client_address", String(AUDIT_TEXT_LENGTH), nullable=False),
    Column("actor", String(AUDIT_TEXT_LENGTH), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_admin_audit_coupon_id", "coupon_id", "id"),
)


def to_coupon(row: Row[Any]) -> Coupon:
    window = ValidityWindow(row.starts_at, row.ends_at)
    state = CouponState(row.state)
    return Coupon(
        row.id, row.name, row.total_quantity, row.issued_quantity, window, row.created_at, state, row.state_version
    )


def to_issued(row: Row[Any]) -> IssuedCoupon:
    return IssuedCoupon(row.id, row.coupon_id, row.user_id, row.issued_at, row.event_id)
