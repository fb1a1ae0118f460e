"""The follower's pages: home (updates or directory), the directory, channel and post
pages (public, with Open Graph tags), following, reading and reacting, live updates,
notifications, invites and reports. Every page is a client of the feed API only."""

from fastapi import APIRouter

from services.web.routes.follower import (
    channels,
    follows,
    home,
    interactions,
    live,
    media,
    notifications,
    reports,
)

router = APIRouter()
# `reports` before `channels`: `/c/{id}/report` must not be read as `/c/{id}/{seq}`.
for module in (home, reports, channels, follows, interactions, live, media, notifications):
    router.include_router(module.router)
