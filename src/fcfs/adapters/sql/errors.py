"""One place where database failures become `StorageError`, so no driver exception crosses a port."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from fcfs.domain.errors import StorageError

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def storage_errors(doing: str) -> Iterator[None]:
    """Re-raise SQLAlchemy, DBAPI and socket errors as `StorageError` (transient), keeping the cause."""
    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        raise StorageError(f"database failed while {doing}: {type(exc).__name__}") from exc
