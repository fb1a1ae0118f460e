"""Insights and the owner's audit log: followers and their 7-day change, per-post views,
reactions and votes (aggregates only — the publisher never names an account), with a
server-rendered SVG chart of views per post."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from services.web.routes.admin.chart import bar_chart
from services.web.routes.admin.console import ConsoleDep

router = APIRouter()

# Posts the insights page reads (the chart keeps the newest of them).
INSIGHTS_PAGE = 50


@router.get("/c/{channel_id}/insights", response_class=HTMLResponse, summary="Insights")
async def insights(console: ConsoleDep, channel_id: UUID) -> Response:
    channel = await console.channel(channel_id)
    data: dict[str, Any] = await console.publisher(
        "GET", f"/v1/channels/{channel_id}/insights", params={"limit": INSIGHTS_PAGE}
    )
    posts = data.get("posts", [])
    # The API lists newest first; the chart reads left (older) to right (newer).
    chart = bar_chart([(f"#{p['seq']}", int(p["views"])) for p in reversed(posts)])
    return console.page(
        "admin/insights.html",
        {"channel": channel, "tab": "insights", "insights": data, "posts": posts, "chart": chart},
    )


@router.get("/c/{channel_id}/audit", response_class=HTMLResponse, summary="Audit log (owner)")
async def audit(console: ConsoleDep, channel_id: UUID) -> Response:
    channel = await console.channel(channel_id)
    log = await console.publisher("GET", f"/v1/channels/{channel_id}/audit")
    return console.page(
        "admin/audit.html", {"channel": channel, "tab": "audit", "entries": log["entries"]}
    )
