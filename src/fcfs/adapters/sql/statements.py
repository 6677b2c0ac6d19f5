"""Dialect-specific statements: the idempotent insert (never `INSERT IGNORE`, DESIGN.md §6.5)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.sql.dml import Insert

from fcfs.adapters.sql.tables import MYSQL_DIALECTS, issued_coupon

InsertIssued = Callable[[Sequence[Mapping[str, Any]]], Insert]


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
