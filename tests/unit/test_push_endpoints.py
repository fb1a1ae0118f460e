"""The SSRF rules for push endpoints (`shared.push.endpoints`) and the VAPID key file
(`shared.push.vapid`): pure logic and local files, no network."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from shared.push.endpoints import (
    EndpointRefused,
    address_allowed,
    parse_endpoint,
    resolve_allowed,
)
from shared.push.vapid import (
    application_server_key,
    load_or_create_private_key,
    public_key_bytes,
)

REFUSED = [
    "127.0.0.1",
    "127.255.0.9",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "100.127.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.7",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "fd00::1",
    "fc00::1",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "2001:db8::1",
    "100::1",
    "::ffff:127.0.0.1",  # IPv4-mapped: judged by the IPv4 address
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
]
ALLOWED = [
    "8.8.8.8",
    "142.250.74.10",
    "100.128.0.1",  # just past 100.64/10
    "172.32.0.1",  # just past 172.16/12
    "2606:4700::1111",
    "2a00:1450:4001:81c::200a",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
]


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_are_refused(address: str) -> None:
    assert not address_allowed(ipaddress.ip_address(address), allow_insecure=False)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_unicast_addresses_are_allowed(address: str) -> None:
    assert address_allowed(ipaddress.ip_address(address), allow_insecure=False)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "::1", "fd00::1"])
def test_allow_insecure_admits_internal_addresses(address: str) -> None:
    assert address_allowed(ipaddress.ip_address(address), allow_insecure=True)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "224.0.0.1", "ff02::1", "::ffff:0.0.0.0"])
def test_unspecified_and_multicast_are_never_a_push_service(address: str) -> None:
    assert not address_allowed(ipaddress.ip_address(address), allow_insecure=True)


# ------------------------------------------------------------------ parse_endpoint


def test_an_endpoint_is_parsed_into_its_parts_and_origin() -> None:
    url = "https://FCM.googleapis.com/fcm/send/abc:def"
    parsed = parse_endpoint(url, allow_insecure=False)
    assert (parsed.url, parsed.scheme, parsed.host, parsed.port, parsed.origin) == (
        url,
        "https",
        "fcm.googleapis.com",
        443,
        "https://fcm.googleapis.com",
    )
    v6 = parse_endpoint("https://[2606:4700::1111]:8443/p", allow_insecure=False)
    assert (v6.host, v6.port, v6.origin) == (
        "2606:4700::1111",
        8443,
        "https://[2606:4700::1111]:8443",
    )
    assert parse_endpoint("https://push.example:443/x", allow_insecure=False).origin == (
        "https://push.example"
    )
    plain = parse_endpoint("http://127.0.0.1:8999/p", allow_insecure=True)
    assert (plain.scheme, plain.port, plain.origin) == ("http", 8999, "http://127.0.0.1:8999")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://push.example/x", "not-https"),
        ("ftp://push.example/x", "not-https"),
        ("push.example/x", "not-https"),
        ("//push.example/x", "not-https"),
        ("https://user@push.example/x", "userinfo"),
        ("https://user:pw@push.example/x", "userinfo"),
        ("https:///x", "no-host"),
        ("https://push.example:0/x", "malformed"),
        ("https://push.example:70000/x", "malformed"),
        ("https://push.example/x#frag", "malformed"),
        ("https://push example/x", "malformed"),
        ("https://push.example/x\n", "malformed"),
        ("https://püsh.example/x", "malformed"),
        ("https://[fe80::1%25eth0]/x", "malformed"),
        ("https://[nonsense]/x", "malformed"),
        ("https://push_ex@mple/x", "userinfo"),
        ("https://a..b/x", "malformed"),
        ("https://push.example/" + "a" * 2048, "too-long"),
    ],
)
def test_malformed_or_insecure_endpoints_are_refused(url: str, reason: str) -> None:
    with pytest.raises(EndpointRefused) as refused:
        parse_endpoint(url, allow_insecure=False)
    assert refused.value.reason == reason


def test_http_needs_allow_insecure() -> None:
    with pytest.raises(EndpointRefused):
        parse_endpoint("http://push.example/x", allow_insecure=False)
    assert parse_endpoint("http://push.example/x", allow_insecure=True).port == 80


# ------------------------------------------------------------------ resolve_allowed


def _fake_resolver(monkeypatch: pytest.MonkeyPatch, answers: list[str] | Exception) -> None:
    """The loop's getaddrinfo answering `answers` (a fake only for this pure logic)."""

    async def getaddrinfo(_self: Any, host: str, port: int, **_: Any) -> list[Any]:
        if isinstance(answers, Exception):
            raise answers
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in answers
        ]

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(type(loop), "getaddrinfo", getaddrinfo)


async def test_a_name_resolving_to_public_addresses_returns_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_resolver(monkeypatch, ["8.8.8.8", "2606:4700::1111", "8.8.8.8"])
    assert await resolve_allowed("push.example", 443, allow_insecure=False) == [
        "8.8.8.8",
        "2606:4700::1111",
    ]


async def test_one_internal_address_among_public_ones_refuses_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_resolver(monkeypatch, ["8.8.8.8", "10.0.0.5"])
    with pytest.raises(EndpointRefused) as refused:
        await resolve_allowed("rebinding.example", 443, allow_insecure=False)
    assert refused.value.reason == "internal-address"
    assert await resolve_allowed("rebinding.example", 443, allow_insecure=True) == [
        "8.8.8.8",
        "10.0.0.5",
    ]


@pytest.mark.parametrize("answers", [[], socket.gaierror(-2, "Name or service not known")])
async def test_a_name_that_does_not_resolve_is_refused(
    monkeypatch: pytest.MonkeyPatch, answers: list[str] | Exception
) -> None:
    _fake_resolver(monkeypatch, answers)
    with pytest.raises(EndpointRefused) as refused:
        await resolve_allowed("nowhere.example", 443, allow_insecure=False)
    assert refused.value.reason == "unresolvable"


async def test_literal_and_local_names_resolve_without_dns() -> None:
    with pytest.raises(EndpointRefused) as refused:
        await resolve_allowed("127.0.0.1", 443, allow_insecure=False)
    assert refused.value.reason == "internal-address"
    assert await resolve_allowed("8.8.8.8", 443, allow_insecure=False) == ["8.8.8.8"]
    assert await resolve_allowed("127.0.0.1", 443, allow_insecure=True) == ["127.0.0.1"]


# ------------------------------------------------------------------ the VAPID key file


def test_the_key_file_is_created_once_private_and_then_kept(tmp_path: Path) -> None:
    path = tmp_path / "push" / "vapid.pem"
    key = load_or_create_private_key(path, create=True)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = load_or_create_private_key(path, create=True)
    assert public_key_bytes(again) == public_key_bytes(key)
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind

    public = application_server_key(key)
    assert len(public) == 87 and "=" not in public
    point = base64.urlsafe_b64decode(public + "=")
    assert point == public_key_bytes(key) and len(point) == 65 and point[0] == 4


def test_without_create_a_missing_key_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_or_create_private_key(tmp_path / "missing.pem", create=False)
    assert not (tmp_path / "missing.pem").exists()


def test_a_key_file_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p384 = tmp_path / "p384.pem"
    p384.write_bytes(
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    for path in (p384, garbage):
        with pytest.raises(ValueError):
            load_or_create_private_key(path, create=True)
