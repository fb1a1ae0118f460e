"""The channel admin console (`/admin/…`): one router made of the console's pages."""

from __future__ import annotations

from fastapi import APIRouter

from services.web.routes.admin import channels, insights, invites, posts

router = APIRouter(tags=["admin"])
for _module in (channels, posts, invites, insights):
    router.include_router(_module.router, prefix="/admin")
