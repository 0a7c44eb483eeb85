"""Bearer authentication: API keys (stored as sha256 digests in api_keys) or HS256 JWTs
whose `sub` is a user id; then the user's rate limit.

Keys are random (32 bytes, url-safe), so a plain sha256 is enough to store them: there is
nothing to brute-force that a slow hash would protect. Verified credentials are remembered
for `auth_cache_s` so a busy client costs PostgreSQL one query per half minute.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable

import jwt
from fastapi import Request

from api.envelope import ApiError
from api.ratelimit import RateLimiter
from api.settings import ApiSettings
from api.store import Store, User

KEY_PREFIX = "po_"
CACHE_LIMIT = 10_000
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers=CHALLENGE)


class Authenticator:
    def __init__(self, store: Store, settings: ApiSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._cache: dict[str, tuple[User, float]] = {}

    async def user_for(self, token: str) -> User:
        """The user a bearer token stands for; ApiError(401) when it stands for nobody."""
        if token.count(".") == 2:
            return await self._user_for_jwt(token)
        return await self._cached(f"key:{hash_key(token)}", self._store.user_by_key_hash,
                                  hash_key(token), "invalid API key")

    async def _user_for_jwt(self, token: str) -> User:
        if not self._settings.jwt_secret:
            raise unauthorized("JWTs are not accepted here (no PROMPTOPT_API_JWT_SECRET set)")
        try:
            claims = jwt.decode(token, self._settings.jwt_secret,
                                algorithms=[self._settings.jwt_algorithm],
                                options={"require": ["sub"]})
        except jwt.PyJWTError as err:
            raise unauthorized(f"invalid token: {err}") from None
        return await self._cached(f"sub:{claims['sub']}", self._store.user_by_id,
                                  str(claims["sub"]), "token names an unknown user")

    async def _cached(self, cache_key: str, lookup, arg: str, refusal: str) -> User:
        now = self._clock()
        hit = self._cache.get(cache_key)
        if hit is not None and hit[1] > now:
            return hit[0]
        user = await lookup(arg)
        if user is None:
            raise unauthorized(refusal)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[cache_key] = (user, now + self._settings.auth_cache_s)
        return user


def bearer_token(request: Request, *, allow_query: bool = False) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if header and scheme.lower() != "bearer":
        raise unauthorized("use an `Authorization: Bearer <key or JWT>` header")
    if token.strip():
        return token.strip()
    if allow_query and request.query_params.get("key"):
        # EventSource cannot send headers; the dashboard passes its key this way.
        return request.query_params["key"]
    return None


async def authenticate(request: Request, *, allow_query: bool = False,
                       optional: bool = False) -> User | None:
    token = bearer_token(request, allow_query=allow_query)
    if token is None:
        if optional:
            return None
        raise unauthorized("missing credentials: send `Authorization: Bearer <API key>`")
    user = await request.app.state.auth.user_for(token)
    limiter: RateLimiter = request.app.state.limiter
    wait = limiter.take(user.id, user.rate_limit_per_minute)
    if wait > 0:
        raise ApiError(
            429, f"rate limit of {user.rate_limit_per_minute} requests per minute exceeded; "
            f"retry in {wait:.1f} s",
            details={"retry_after_s": round(wait, 3),
                     "limit_per_minute": user.rate_limit_per_minute},
            headers={"Retry-After": str(math.ceil(wait))})
    request.state.user = user
    return user


async def require_user(request: Request) -> User:
    """Dependency of every REST endpoint."""
    user = await authenticate(request)
    assert user is not None
    return user


async def reader(request: Request) -> User | None:
    """Dependency of /health, /ready, /metrics: open when api public_read is set."""
    return await authenticate(request, optional=request.app.state.settings.public_read)


async def stream_reader(request: Request) -> User | None:
    """Dependency of the SSE streams: like `reader`, and the key may come as ?key=."""
    return await authenticate(request, allow_query=True,
                              optional=request.app.state.settings.public_read)
