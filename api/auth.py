"""Bearer authentication: API keys (stored as sha256 digests in api_keys) or JWTs whose
`sub` is a user id; then the user's rate limit, shared by every API process.

Keys are random (32 bytes, url-safe), so a plain sha256 is enough to store them: there is
nothing to brute-force that a slow hash would protect.

Each request is admitted by one PostgreSQL statement that checks the credential and
spends from the user's bucket (api.postgres_store), so a revoked key or token is refused
at the next request on every process. Only while PostgreSQL is unreachable does a
credential admitted in the last `auth_fallback_s` get in on this process's word (with an
in-process limit): a database blip does not take the whole API down with it.

Failed authentication is limited per client address, in this process, before any query:
the point is to keep a stream of bad keys from costing the database a query each, so
counting failures in the database would defeat it.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from collections.abc import Callable

import jwt
from fastapi import Request, Security
from fastapi.security import APIKeyQuery, HTTPBearer

from api.envelope import ApiError
from api.ratelimit import RateLimiter
from api.settings import ApiSettings
from api.store import Admission, Store, StoreUnavailable, User

KEY_PREFIX = "po_"
KEY_SHAPE = re.compile(r"^po_[A-Za-z0-9_-]{20,100}$")
MAX_TOKEN_CHARS = 4096
CACHE_LIMIT = 10_000
CHALLENGE = {"WWW-Authenticate": "Bearer"}

# Declared for the OpenAPI document (and Swagger UI's Authorize button); the parsing and
# checking is bearer_token's and the Authenticator's.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                    bearerFormat="API key (po_...) or JWT",
                    description="`Authorization: Bearer <API key or JWT>`")
QUERY_KEY = APIKeyQuery(name="key", auto_error=False, scheme_name="queryKey",
                        description="the API key as ?key=, for EventSource (streams only)")


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers=CHALLENGE)


def rate_limited(wait_s: float, message: str, **details: object) -> ApiError:
    return ApiError(429, message, details={"retry_after_s": round(wait_s, 3), **details},
                    headers={"Retry-After": str(max(1, math.ceil(wait_s)))})


class Authenticator:
    def __init__(self, store: Store, settings: ApiSettings,
                 failures: RateLimiter | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._settings = settings
        self._failures = failures or RateLimiter()
        self._clock = clock
        self._recent: dict[str, tuple[User, float]] = {}  # sha256(token) -> user, when
        self._offline = RateLimiter(clock)  # users' limits while the database is away

    async def admit(self, token: str, client: str) -> User:
        """The user a bearer token stands for, with one request spent from its rate limit;
        ApiError 401 when it stands for nobody, 429 when over a limit."""
        per_minute = self._settings.auth_failures_per_minute
        blocked = self._failures.peek(f"ip:{client}", per_minute)
        if blocked > 0:
            raise rate_limited(blocked, f"too many failed authentications from {client}; "
                               f"retry in {blocked:.0f} s", limit_per_minute=per_minute)
        try:
            admission = await self._admission(token)
        except ApiError as err:
            if err.status == 401:
                self._failures.take(f"ip:{client}", per_minute)
            raise
        except StoreUnavailable as down:
            admission = self._admitted_recently(token, down)
        user = admission.user
        if admission.wait_s > 0:
            raise rate_limited(
                admission.wait_s, f"rate limit of {user.rate_limit_per_minute} requests per "
                f"minute exceeded; retry in {admission.wait_s:.1f} s",
                limit_per_minute=user.rate_limit_per_minute)
        return user

    def _admitted_recently(self, token: str, down: StoreUnavailable) -> Admission:
        hit = self._recent.get(hash_key(token))
        if hit is None or self._clock() - hit[1] > self._settings.auth_fallback_s:
            raise down  # a 503: nothing to go by
        user = hit[0]
        return Admission(user, self._offline.take(f"user:{user.id}",
                                                  user.rate_limit_per_minute))

    def _remember(self, token: str, user: User) -> None:
        if len(self._recent) >= CACHE_LIMIT:
            self._recent.clear()
        self._recent[hash_key(token)] = (user, self._clock())

    async def _admission(self, token: str) -> Admission:
        admission = await self._verified(token)
        self._remember(token, admission.user)
        return admission

    async def _verified(self, token: str) -> Admission:
        if token.count(".") == 2:
            return await self._admit_jwt(token)
        if not KEY_SHAPE.match(token):
            raise unauthorized("invalid API key")  # cannot be one: no query for it
        found = await self._store.admit_key(hash_key(token))
        if found is None:
            raise unauthorized("invalid API key")
        return found

    async def _admit_jwt(self, token: str) -> Admission:
        s = self._settings
        if not s.jwt_secret:
            raise unauthorized("JWTs are not accepted here (no PROMPTOPT_API_JWT_SECRET set)")
        try:
            claims = jwt.decode(
                token, s.jwt_secret, algorithms=[s.jwt_algorithm],
                audience=s.jwt_audience or None, issuer=s.jwt_issuer or None,
                leeway=s.jwt_leeway_s,
                options={"require": ["sub", "exp", "iat"]})
        except jwt.PyJWTError as err:
            raise unauthorized(f"invalid token: {err}") from None
        lifetime = float(claims["exp"]) - float(claims["iat"])
        if lifetime > s.jwt_max_lifetime_s:
            raise unauthorized(f"invalid token: lives {lifetime:.0f} s, over the "
                               f"{s.jwt_max_lifetime_s} s this API accepts")
        found = await self._store.admit_subject(str(claims["sub"]), float(claims["iat"]))
        if found is None:
            raise unauthorized("token revoked, or it names an unknown user")
        return found


def bearer_token(request: Request, *, allow_query: bool = False) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if header and scheme.lower() != "bearer":
        raise unauthorized("use an `Authorization: Bearer <key or JWT>` header")
    token = token.strip()
    if not token and allow_query:
        # EventSource cannot send headers; the dashboard passes its key this way.
        token = request.query_params.get("key", "").strip()
    if not token:
        return None
    if len(token) > MAX_TOKEN_CHARS or not token.isascii() or not token.isprintable():
        raise unauthorized("malformed bearer token")
    return token


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def authenticate(request: Request, *, allow_query: bool = False,
                       optional: bool = False) -> User | None:
    token = bearer_token(request, allow_query=allow_query)
    if token is None:
        if optional:
            return None
        raise unauthorized("missing credentials: send `Authorization: Bearer <API key>`")
    user = await request.app.state.auth.admit(token, client_address(request))
    request.state.user = user
    return user


async def require_user(request: Request, _: object = Security(BEARER)) -> User:
    """Dependency of every REST endpoint."""
    user = await authenticate(request)
    assert user is not None
    return user


async def reader(request: Request, _: object = Security(BEARER)) -> User | None:
    """Dependency of /health, /ready, /metrics: open when api public_read is set."""
    return await authenticate(request, optional=request.app.state.settings.public_read)


async def stream_reader(request: Request, _: object = Security(BEARER),
                        __: object = Security(QUERY_KEY)) -> User:
    """Dependency of the SSE streams: the key may come as ?key=. Always authenticated: a
    stream shows a team's work, so it needs to know whose."""
    user = await authenticate(request, allow_query=True)
    assert user is not None
    return user
