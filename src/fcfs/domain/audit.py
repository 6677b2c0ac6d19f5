"""The operators' audit trail (docs/design.md, live controls): who changed what, and what it answered.

A row is written for every admin action an authenticated operator attempted, refusals
included, so "why was the coupon paused at 12:03" has an answer with the request id that
ties it to the logs. The parameters are what the operator sent (a JSON object), the outcome
the envelope code the action answered ("200", "C009", "G002", ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

MAX_AUDIT_PAGE = 100
DEFAULT_AUDIT_PAGE = 20
MAX_TEXT = 128  # request ids (1 … 128 sane characters), client addresses, actors, codes


class AdminAction(StrEnum):
    CREATE = "create"
    STOCK = "stock"
    TOP_UP = "top-up"
    PAUSE = "pause"
    RESUME = "resume"
    CLOSE = "close"
    DELETE = "delete"
    RECONCILE = "reconcile"


@dataclass(frozen=True, slots=True)
class NewAuditEntry:
    """One admin action as it is about to be recorded; `coupon_id` is None when the request named none
    (a refused create, a malformed id)."""

    action: AdminAction
    coupon_id: int | None
    parameters: Mapping[str, object]
    outcome: str
    request_id: str | None
    client_address: str
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry(NewAuditEntry):
    """A recorded action: what was asked, plus the log's id. Ids grow with time: they order the trail and page it."""

    id: int = field(kw_only=True)

    @classmethod
    def of(cls, entry_id: int, new: NewAuditEntry) -> AuditEntry:
        return cls(**{f.name: getattr(new, f.name) for f in fields(NewAuditEntry)}, id=entry_id)


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Newest first; `next_before` is the cursor of the following (older) page, None on the last."""

    coupon_id: int
    entries: tuple[AuditEntry, ...] = field(default_factory=tuple)
    next_before: int | None = None


def bounded_text(text: str) -> str:
    """Free-form fields (actor, address, outcome) fit their columns; the request id is sane already."""
    return text[:MAX_TEXT]
