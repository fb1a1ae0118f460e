"""Channel vocabulary both HTTP services speak: the documented list of categories."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """The categories a channel is listed under in the directory."""

    NEWS = "news"
    SPORTS = "sports"
    ENTERTAINMENT = "entertainment"
    HEALTH = "health"
    EDUCATION = "education"
    GOVERNMENT = "government"
    BUSINESS = "business"
    LIFESTYLE = "lifestyle"
    TECHNOLOGY = "technology"
    SCIENCE = "science"
    CULTURE = "culture"
    COMMUNITY = "community"
    OTHER = "other"
