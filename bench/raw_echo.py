"""The floor under the framework: the echo endpoint as a bare ASGI callable, no framework at all.

Same server (granian, uvloop), same strict msgspec body and envelope as `echo_app.py`;
what Litestar's own routing and handler machinery costs is the difference between the two.
"""

from __future__ import annotations

from typing import Any

from fcfs.domain.errors import Code
from fcfs.entrypoints.http.app import freeze_startup_objects
from fcfs.entrypoints.http.dto import IssueBody, decode, parse_id
from fcfs.entrypoints.http.envelope import answer

_JSON = (b"content-type", b"application/json")


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            freeze_startup_objects()
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = decode(b"".join(chunks), IssueBody)
    coupon = parse_id(scope["path"].split("/")[4], "couponId")
    answered = answer(Code.ACCEPTED, {"couponId": coupon, "userId": body.user_id, "status": "accepted"})
    headers = [_JSON, (b"content-length", b"%d" % len(answered.body))]
    await send({"type": "http.response.start", "status": answered.status, "headers": headers})
    await send({"type": "http.response.body", "body": answered.body})
