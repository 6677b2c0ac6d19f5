"""Dialect-specific statements: the idempotent insert (never `INSERT IGNORE`, docs/design.md §6.5).

The consumer's batch insert on MariaDB/MySQL is written as SQL text built only from values
whose every character is known: integers checked to be ids, timestamps formatted into
digits and separators, and event ids in the canonical lowercase UUID form. Nothing is
escaped per value, so 2,000 rows cost one JSON encode and one `bytes.translate` instead of
8,000 per-parameter escapes and a SQLAlchemy `values()` of 2,000 dicts (together most of
the drain's profile). A batch holding any value outside those forms gets `None` and goes
through the bound-parameter builder, which takes anything the table does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import repeat
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.sql.dml import Insert

from fcfs.adapters.sql.tables import MYSQL_DIALECTS, issued_coupon
from fcfs.domain.coupon import MAX_ID
from fcfs.domain.events import all_canonical_uuids

if TYPE_CHECKING:
    from fcfs.domain.events import CouponIssued

InsertIssued = Callable[[Sequence[Mapping[str, Any]]], Insert]

_JSON_TO_SQL = bytes.maketrans(b'[]"T', b"()' ")  # and every `Z` dropped: `_JSON_DROPPED`
_JSON_DROPPED = b"Z"
_encoder = msgspec.json.Encoder()
_LITERAL_INSERT = "INSERT INTO issued_coupon (coupon_id, user_id, event_id, issued_at) VALUES"


def _mysql_insert(rows: Sequence[Mapping[str, Any]]) -> Insert:
    # `id = id` changes nothing, so (without CLIENT_FOUND_ROWS, see engine.py) a row the
    # unique key refused counts 0 in the rowcount and an inserted one counts 1.
    return mysql.insert(issued_coupon).values(list(rows)).on_duplicate_key_update(id=issued_coupon.c.id)


def _sqlite_insert(rows: Sequence[Mapping[str, Any]]) -> Insert:
    statement = sqlite.insert(issued_coupon).values(list(rows))
    return statement.on_conflict_do_nothing(index_elements=["coupon_id", "user_id"])


def insert_issued_for(dialect_name: str) -> InsertIssued:
    """A builder of `issued_coupon` inserts that skip rows whose (coupon, user) already exists."""
    if dialect_name in MYSQL_DIALECTS:
        return _mysql_insert
    if dialect_name == "sqlite":
        return _sqlite_insert
    raise ValueError(f"unsupported database dialect {dialect_name!r}: use MariaDB/MySQL or SQLite")


def issued_rows_of(coupon_id: int, user_ids: Iterable[int]) -> str:
    """`SELECT user_id, event_id` of the users' rows for one coupon, in one statement whatever their number.

    Only ids are inlined, each checked first (`ValueError` otherwise), so the text is digits and commas.
    """
    users = ",".join(str(_checked_id(user_id)) for user_id in user_ids)
    where = f"coupon_id = {_checked_id(coupon_id)} AND user_id IN ({users})"
    return f"SELECT user_id, event_id FROM issued_coupon WHERE {where}"  # noqa: S608


def locked_counts_of(dialect_name: str, coupon_id: int) -> str | None:
    """MariaDB/MySQL: the coupon's counts, its row locked until the transaction ends; `None` elsewhere.

    Plain text (only the checked id inlined) because it runs once per batch under the
    coupon's lock, where building and compiling a `select` is time every waiting batch pays.
    """
    if dialect_name not in MYSQL_DIALECTS:
        return None
    where = f"id = {_checked_id(coupon_id)}"
    return f"SELECT issued_quantity, total_quantity FROM coupon WHERE {where} FOR UPDATE"  # noqa: S608


def counted_issue_of(dialect_name: str, coupon_id: int, added: int) -> str | None:
    """MariaDB/MySQL: `issued_quantity += added` for the coupon, as plain text of checked ints; `None` elsewhere."""
    if dialect_name not in MYSQL_DIALECTS:
        return None
    if type(added) is not int or added < 0:
        raise ValueError(f"{added!r} is not a count")
    where = f"id = {_checked_id(coupon_id)}"
    return f"UPDATE coupon SET issued_quantity = issued_quantity + {added} WHERE {where}"  # noqa: S608


def literal_insert_issued(dialect_name: str, coupon_id: int, events: Sequence[CouponIssued]) -> str | None:
    """The MariaDB/MySQL `INSERT … ON DUPLICATE KEY UPDATE id = id` of `events` as plain SQL text.

    `None` on other dialects, or when a value is not of the forms this module inlines
    (a non-canonical event id, say): the caller then binds parameters instead.
    """
    if dialect_name not in MYSQL_DIALECTS or not events:
        return None
    coupon = _checked_id(coupon_id)
    event_ids = [issued.event_id for issued in events]
    if not all_canonical_uuids(event_ids):
        return None
    user_ids = [issued.user_id for issued in events]
    moments = [issued.issued_at for issued in events]
    # Checked over the whole batch (a set of types, a min and a max) rather than per value.
    if set(map(type, user_ids)) != {int} or min(user_ids) < 1 or max(user_ids) > MAX_ID:
        return None
    if set(map(type, moments)) != {datetime}:
        return None
    if not {moment.tzinfo for moment in moments} <= {None, UTC}:
        moments = [_utc(moment) for moment in moments]
    rows = list(zip(repeat(coupon), user_ids, event_ids, moments))
    # JSON of ints, canonical UUIDs and RFC 3339 UTC times, turned into SQL row tuples:
    # `[1,"u","2026-01-01T00:00:00.5Z"]` → `(1,'u','2026-01-01 00:00:00.5')`. None of those
    # characters can occur inside the checked values but in the places this rewrites.
    values = _encoder.encode(rows)[1:-1].translate(_JSON_TO_SQL, _JSON_DROPPED).decode()
    return f"{_LITERAL_INSERT} {values} ON DUPLICATE KEY UPDATE id = id"


def _checked_id(value: object) -> int:
    if type(value) is not int or not 1 <= value <= MAX_ID:
        raise ValueError(f"{value!r} is not an id")
    return value


def _utc(moment: object) -> datetime:
    """The moment in UTC (aware), or naive as `UtcDateTime` stores a naive value: taken to be UTC already."""
    if type(moment) is not datetime:
        raise ValueError(f"{moment!r} is not a datetime")
    if moment.tzinfo is None or moment.tzinfo is UTC:
        return moment
    return moment.astimezone(UTC)
