"""An aiohttp resolver that never resolves: it hands back addresses already checked.

`PushSender.send` resolves an endpoint's host once with
`shared.push.endpoints.resolve_allowed` (which refuses the whole host if any address is
internal) and records the result here; when the connector opens a connection it asks
this resolver and gets exactly those addresses, so the connection goes to a checked
address and a second DNS answer (rebinding) never gets a say. A host nobody checked is
an error, never a lookup. IP-literal hosts never reach a resolver in aiohttp; `send`
checks those with the same function before the request.
"""

from __future__ import annotations

import ipaddress
import socket
from collections import OrderedDict

from aiohttp.abc import AbstractResolver, ResolveResult


def _normal(host: str) -> str:
    return host.lower().rstrip(".")


class UncheckedHost(OSError):
    """The connector asked for a host `send` did not check (a redirect would; none is
    followed) or whose check was forgotten."""


class CheckedResolver(AbstractResolver):
    """Addresses by (host, port), as last checked; at most `max_hosts` remembered."""

    def __init__(self, max_hosts: int) -> None:
        self._max_hosts = max_hosts
        self._checked: OrderedDict[tuple[str, int], list[str]] = OrderedDict()

    def remember(self, host: str, port: int, addresses: list[str]) -> None:
        """Record the addresses `resolve_allowed` returned for (host, port)."""
        key = (_normal(host), port)
        self._checked[key] = list(addresses)
        self._checked.move_to_end(key)
        while len(self._checked) > self._max_hosts:
            self._checked.popitem(last=False)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = self._checked.get((_normal(host), port))
        if not addresses:
            raise UncheckedHost(f"{host}:{port} was not checked")
        results: list[ResolveResult] = []
        for address in addresses:
            version = ipaddress.ip_address(address).version
            results.append(
                {
                    "hostname": host,
                    "host": address,
                    "port": port,
                    "family": socket.AF_INET6 if version == 6 else socket.AF_INET,
                    "proto": socket.IPPROTO_TCP,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        return results

    async def close(self) -> None:
        self._checked.clear()
