"""The sender's resolver hands the connector only addresses it checked."""

from __future__ import annotations

import socket

import pytest

from services.push.sender.resolver import CheckedResolver, UncheckedHost
from shared.push.endpoints import EndpointRefused


async def test_a_host_is_only_ever_connected_to_at_an_address_that_was_checked() -> None:
    resolver = CheckedResolver(allow_insecure=True, max_hosts=10)
    with pytest.raises(UncheckedHost):
        await resolver.resolve("127.0.0.1", 8443)
    assert await resolver.check("127.0.0.1", 8443) == ["127.0.0.1"]
    (result,) = await resolver.resolve("127.0.0.1", 8443)
    assert (result["host"], result["port"], result["family"]) == ("127.0.0.1", 8443, socket.AF_INET)
    with pytest.raises(UncheckedHost):  # another port is another host
        await resolver.resolve("127.0.0.1", 443)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "::ffff:10.0.0.1"]
)
async def test_internal_literals_are_refused_without_allow_insecure(host: str) -> None:
    resolver = CheckedResolver(allow_insecure=False, max_hosts=10)
    with pytest.raises(EndpointRefused):
        await resolver.check(host, 443)
    with pytest.raises(UncheckedHost):
        await resolver.resolve(host, 443)


async def test_remembered_hosts_are_bounded() -> None:
    resolver = CheckedResolver(allow_insecure=True, max_hosts=2)
    for port in (1001, 1002, 1003):
        await resolver.check("127.0.0.1", port)
    with pytest.raises(UncheckedHost):
        await resolver.resolve("127.0.0.1", 1001)
    assert await resolver.resolve("127.0.0.1", 1003)
