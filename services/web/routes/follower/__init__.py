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
for module in (home, channels, follows, interactions, live, media, notifications, reports):
    router.include_router(module.router)
