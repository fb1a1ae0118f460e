"""Publishing, editing and deleting posts: log first.

A post is validated (including its media: of the right kind, uploaded to this channel),
given a UUIDv7 `post_id` whose timestamp is its `created_at`, and produced to the posts
topic keyed by channel id with the idempotent producer. The caller hears `202` only after
the broker acknowledged; a send not acknowledged within `produce_timeout_s` is a 503.
Accepted posts are recorded in `accepted_posts` (status before fan-out persists them)
and their media marked used until the post expires.

With an Idempotency-Key, `store.posts.claim` elects one request to produce; every other
identical request answers with the same post_id and publishes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import orjson
from uuid6 import uuid7

from services.publisher.models import PostCreate, PostUpdate
from services.publisher.store import media as media_store
from services.publisher.store import posts as post_store
from services.publisher.store.channels import Access
from shared.events.content import MediaRef, Poll, PostBody, PostType
from shared.events.envelope import Event
from shared.events.posts import (
    PostDeleted,
    PostDeletedV1,
    PostEdited,
    PostEditedV1,
    PostPublished,
    PostPublishedV1,
)
from shared.http.problems import Problem
from shared.kafka import KafkaUnavailable, produce
from shared.logs import request_id_var
from shared.metrics.publisher import POST_CHANGES, POSTS_ACCEPTED, POSTS_REJECTED, POSTS_REPLAYED
from shared.producer import ProducerHolder
from shared.settings import HeraldSettings
from shared.topics import POSTS

log = logging.getLogger(__name__)


def uuid7_time(value: UUID) -> datetime:
    """The creation time a UUIDv7 carries (milliseconds since the epoch, top 48 bits)."""
    return datetime.fromtimestamp((value.int >> 80) / 1000, UTC)


def request_hash(body: PostCreate) -> str:
    canonical = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def build_body(body: PostCreate, media: MediaRef | None) -> PostBody:
    poll = None
    if body.poll is not None:
        poll = Poll(
            question=body.poll.question, options=body.poll.options, multiple=body.poll.multiple
        )
    return PostBody(type=body.type, text=body.text, media=media, caption=body.caption, poll=poll)


def unavailable(exc: Exception) -> Problem:
    return Problem(
        503,
        "the message broker did not acknowledge in time; retry (with the same "
        "Idempotency-Key to be safe)",
        type_="broker-unavailable",
        headers={"Retry-After": "1"},
    )


@dataclass(frozen=True)
class Publisher:
    pool: asyncpg.Pool
    producer: ProducerHolder
    settings: HeraldSettings
    service: str

    async def _send(self, channel_id: UUID, event: Event) -> None:
        await produce(
            self.producer,
            self.settings.topic(POSTS.name),
            str(channel_id),
            event,
            self.settings.produce_timeout_s,
            self.service,
        )

    async def publish(
        self, access: Access, body: PostCreate, author_id: str, key: str | None
    ) -> UUID:
        media: MediaRef | None = None
        if (kind := body.media_kind) is not None:
            assert body.media_id is not None
            media = await media_store.media_ref(self.pool, access.channel_id, body.media_id, kind)
            if media is None:
                POSTS_REJECTED.labels(reason="media").inc()
                raise Problem(
                    422,
                    f"media_id does not name a {kind} uploaded to this channel",
                    type_="validation",
                )
        post_body = build_body(body, media)
        failure: KafkaUnavailable | None = None
        if key is not None:
            # The key's post_id outlives a process killed between produce and commit.
            await post_store.reserve(self.pool, access.channel_id, key, request_hash(body), uuid7())
        async with self.pool.acquire() as conn, conn.transaction():
            if key is None:
                post_id, must_produce = UUID(bytes=uuid7().bytes), True
            else:
                try:
                    claim = await post_store.claim(
                        conn, access.channel_id, key, request_hash(body), uuid7()
                    )
                except post_store.KeyReused:
                    POSTS_REJECTED.labels(reason="key_reused").inc()
                    raise Problem(
                        422,
                        "this Idempotency-Key was already used with a different request",
                        type_="idempotency-key-reused",
                    ) from None
                except post_store.ConcurrentFailure:
                    POSTS_REJECTED.labels(reason="kafka_unavailable").inc()
                    raise unavailable(KafkaUnavailable()) from None
                post_id, must_produce = claim.post_id, claim.produce
            if must_produce:
                try:
                    await self._accept(conn, access, post_id, post_body, author_id)
                except KafkaUnavailable as exc:
                    failure = exc
                    if key is not None:
                        await post_store.set_request_state(conn, access.channel_id, key, "failed")
                else:
                    if key is not None:
                        await post_store.set_request_state(conn, access.channel_id, key, "accepted")
            else:
                POSTS_REPLAYED.inc()
        if failure is not None:
            POSTS_REJECTED.labels(reason="kafka_unavailable").inc()
            raise unavailable(failure) from failure
        return post_id

    async def _accept(
        self,
        conn: asyncpg.Connection,
        access: Access,
        post_id: UUID,
        body: PostBody,
        author_id: str,
    ) -> None:
        created_at = uuid7_time(post_id)
        event = PostPublished(
            request_id=request_id_var.get(),
            payload=PostPublishedV1(
                channel_id=access.channel_id,
                post_id=post_id,
                author_id=author_id,
                body=body,
                created_at=created_at,
            ),
        )
        await self._send(access.channel_id, event)
        expires_at = created_at + timedelta(days=access.retention_days)
        media_id = body.media.media_id if body.media is not None else None
        await post_store.record_accepted(
            conn,
            channel_id=access.channel_id,
            post_id=post_id,
            created_at=created_at,
            post_type=body.type.value,
            author_id=author_id,
            media_id=media_id,
            expires_at=expires_at,
        )
        if media_id is not None:
            await media_store.mark_used(conn, media_id, expires_at)
        POSTS_ACCEPTED.labels(type=body.type.value).inc()
        # The request id (set by the middleware) is on this line and in the event: it
        # follows the post into the fan-out's and the feed's logs. Never the author's id.
        log.info(
            "post accepted",
            extra={
                "channel_id": str(access.channel_id),
                "post_id": str(post_id),
                "type": body.type.value,
            },
        )

    async def _live_post(self, access: Access, post_id: UUID) -> dict[str, object]:
        post = await post_store.accepted_post(self.pool, access.channel_id, post_id)
        if post is None:
            raise Problem(
                404,
                "no such post in this channel, or it is past its retention window",
                type_="not-found",
            )
        return post

    async def edit(self, access: Access, post_id: UUID, change: PostUpdate) -> None:
        post = await self._live_post(access, post_id)
        if post["status"] == "deleted":
            raise Problem(409, "the post was deleted", type_="post-deleted")
        post_type = PostType(str(post["type"]))
        if post_type is PostType.POLL:
            raise Problem(409, "a poll cannot be edited", type_="not-editable")
        wanted = "text" if post_type is PostType.TEXT else "caption"
        if getattr(change, wanted) is None:
            raise Problem(422, f"a {post_type} post edits its {wanted} only", type_="validation")
        edited_at = datetime.now(UTC)
        event = PostEdited(
            request_id=request_id_var.get(),
            payload=PostEditedV1(
                channel_id=access.channel_id,
                post_id=post_id,
                text=change.text,
                caption=change.caption,
                edited_at=edited_at,
            ),
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await self._send_or_503(access.channel_id, event)
            await post_store.mark_edited(conn, access.channel_id, post_id, edited_at)
        POST_CHANGES.labels(action="edited").inc()
        log.info(
            "post edited", extra={"channel_id": str(access.channel_id), "post_id": str(post_id)}
        )

    async def delete(self, access: Access, post_id: UUID) -> None:
        post = await self._live_post(access, post_id)
        if post["status"] == "deleted":
            return  # already deleted: nothing new to say
        deleted_at = datetime.now(UTC)
        event = PostDeleted(
            request_id=request_id_var.get(),
            payload=PostDeletedV1(
                channel_id=access.channel_id, post_id=post_id, deleted_at=deleted_at
            ),
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await self._send_or_503(access.channel_id, event)
            await post_store.mark_deleted(conn, access.channel_id, post_id, deleted_at)
        POST_CHANGES.labels(action="deleted").inc()
        log.info(
            "post deleted", extra={"channel_id": str(access.channel_id), "post_id": str(post_id)}
        )

    async def _send_or_503(self, channel_id: UUID, event: Event) -> None:
        try:
            await self._send(channel_id, event)
        except KafkaUnavailable as exc:
            raise unavailable(exc) from exc
