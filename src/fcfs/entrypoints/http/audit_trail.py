"""Every admin action answered over HTTP becomes a row of the audit trail, whoever wrote its handler.

One middleware rather than a call in each handler: the action is known from the route
(`ADMIN_ACTIONS`), the parameters from the request body, the outcome from the envelope the
handler or the error map answered, so a refusal (409 C005, 400 G002) is recorded exactly
like a success and a new admin route is audited by adding its path here.

What is not recorded: a caller without the admin token (when one is configured) — no
operator acted, and recording it would let anyone fill the table; requests refused before
routing (404/405, 413 and 415 from the body guard).

Ordering and failure rule: the answer is held until its row is written, so once an action
has answered, `GET …/audit` lists it. The action and its row cannot share one transaction
(the gate, the broker and other use cases take part), so an audit write that fails or
takes longer than `AUDIT_WRITE_SECONDS` does not change the action's answer — the action
did happen, and a 500 would lie about it. Instead the whole entry is logged at error level
(`audit_write_failed`, with the request id), and the answer carries `X-Fcfs-Audit: unrecorded`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from litestar.enums import ScopeType

from fcfs.domain.audit import AdminAction
from fcfs.domain.coupon import MAX_ID
from fcfs.domain.use_cases.record_admin_action import Operator
from fcfs.entrypoints.http.auth import is_admin_bearer
from fcfs.entrypoints.http.client_ip import trusted_proxies
from fcfs.entrypoints.http.dto import ID_PATTERN
from fcfs.entrypoints.http.request_context import request_id

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from fcfs.bootstrap.container import Services

log = structlog.get_logger("fcfs.audit")
AUDIT_WRITE_SECONDS = 5.0
AUDIT_HEADER = b"x-fcfs-audit"
COUPONS = "/api/v1/coupons"
ADMIN_ACTIONS: Mapping[tuple[str, str], AdminAction] = {
    ("POST", ""): AdminAction.CREATE,
    ("DELETE", "{}"): AdminAction.DELETE,
    ("POST", "{}/stock"): AdminAction.STOCK,
    ("POST", "{}/pause"): AdminAction.PAUSE,
    ("POST", "{}/resume"): AdminAction.RESUME,
    ("POST", "{}/close"): AdminAction.CLOSE,
}
ID = re.compile(ID_PATTERN, re.ASCII)
TOP_UP_FIELDS = frozenset({"add", "totalQuantity"})  # a stock call naming either is a top-up


class _Envelope(msgspec.Struct):
    code: str
    result: Any = None


def admin_action(method: str, path_template: str) -> AdminAction | None:
    """The action a route performs (`POST /api/v1/coupons/{coupon_id:str}/pause` → pause), None for the rest."""
    if not path_template.startswith(COUPONS):
        return None
    parts = ["{}" if part.startswith("{") else part for part in path_template[len(COUPONS) :].split("/") if part]
    return ADMIN_ACTIONS.get((method, "/".join(parts)))


def audit_trail(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        action = admin_action(str(scope.get("method", "")), str(scope.get("path_template") or ""))
        services: Services | None = None if action is None else scope["litestar_app"].state.get("services")
        if action is None or services is None or not _from_operator(scope, services):
            await app(scope, receive, send)
            return
        body = bytearray()
        held: list[Message] = []

        async def teeing_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        async def holding_send(message: Message) -> None:
            held.append(message)

        await app(scope, teeing_receive, holding_send)
        if not await _recorded(services, scope, action, bytes(body), held):
            _mark_unrecorded(held)
        for message in held:
            await send(message)

    return middleware


def _from_operator(scope: Scope, services: Services) -> bool:
    token = services.settings.admin_token
    return not token or is_admin_bearer(_header(scope, b"authorization"), token)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def operator(scope: Scope, services: Services) -> Operator:
    """The admin, its address as the rate limiter sees it (`FCFS_TRUSTED_PROXIES`), the request id."""
    client = scope.get("client")
    forwarded = [value.decode("latin-1") for key, value in scope.get("headers", ()) if key == b"x-forwarded-for"]
    address = trusted_proxies(services.settings.trusted_proxies).client(str(client[0]) if client else None, forwarded)
    actor = "admin" if services.settings.admin_token else "anonymous (no FCFS_ADMIN_TOKEN)"
    return Operator(actor=actor, client_address=address, request_id=request_id(scope))


async def _recorded(services: Services, scope: Scope, action: AdminAction, body: bytes, held: list[Message]) -> bool:
    answered = _answered(held)
    parameters = _parameters(body)
    if action is AdminAction.STOCK and TOP_UP_FIELDS & parameters.keys():
        action = AdminAction.TOP_UP
    coupon_id = _coupon_id(scope, action, answered)
    who = operator(scope, services)
    try:
        async with asyncio.timeout(AUDIT_WRITE_SECONDS):
            await services.record_admin_action.execute(action, coupon_id, parameters, answered.code, who)
    except Exception as error:  # any failure: the action's answer stands, the entry goes to the log
        log.error(
            "audit_write_failed",
            action=action.value,
            coupon_id=coupon_id,
            parameters=parameters,
            outcome=answered.code,
            client_address=who.client_address,
            actor=who.actor,
            error=type(error).__name__,
            detail=str(error)[:300],
        )
        return False
    return True


def _answered(held: list[Message]) -> _Envelope:
    status = next((int(m["status"]) for m in held if m["type"] == "http.response.start"), 500)
    content = b"".join(bytes(m.get("body", b"")) for m in held if m["type"] == "http.response.body")
    try:
        return msgspec.json.decode(content, type=_Envelope)
    except msgspec.DecodeError:
        return _Envelope(str(status))


def _parameters(body: bytes) -> dict[str, object]:
    """What the operator sent: the JSON object of the body; `{}` for none; a note (never the bytes) otherwise."""
    if not body.strip():
        return {}
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        decoded = None
    return decoded if isinstance(decoded, dict) else {"body": f"not a JSON object ({len(body)} bytes)"}


def _coupon_id(scope: Scope, action: AdminAction, answered: _Envelope) -> int | None:
    """The path's coupon; for a create, the coupon it made (None when refused)."""
    if action is AdminAction.CREATE:
        found = answered.result.get("id") if isinstance(answered.result, dict) else None
    else:
        found = scope.get("path_params", {}).get("coupon_id")
    text = str(found) if found is not None else ""
    return int(text) if ID.fullmatch(text) and int(text) <= MAX_ID else None


def _mark_unrecorded(held: list[Message]) -> None:
    for message in held:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), (AUDIT_HEADER, b"unrecorded")]
