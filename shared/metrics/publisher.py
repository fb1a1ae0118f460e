"""Publisher metrics. Label values are fixed sets (post type, media kind, reason), never an
account, channel or post id."""

from __future__ import annotations

from prometheus_client import Counter

POSTS_ACCEPTED = Counter(
    "herald_publisher_posts_accepted_total",
    "Posts the broker acknowledged (answered 202), by post type.",
    ["type"],
)
POSTS_REJECTED = Counter(
    "herald_publisher_posts_rejected_total",
    "Publish requests refused, by reason: invalid (body failed validation), media (no "
    "such media of the right kind in the channel), key_reused (Idempotency-Key sent with "
    "a different body), kafka_unavailable (no broker acknowledgement in time), "
    "alerts_not_enabled (an alert on a channel without the operator's grant), alert_limit "
    "(over the channel's alerts per hour).",
    ["reason"],
)
POSTS_REPLAYED = Counter(
    "herald_publisher_posts_replayed_total",
    "Publish requests answered with the post_id of an earlier request with the same "
    "Idempotency-Key, publishing nothing new.",
)
POST_CHANGES = Counter(
    "herald_publisher_post_changes_total",
    "Edits and deletes of posts the broker acknowledged, by action (edited, deleted).",
    ["action"],
)
MEDIA_UPLOADED = Counter(
    "herald_publisher_media_uploaded_total",
    "Media files stored, by kind (photo, video, sticker, voice).",
    ["kind"],
)
MEDIA_UPLOADED_BYTES = Counter(
    "herald_publisher_media_uploaded_bytes_total",
    "Bytes of media files stored, by kind.",
    ["kind"],
)
MEDIA_REJECTED = Counter(
    "herald_publisher_media_rejected_total",
    "Uploads refused, by reason: type (not an accepted type or kind), size (over the "
    "limit of its kind), form (malformed multipart form).",
    ["reason"],
)
