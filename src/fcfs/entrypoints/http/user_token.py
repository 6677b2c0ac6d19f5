"""Signed user tokens: when `user_token_secret` is set, the issuing user is the token's subject.

HS256 only (the algorithm list is pinned, so `alg: none` or an RS/HS confusion is refused),
`exp` and `sub` required, `aud`/`iss` checked when configured. `exp`, `nbf` and `iat` must be
JSON numbers (RFC 7519 NumericDate): PyJWT would read `" 99999999999 "` as a time, so a
string, a boolean or a non-finite number is refused before its value means anything. The subject must be a user
id as the API accepts it anywhere else (decimal ASCII, 1 … 2^63−1). Every refusal is 401
A001 without saying which check failed.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jwt

from fcfs.bootstrap.preflight import MIN_USER_TOKEN_SECRET_BYTES
from fcfs.bootstrap.settings import Settings
from fcfs.domain.errors import Forbidden, InvalidInput, Unauthorized
from fcfs.entrypoints.http.auth import AnyRequest, is_admin_bearer, token_matches
from fcfs.entrypoints.http.dto import parse_id

NUMERIC_DATES = ("exp", "nbf", "iat")


def is_numeric_date(value: object) -> bool:
    """RFC 7519 §2: a JSON number (seconds since the epoch); `bool` is an `int` in Python, not here."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, slots=True)
class UserTokens:
    secret: str
    audience: str = ""
    issuer: str = ""

    def __post_init__(self) -> None:
        if self.secret and len(self.secret.encode()) < MIN_USER_TOKEN_SECRET_BYTES:
            raise ValueError(f"FCFS_USER_TOKEN_SECRET must be at least {MIN_USER_TOKEN_SECRET_BYTES} bytes")

    @property
    def enabled(self) -> bool:
        return bool(self.secret)

    def subject(self, request: AnyRequest) -> int | None:
        """The user id the request's bearer token names; None when tokens are not required."""
        return self.subject_of(request.headers.get("authorization", "")) if self.secret else None

    def subject_of(self, authorization: str) -> int | None:
        """The user id an `Authorization` header value names; None when tokens are not required."""
        if not self.secret:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("a user token is required")
        required = ["exp", "sub"] + (["aud"] if self.audience else []) + (["iss"] if self.issuer else [])
        try:
            claims = jwt.decode(
                token.strip(),
                self.secret,
                algorithms=["HS256"],
                audience=self.audience or None,
                issuer=self.issuer or None,
                options={"require": required},
            )
            subject = claims["sub"]
            dates_ok = all(is_numeric_date(claims[name]) for name in NUMERIC_DATES if name in claims)
            if not isinstance(subject, str) or not dates_ok:
                raise Unauthorized("invalid user token")
            return parse_id(subject, "sub")
        except (jwt.PyJWTError, InvalidInput):
            raise Unauthorized("invalid user token") from None


def issuing_user(subject: int | None, body_user: int | None) -> int:
    """The token's subject when there is one (a different body `userId` is refused), else the body's."""
    if subject is None:
        if body_user is None:
            raise InvalidInput("invalid body: Object missing required field `userId`")
        return body_user
    if body_user is not None and body_user != subject:
        raise Forbidden("userId differs from the user token's subject")
    return subject


def issue_caller(settings: Settings, authorization: str, admin_header: str, strategy: str | None) -> int | None:
    """The user an issue request acts for: the user token's subject, or None when the body names the user.

    `?strategy=` needs the admin token (when one is configured), from either place: as
    `Authorization: Bearer <admin>`, which makes the admin the caller (the body's `userId`
    names the user, no user token needed), or as `X-Fcfs-Admin-Token` beside the user's own
    token in `Authorization`. Without `?strategy=` the admin token is no caller on issue.
    """
    if strategy is not None and settings.admin_token:
        if is_admin_bearer(authorization, settings.admin_token):
            return None
        if not admin_header or not token_matches(admin_header, settings.admin_token):
            raise Forbidden("choosing a strategy per request needs the admin token")
    return user_tokens(settings).subject_of(authorization)


def require_reader(settings: Settings, authorization: str, user_id: int) -> None:
    """With user tokens on, a user's issuance state is that user's (or the admin's) to read:
    anyone else could otherwise learn who holds a coupon (OWASP API1, object-level authorization)."""
    tokens = user_tokens(settings)
    if not tokens.enabled or is_admin_bearer(authorization, settings.admin_token):
        return
    if tokens.subject_of(authorization) != user_id:
        raise Forbidden("a user may read only their own issuance state")


def user_tokens(settings: Settings) -> UserTokens:
    """Built (and its secret checked) once per settings object.

    The last settings asked about are recognised by identity first: the cache below hashes
    every field of the settings, which cost an issue request more than the rest of its token check.
    """
    if _last and _last[0][0] is settings:
        return _last[0][1]
    tokens = _built(settings)
    _last[:] = [(settings, tokens)]
    return tokens


_last: list[tuple[Settings, UserTokens]] = []  # the last call's settings and tokens


@functools.lru_cache(maxsize=8)
def _built(settings: Settings) -> UserTokens:
    return UserTokens(settings.user_token_secret, settings.user_token_audience, settings.user_token_issuer)
