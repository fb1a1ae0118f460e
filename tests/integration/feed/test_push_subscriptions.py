"""Push subscriptions on the real feed: the VAPID key, subscribing a browser (idempotent on
its endpoint, at most 10 per account), listing shows origins only, unsubscribing, accounts
never see or touch each other's subscriptions, and bad keys or internal endpoints (SSRF)
are refused with 422 and store nothing.

The feed here runs with `HERALD_PUSH_ALLOW_INSECURE_ENDPOINTS=false`, as in production.
The sandbox has no DNS, so accepted endpoints use public IP literals (nothing is sent to
them: the feed only resolves and checks the host).
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.push.vapid import application_server_key, load_or_create_private_key
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth

STRICT = {"HERALD_PUSH_ALLOW_INSECURE_ENDPOINTS": "false"}


@pytest.fixture(scope="module")
async def push_feed(stack: StackSlice, service_logs: Path) -> AsyncIterator[ServiceProcess]:
    """A feed of this module's own, so its endpoint rules don't depend on how the session's
    feed is configured."""
    process = ServiceProcess("feed", stack.env(**STRICT), service_logs)
    await process.start()
    yield process
    process.stop()


@pytest.fixture
async def api(push_feed: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=push_feed.base_url, timeout=15) as http:
        yield http


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def browser_keys() -> dict[str, str]:
    """What a browser generates per subscription: an ECDH P-256 key and a 16-byte secret."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {"p256dh": b64url(point), "auth": b64url(os.urandom(16))}


def endpoint(origin: str = "https://8.8.4.4") -> str:
    """A fresh endpoint on a public address (what a push service's URL looks like)."""
    return f"{origin}/wpush/v2/{uuid4().hex}{uuid4().hex}"


def subscription(url: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"endpoint": url or endpoint(), "keys": browser_keys(), "expirationTime": None, **extra}


def account() -> str:
    return f"push-{uuid4().hex[:10]}"


async def put(api: httpx.AsyncClient, who: str, body: dict[str, Any]) -> httpx.Response:
    return await api.put("/v1/me/push-subscriptions", json=body, headers=auth(who))


async def listed(api: httpx.AsyncClient, who: str) -> list[dict[str, Any]]:
    response = await api.get("/v1/me/push-subscriptions", headers=auth(who))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


def assert_problem(response: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"].endswith(f"/{type_}"), body
    return body


async def stored(db: asyncpg.Pool, who: str) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM push_subscriptions WHERE account_id = $1", who
    )
    return count


# ------------------------------------------------------------------ the key


async def test_the_key_is_the_key_files_public_point_and_survives_a_restart(
    api: httpx.AsyncClient, stack: StackSlice, spawn_service: Any
) -> None:
    response = await api.get("/v1/push/key")  # anonymous
    assert response.status_code == 200, response.text
    public_key = response.json()["public_key"]
    point = base64.urlsafe_b64decode(public_key + "=" * (-len(public_key) % 4))
    assert len(point) == 65 and point[0] == 0x04
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    on_disk = load_or_create_private_key(stack.push_key_file, create=False)
    assert public_key == application_server_key(on_disk)
    assert os.stat(stack.push_key_file).st_mode & 0o777 == 0o600

    other: ServiceProcess = spawn_service("feed", **STRICT)
    await other.start()
    other.stop()
    await other.start()  # a restart reads the same file: browsers' subscriptions stay valid
    async with httpx.AsyncClient(base_url=other.base_url, timeout=15) as restarted:
        again = await restarted.get("/v1/push/key")
    assert again.json()["public_key"] == public_key


# ------------------------------------------------------------------ subscribing


async def test_subscribing_is_idempotent_on_the_endpoint(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    me = account()
    body = subscription(expirationTime=4_102_444_800_000)  # 2100-01-01
    first = await put(api, me, body)
    assert first.status_code == 201, first.text
    subscription_id = first.json()["subscription_id"]

    # The browser subscribes again (new keys after a reinstall, same endpoint): same id.
    body["keys"] = browser_keys()
    again = await put(api, me, body)
    assert again.status_code == 200, again.text
    assert again.json() == {"subscription_id": subscription_id}

    row = await db.fetchrow(
        "SELECT account_id, endpoint, p256dh, auth, expiration_time FROM push_subscriptions "
        "WHERE subscription_id = $1",
        subscription_id,
    )
    assert row["account_id"] == me and row["endpoint"] == body["endpoint"]
    assert b64url(row["p256dh"]) == body["keys"]["p256dh"] and len(row["auth"]) == 16
    assert row["expiration_time"].year == 2100
    assert await stored(db, me) == 1


async def test_the_list_shows_the_endpoints_origin_only(api: httpx.AsyncClient) -> None:
    me = account()
    url = endpoint("https://8.8.4.4:8443")
    body = subscription(url)
    subscription_id = (await put(api, me, body)).json()["subscription_id"]

    response = await api.get("/v1/me/push-subscriptions", headers=auth(me))
    items = response.json()
    assert [(i["subscription_id"], i["origin"]) for i in items] == [
        (subscription_id, "https://8.8.4.4:8443")
    ]
    assert set(items[0]) == {"subscription_id", "origin", "created_at"}
    # Neither the endpoint's path (a capability to push to the browser) nor the keys.
    assert url.rsplit("/", 1)[1] not in response.text
    assert body["keys"]["auth"] not in response.text
    assert body["keys"]["p256dh"] not in response.text


async def test_an_account_has_at_most_ten_subscriptions(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    me = account()
    bodies = [subscription() for _ in range(10)]
    for body in bodies:
        assert (await put(api, me, body)).status_code == 201
    assert_problem(await put(api, me, subscription()), 409, "too-many-subscriptions")
    assert await stored(db, me) == 10

    # At the cap, renewing one it already has still works; after a delete a new one fits.
    renewed = await put(api, me, bodies[3])
    assert renewed.status_code == 200
    deleted = await api.delete(
        f"/v1/me/push-subscriptions/{renewed.json()['subscription_id']}", headers=auth(me)
    )
    assert deleted.status_code == 204
    assert (await put(api, me, subscription())).status_code == 201
    assert len(await listed(api, me)) == 10


async def test_unsubscribing_removes_only_the_callers_own(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    owner, stranger = account(), account()
    subscription_id = (await put(api, owner, subscription())).json()["subscription_id"]
    path = f"/v1/me/push-subscriptions/{subscription_id}"

    # Another account neither sees nor deletes it: its id is a 404 like any unknown one.
    assert await listed(api, stranger) == []
    assert_problem(await api.delete(path, headers=auth(stranger)), 404, "not-found")
    assert [i["subscription_id"] for i in await listed(api, owner)] == [subscription_id]

    assert (await api.delete(path, headers=auth(owner))).status_code == 204
    assert await listed(api, owner) == []
    assert await stored(db, owner) == 0
    assert_problem(await api.delete(path, headers=auth(owner)), 404, "not-found")


async def test_an_endpoint_subscribed_by_another_account_moves_to_it(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    """One browser, two logins: pushes go to whoever subscribed the browser last."""
    first, second = account(), account()
    url = endpoint()
    old_id = (await put(api, first, subscription(url))).json()["subscription_id"]

    moved = await put(api, second, subscription(url))
    assert moved.status_code == 201, moved.text
    new_id = moved.json()["subscription_id"]
    assert new_id != old_id
    assert await listed(api, first) == []
    assert [i["subscription_id"] for i in await listed(api, second)] == [new_id]
    # The former owner's id is gone: it cannot delete the new owner's subscription.
    old_path = f"/v1/me/push-subscriptions/{old_id}"
    assert_problem(await api.delete(old_path, headers=auth(first)), 404, "not-found")
    assert (
        await db.fetchval("SELECT account_id FROM push_subscriptions WHERE endpoint = $1", url)
        == second
    )


# ------------------------------------------------------------------ bad input


def _point_off_the_curve() -> str:
    return b64url(b"\x04" + b"\x00" * 64)


def _compressed_point() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return b64url(
        key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    )


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"p256dh": _point_off_the_curve()}, "invalid-push-keys"),
        ({"p256dh": _compressed_point()}, "invalid-push-keys"),
        ({"p256dh": b64url(os.urandom(64))}, "invalid-push-keys"),
        ({"auth": b64url(os.urandom(15))}, "invalid-push-keys"),
        ({"auth": b64url(os.urandom(17))}, "invalid-push-keys"),
        ({"auth": "a+b/c" * 4}, "validation"),  # standard base64, not base64url
        ({"auth": None}, "validation"),
        ({"extra": "x"}, "validation"),
    ],
    ids=[
        "off-curve",
        "compressed",
        "64-bytes",
        "auth-15",
        "auth-17",
        "not-base64url",
        "no-auth",
        "unknown-key",
    ],
)
async def test_malformed_keys_are_refused_and_nothing_is_stored(
    api: httpx.AsyncClient, db: asyncpg.Pool, keys: dict[str, Any], problem: str
) -> None:
    me = account()
    body = subscription()
    body["keys"] = {k: v for k, v in {**body["keys"], **keys}.items() if v is not None}
    assert_problem(await put(api, me, body), 422, problem)
    assert await stored(db, me) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"keys": browser_keys()},
        {**subscription(), "subscriptionId": "x"},
        {**subscription(), "expirationTime": 1_000},  # long past
        {**subscription(), "endpoint": 42},
    ],
    ids=["no-endpoint", "unknown-field", "expired", "endpoint-not-a-string"],
)
async def test_malformed_subscriptions_are_refused(
    api: httpx.AsyncClient, db: asyncpg.Pool, body: dict[str, Any]
) -> None:
    me = account()
    response = await put(api, me, body)
    assert_problem(response, 422, "validation")
    assert await stored(db, me) == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/x", "internal-address"),
        ("https://10.1.2.3/x", "internal-address"),
        ("https://169.254.169.254/x", "internal-address"),  # cloud metadata
        ("https://[::1]/x", "internal-address"),
        ("https://[::ffff:127.0.0.1]/x", "internal-address"),
        ("https://100.64.0.1/x", "internal-address"),
        ("https://localhost/x", "internal-address"),  # a name that resolves to loopback
        ("http://push.example/x", "not-https"),
        ("http://8.8.4.4/x", "not-https"),
        ("https://user:pw@8.8.4.4/x", "userinfo"),
        ("https://push.invalid/x", "unresolvable"),
        ("https:///x", "no-host"),
        ("https://8.8.4.4/" + "a" * 2100, "too-long"),
    ],
)
async def test_internal_and_insecure_endpoints_are_refused(
    api: httpx.AsyncClient, db: asyncpg.Pool, url: str, reason: str
) -> None:
    me = account()
    body = assert_problem(await put(api, me, subscription(url)), 422, "endpoint-refused")
    assert body["reason"] == reason
    # The problem names the rule, not what the host resolved to.
    for leaked in ("127.0.0.1", "::1", "10.1.2.3", "169.254"):
        assert leaked not in body["detail"]
    assert await stored(db, me) == 0


async def test_subscriptions_need_an_account(api: httpx.AsyncClient) -> None:
    assert_problem(
        await api.put("/v1/me/push-subscriptions", json=subscription()), 401, "unauthorized"
    )
    assert_problem(await api.get("/v1/me/push-subscriptions"), 401, "unauthorized")
