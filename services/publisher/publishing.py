"""Publishing, editing and deleting posts, and deleting channels: log first.

A post is validated (including its media: of the right kind, uploaded to this channel),
given a UUIDv7 `post_id` whose timestamp is its `created_at`, and produced to the posts
topic keyed by channel id with the idempotent producer. The caller hears `202` (`204` for
a channel) only after the broker acknowledged; a send not acknowledged within
`produce_timeout_s` is a 503 `broker-unavailable` with `Retry-After`. Accepted posts are
recorded in `accepted_posts` (their status until fan-out persists them).

Connections: no pooled connection waits for the broker, except where the Idempotency-Key
protocol needs one (below). Every other change is
  1. a short read and check (for a post with media, the claim of the media, see below),
     the connection released;
  2. the produce, awaiting the broker's acknowledgement while holding nothing;
  3. a short write of the outcome (`accepted_posts`, the edit or delete mark, the
     channel's `deleted` status),
so a broker brown-out keeps requests waiting, never the pool every other endpoint needs.
A crash (or a lost database) between 2 and 3 leaves the event in the log, and fan-out
applies it, while the publisher's own record lags: the caller never got its answer (a
post's status reads 404: nobody learnt its post_id), an edit's `edited_at` stays old, a
deleted post reads `deleted` once fan-out persisted the delete, a deleted channel stays
`active` until the owner's retry (fan-out's removal is idempotent). Producing first is
the safe order: the other could leave a channel marked deleted whose content fan-out was
never told to remove. One transaction held across the produce would leave the same after
a crash; an Idempotency-Key is what makes a publish safe to retry.

Media is claimed, marked used until the post's expiry, in step 1, by one statement that
also checks it: a post in the log never names media that retention may collect as unused
(an upload older than a day) or as expired. A failed produce merely keeps the media until
that expiry.

With an Idempotency-Key, `store.posts.claim` elects one request to produce; the election
is a row lock held across the produce, so identical requests wait for the winner and then
answer with its post_id, publishing nothing. The key's row, and so its post_id, is
committed before (`store.posts.reserve`): a retry after a kill republishes the same
post_id. Only these requests hold a connection across the broker wait, and at most
`KEYED_SHARE` of the pool at once; more wait up to `produce_timeout_s` for a slot, then
answer 503 as a timed-out produce would.

Alerts (`priority: "alert"`): the channel needs an operator's grant (`alerts_enabled`,
else 403 `alerts-not-enabled`, refused before anything is reserved) and a free slot of its
rate limit (`alerts_per_hour`, else 429 `alert-limit` with `Retry-After`: seconds until
its oldest alert of the hour leaves the window). The slot is taken in step 1, in its own
short transaction under the channel's advisory lock (`store.alerts.reserve`), so
concurrent alerts never pass the limit together, and it is given back when the produce
fails: a refused or failed publish does not count. Known slack, on the safe side of
"never more alerts than the limit": a produce that timed out (503) but landed anyway is
not counted; a process killed between the produce and the release keeps the slot. A keyed
publish reserves for its post_id, so its retries never take a second slot, and a replay
of an accepted key is answered before any alert check.

Content keys (crypto-shredding, `shared.content.keys`): every post version (a publish, an
edit) is sealed under a fresh random key, which is inserted wrapped into `content_keys`
and committed in step 1, before the produce: by the media claim's statement for a post
with media (no added round trip), else in its own statement on the pool. The event
(`post.published`/`post.edited` v2) carries the sealed content and the key's id only, so
fan-out always finds the key of a record it is given; a crash after the commit leaves a
key nothing uses, which goes with its expiry day. A keyed publish commits its key on the
pool too, not in its election transaction (held open across the produce, it would commit
only after it); each attempt of a keyed publish seals under its own key (a timed-out
attempt that landed anyway leaves a duplicate record whose key only the post's delete or
expiry destroys). `HERALD_PUBLISHER_ENCRYPT_BODIES=false` (benchmarks' baseline only, refused in
production) produces version 1 events in the clear instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import asyncpg
import orjson
from uuid6 import uuid7

from services.publisher.config import PublisherSettings
from services.publisher.models import PostCreate, PostUpdate
from services.publisher.store import alerts as alert_store
from services.publisher.store import channels as channel_store
from services.publisher.store import media as media_store
from services.publisher.store import posts as post_store
from services.publisher.store.channels import Access
from shared.content.keys import ContentKey, key_row, new_content_key, store_key
from shared.events.content import MediaKind, MediaRef, Poll, PostBody, PostType
from shared.events.envelope import Event
from shared.events.posts import (
    ChannelDeleted,
    ChannelDeletedV1,
    EditedContent,
    PostDeleted,
    PostDeletedV1,
    PostEdited,
    PostEditedSealed,
    PostEditedV1,
    PostEditedV2,
    PostPublished,
    PostPublishedSealed,
    PostPublishedV1,
    PostPublishedV2,
    seal_json,
)
from shared.http.problems import Problem
from shared.kafka import KafkaUnavailable, produce
from shared.logs import request_id_var
from shared.metrics.publisher import POST_CHANGES, POSTS_ACCEPTED, POSTS_REJECTED, POSTS_REPLAYED
from shared.producer import ProducerHolder
from shared.topics import POSTS

log = logging.getLogger(__name__)

# Share of the pool that requests with an Idempotency-Key may hold across the broker
# wait (their election is a row lock held for the produce): during a broker brown-out
# the rest stays free for every other endpoint.
KEYED_SHARE = 0.5
# The alert rate limit's window (the limit itself is `alerts_per_hour`).
ALERT_WINDOW_S = 3600.0


def uuid7_time(value: UUID) -> datetime:
    """The creation time a UUIDv7 carries (milliseconds since the epoch, top 48 bits)."""
    return datetime.fromtimestamp((value.int >> 80) / 1000, UTC)


def request_hash(body: PostCreate) -> str:
    fields = body.model_dump(mode="json")
    # Fields added later hash only when set, so a key's hash is the same as before they
    # existed (a retry across an upgrade is not refused as a reused key).
    for added_later, default in (("silent", False), ("priority", "normal"), ("publish_at", None)):
        if fields[added_later] == default:
            del fields[added_later]
    canonical = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def build_body(body: PostCreate, media: MediaRef | None) -> PostBody:
    poll = None
    if body.poll is not None:
        poll = Poll(
            question=body.poll.question, options=body.poll.options, multiple=body.poll.multiple
        )
    return PostBody(type=body.type, text=body.text, media=media, caption=body.caption, poll=poll)


def edited_field(post_type: PostType, change: PostUpdate) -> tuple[str, str]:
    """The field an edit of a `post_type` post changes ("text" or "caption") and its new
    value; a Problem when a poll is edited (409) or the change lacks that field (422).
    The same rule for a published post and a scheduled one."""
    if post_type is PostType.POLL:
        raise Problem(409, "a poll cannot be edited", type_="not-editable")
    wanted = "text" if post_type is PostType.TEXT else "caption"
    value: str | None = getattr(change, wanted)
    if value is None:
        raise Problem(422, f"a {post_type} post edits its {wanted} only", type_="validation")
    return wanted, value


def unavailable() -> Problem:
    return Problem(
        503,
        "the message broker did not acknowledge in time; retry (with the same "
        "Idempotency-Key to be safe)",
        type_="broker-unavailable",
        headers={"Retry-After": "1"},
    )


class Publisher:
    """Every change an admin makes that goes through the posts topic.

    Each method answers only after the broker acknowledged its event, or raises a
    `Problem` (4xx for a refused request, 503 when the broker did not acknowledge).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: ProducerHolder,
        settings: PublisherSettings,
        service: str,
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.settings = settings
        self.service = service
        self._keyed_slots = asyncio.Semaphore(max(1, int(settings.db_pool_max * KEYED_SHARE)))
        # Parsed once at start: a malformed master key stops the process, not a request.
        self.masters = settings.content_master_keys() if settings.encrypt_bodies else None

    def _new_key(self) -> ContentKey | None:
        """A fresh key for one post version; None when bodies are not encrypted (the
        benchmark baseline)."""
        return None if self.masters is None else new_content_key()

    def _key_row(
        self, key: ContentKey, channel_id: UUID, post_id: UUID, expires_at: datetime
    ) -> tuple[UUID, date, UUID, UUID, str, bytes]:
        assert self.masters is not None
        return key_row(self.masters, key, _expires_on(expires_at), channel_id, post_id)

    async def _store_key(
        self, key: ContentKey | None, channel_id: UUID, post_id: UUID, expires_at: datetime
    ) -> None:
        """Commit the key to `content_keys` (on the pool, in its own statement) before
        anything sealed under it is produced."""
        if key is not None:
            assert self.masters is not None
            await store_key(
                self.pool, self.masters, key, _expires_on(expires_at), channel_id, post_id
            )

    def _published(
        self,
        access: Access,
        post_id: UUID,
        body: PostBody,
        author_id: str,
        request: PostCreate,
        key: ContentKey | None,
    ) -> Event:
        """The publish event: sealed under `key` (v2; committed by the caller), or in the
        clear (v1) without one."""
        if key is None:
            return PostPublished(
                request_id=request_id_var.get(),
                payload=PostPublishedV1(
                    channel_id=access.channel_id,
                    post_id=post_id,
                    author_id=author_id,
                    body=body,
                    created_at=uuid7_time(post_id),
                    silent=request.silent,
                    priority=request.priority,
                ),
            )
        expires_at = _expires_at(access, post_id)
        return PostPublishedSealed(
            request_id=request_id_var.get(),
            payload=PostPublishedV2(
                channel_id=access.channel_id,
                post_id=post_id,
                author_id=author_id,
                sealed=seal_json(key.key, post_id, body),
                key_id=key.key_id,
                key_expires_on=_expires_on(expires_at),
                created_at=uuid7_time(post_id),
                silent=request.silent,
                priority=request.priority,
            ),
        )

    async def _send(self, channel_id: UUID, event: Event) -> None:
        await produce(
            self.producer,
            self.settings.topic(POSTS.name),
            str(channel_id),
            event,
            self.settings.produce_timeout_s,
            self.service,
        )

    async def _send_or_503(self, channel_id: UUID, event: Event) -> None:
        try:
            await self._send(channel_id, event)
        except KafkaUnavailable as exc:
            raise unavailable() from exc

    # -- publishing --------------------------------------------------------------------

    async def publish(
        self,
        access: Access,
        body: PostCreate,
        author_id: str,
        key: str | None,
        *,
        post_id: UUID | None = None,
    ) -> UUID:
        """Publish a post; its post_id once the broker acknowledged it.

        `post_id` (without `key`): a scheduled post's, fixed when it was scheduled, its
        UUIDv7 time the publication time; the scheduler (`scheduler.py`) publishes through
        here like the API. Producing it again after a crash yields the same
        (post_id, created_at), which fan-out's ON CONFLICT makes one post."""
        if body.priority == "alert" and not access.alerts_enabled:
            POSTS_REJECTED.labels(reason="alerts_not_enabled").inc()
            raise _alerts_not_enabled()
        if key is None:
            return await self._publish(access, body, author_id, post_id)
        assert post_id is None, "a keyed publish takes its post_id from the key's row"
        return await self._publish_keyed(access, body, author_id, key)

    async def _publish(
        self, access: Access, body: PostCreate, author_id: str, post_id: UUID | None
    ) -> UUID:
        post_id = post_id or UUID(bytes=uuid7().bytes)
        alert = await self._reserve_alert(access, body, post_id)
        try:
            key = self._new_key()
            # The key commits with the media claim when there is one (one statement).
            post_body = await self._post_body(self.pool, access, body, post_id, key)
            event = self._published(access, post_id, post_body, author_id, body, key)
            try:
                await self._send(access.channel_id, event)
            except KafkaUnavailable as exc:
                POSTS_REJECTED.labels(reason="kafka_unavailable").inc()
                raise unavailable() from exc
        except BaseException:
            if alert:
                await alert_store.release(self.pool, access.channel_id, post_id)
            raise
        await self._record(self.pool, access, post_id, post_body, author_id)
        return post_id

    async def _reserve_alert(self, access: Access, body: PostCreate, post_id: UUID) -> bool:
        """Take an alert slot for the post when it is an alert (True), else nothing."""
        if body.priority != "alert":
            return False
        try:
            await alert_store.reserve(
                self.pool,
                access.channel_id,
                post_id,
                self.settings.alerts_per_hour,
                ALERT_WINDOW_S,
            )
        except alert_store.AlertsNotEnabled:
            POSTS_REJECTED.labels(reason="alerts_not_enabled").inc()
            raise _alerts_not_enabled() from None
        except alert_store.AlertLimitReached as exc:
            POSTS_REJECTED.labels(reason="alert_limit").inc()
            raise Problem(
                429,
                f"this channel posted its {self.settings.alerts_per_hour} alerts of the "
                "hour; the next is possible after Retry-After seconds",
                type_="alert-limit",
                headers={"Retry-After": str(exc.retry_after_s)},
            ) from None
        return True

    async def _publish_keyed(
        self, access: Access, body: PostCreate, author_id: str, key: str
    ) -> UUID:
        if (kind := body.media_kind) is not None:
            # Bad input changes nothing: refused before the key is reserved (and so taken).
            assert body.media_id is not None
            found = await media_store.media_ref(self.pool, access.channel_id, body.media_id, kind)
            if found is None:
                raise _no_such_media(kind)
        digest = request_hash(body)
        # Committed before the election: the key's post_id outlives a process killed
        # between the broker's acknowledgement and the commit below.
        await post_store.reserve(self.pool, access.channel_id, key, digest, uuid7())
        failure: KafkaUnavailable | None = None
        async with self._keyed_slot(), self.pool.acquire() as conn, conn.transaction():
            try:
                claim = await post_store.claim(conn, access.channel_id, key, digest, uuid7())
            except post_store.KeyReused:
                POSTS_REJECTED.labels(reason="key_reused").inc()
                raise Problem(
                    422,
                    "this Idempotency-Key was already used with a different request",
                    type_="idempotency-key-reused",
                ) from None
            except post_store.ConcurrentFailure:
                POSTS_REJECTED.labels(reason="kafka_unavailable").inc()
                raise unavailable() from None
            if not claim.produce:
                POSTS_REPLAYED.inc()
                return claim.post_id
            post_id = claim.post_id
            # Its own short transaction: the slot is visible to concurrent alerts now, not
            # when this election commits after the produce.
            alert = await self._reserve_alert(access, body, post_id)
            try:
                post_body = await self._post_body(conn, access, body, post_id)
                # Its key commits on the pool: this transaction commits after the produce.
                sealing = self._new_key()
                await self._store_key(
                    sealing, access.channel_id, post_id, _expires_at(access, post_id)
                )
                event = self._published(access, post_id, post_body, author_id, body, sealing)
            except BaseException:
                if alert:
                    await alert_store.release(self.pool, access.channel_id, post_id)
                raise
            try:
                await self._send(access.channel_id, event)
            except KafkaUnavailable as exc:
                # Committed as failed, so the next request with the key takes it over
                # with the same post_id (this send may still land after its timeout).
                failure = exc
                await post_store.set_request_state(conn, access.channel_id, key, "failed")
                if alert:
                    await alert_store.release(conn, access.channel_id, post_id)
            else:
                await self._record(conn, access, post_id, post_body, author_id)
                await post_store.set_request_state(conn, access.channel_id, key, "accepted")
        if failure is not None:
            POSTS_REJECTED.labels(reason="kafka_unavailable").inc()
            raise unavailable() from failure
        return post_id

    @asynccontextmanager
    async def _keyed_slot(self) -> AsyncIterator[None]:
        """One of the pool's connections that keyed publishes may hold across a produce;
        503 when none frees up within the produce timeout (the broker is that slow)."""
        try:
            async with asyncio.timeout(self.settings.produce_timeout_s):
                await self._keyed_slots.acquire()
        except TimeoutError:
            POSTS_REJECTED.labels(reason="kafka_unavailable").inc()
            raise unavailable() from None
        try:
            yield
        finally:
            self._keyed_slots.release()

    async def _post_body(
        self,
        db: asyncpg.Pool | asyncpg.Connection,
        access: Access,
        body: PostCreate,
        post_id: UUID,
        key: ContentKey | None = None,
    ) -> PostBody:
        """The event's body, claiming its media (if any) until the post expires. `key`
        (only with `db` outside a transaction): committed too, by the media claim's own
        statement when there is media."""
        media: MediaRef | None = None
        expires_at = _expires_at(access, post_id)
        if (kind := body.media_kind) is not None:
            assert body.media_id is not None
            row = (
                None if key is None else self._key_row(key, access.channel_id, post_id, expires_at)
            )
            media = await media_store.claim_for_post(
                db, access.channel_id, body.media_id, kind, expires_at, row
            )
            if media is None:
                raise _no_such_media(kind)
        else:
            await self._store_key(key, access.channel_id, post_id, expires_at)
        return build_body(body, media)

    async def _record(
        self,
        db: asyncpg.Pool | asyncpg.Connection,
        access: Access,
        post_id: UUID,
        body: PostBody,
        author_id: str,
    ) -> None:
        await post_store.record_accepted(
            db,
            channel_id=access.channel_id,
            post_id=post_id,
            created_at=uuid7_time(post_id),
            post_type=body.type.value,
            author_id=author_id,
            media_id=body.media.media_id if body.media is not None else None,
            expires_at=_expires_at(access, post_id),
        )
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

    # -- editing and deleting ----------------------------------------------------------

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
        """Edit a live post's text or caption (polls are not editable)."""
        post = await self._live_post(access, post_id)
        if post["status"] == "deleted":
            raise Problem(409, "the post was deleted", type_="post-deleted")
        edited_field(PostType(str(post["type"])), change)
        edited_at = datetime.now(UTC)
        expires_at: datetime = post["expires_at"]  # type: ignore[assignment]
        key = self._new_key()
        await self._store_key(key, access.channel_id, post_id, expires_at)
        event: Event
        if key is None:
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
        else:
            content = EditedContent(text=change.text, caption=change.caption)
            event = PostEditedSealed(
                request_id=request_id_var.get(),
                payload=PostEditedV2(
                    channel_id=access.channel_id,
                    post_id=post_id,
                    sealed=seal_json(key.key, post_id, content),
                    key_id=key.key_id,
                    key_expires_on=_expires_on(expires_at),
                    edited_at=edited_at,
                ),
            )
        await self._send_or_503(access.channel_id, event)
        await post_store.mark_edited(self.pool, access.channel_id, post_id, edited_at)
        POST_CHANGES.labels(action="edited").inc()
        log.info(
            "post edited", extra={"channel_id": str(access.channel_id), "post_id": str(post_id)}
        )

    async def delete(self, access: Access, post_id: UUID) -> None:
        """Delete a live post for everyone; a post already deleted is left as it is."""
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
        await self._send_or_503(access.channel_id, event)
        await post_store.mark_deleted(self.pool, access.channel_id, post_id, deleted_at)
        POST_CHANGES.labels(action="deleted").inc()
        log.info(
            "post deleted", extra={"channel_id": str(access.channel_id), "post_id": str(post_id)}
        )

    async def delete_channel(self, access: Access) -> None:
        """Tell fan-out to remove the channel's content, then mark the channel deleted
        (its handle becomes free). In this order: never a deleted channel whose content
        fan-out was not told to remove."""
        deleted_at = datetime.now(UTC)
        event = ChannelDeleted(
            request_id=request_id_var.get(),
            payload=ChannelDeletedV1(channel_id=access.channel_id, deleted_at=deleted_at),
        )
        await self._send_or_503(access.channel_id, event)
        await channel_store.mark_deleted(self.pool, access.channel_id, deleted_at)
        log.info("channel deleted", extra={"channel_id": str(access.channel_id)})


def _alerts_not_enabled() -> Problem:
    return Problem(
        403,
        "this channel may not post alerts: an operator has to grant them",
        type_="alerts-not-enabled",
    )


def _no_such_media(kind: MediaKind) -> Problem:
    POSTS_REJECTED.labels(reason="media").inc()
    return Problem(
        422, f"media_id does not name a {kind} uploaded to this channel", type_="validation"
    )


def _expires_at(access: Access, post_id: UUID) -> datetime:
    return uuid7_time(post_id) + timedelta(days=access.retention_days)


def _expires_on(expires_at: datetime) -> date:
    """The UTC day a version's content expires: its key's `content_keys` partition."""
    return expires_at.astimezone(UTC).date()
