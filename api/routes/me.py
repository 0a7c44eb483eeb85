"""GET /api/v1/me: whose credentials these are (the dashboard checks its key with it)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.auth import require_user
from api.envelope import COMMON_ERRORS, envelope
from api.routes import API_PREFIX
from api.store import User

router = APIRouter(prefix=API_PREFIX, tags=["account"], responses=COMMON_ERRORS)


@router.get("/me")
async def me(user: User = Depends(require_user)) -> JSONResponse:
    return envelope({"user_id": user.id, "email": user.email, "name": user.name,
                     "team_id": user.team_id, "role": user.role,
                     "rate_limit_per_minute": user.rate_limit_per_minute})
