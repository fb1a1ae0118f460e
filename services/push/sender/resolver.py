"""Checked addresses of push-service hosts, and an aiohttp resolver that only returns them.

`CheckedResolver.check` resolves an endpoint's host with
`shared.push.endpoints.resolve_allowed` (which refuses the whole host if any address is
internal) and remembers the answer for `ttl_s`; when the connector opens a connection it
asks `resolve` and gets exactly those addresses, so a connection always goes to a
checked address and no second DNS answer (rebinding) gets a say. A host nobody checked
is an error, never a lookup.

Why a TTL: a push service host (fcm.googleapis.com) takes thousands of pushes a second;
resolving it for every one would cost a thread-pool `getaddrinfo` per push and load the
resolver for nothing. Within `ttl_s` sends reuse the answer that was checked; after it
the next send resolves and checks again. An IP-literal host needs no resolver (aiohttp
connects to it as written and asks none): it is checked with `address_allowed` directly.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections import OrderedDict
from collections.abc import Callable

from aiohttp.abc import AbstractResolver, ResolveResult

from shared.push.endpoints import EndpointRefused, address_allowed, resolve_allowed

# Short against DNS TTLs of push services (minutes), long against a page of sends.
CHECK_TTL_S = 30.0


def _normal(host: str) -> str:
    return host.lower().rstrip(".")


class UncheckedHost(OSError):
    """The connector asked for a host `check` did not check (a redirect would; none is
    followed) or whose check was forgotten."""


class CheckedResolver(AbstractResolver):
    """Checked addresses by (host, port), each for `ttl_s`; at most `max_hosts`."""

    def __init__(
        self,
        *,
        allow_insecure: bool,
        max_hosts: int,
        ttl_s: float = CHECK_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._allow_insecure = allow_insecure
        self._max_hosts = max_hosts
        self._ttl_s = ttl_s
        self._clock = clock
        self._checked: OrderedDict[tuple[str, int], tuple[float, list[str]]] = OrderedDict()

    async def check(self, host: str, port: int) -> list[str]:
        """The addresses of (host, port), all allowed, resolved now unless checked less
        than `ttl_s` ago. Raises EndpointRefused (unresolvable, or any address refused)."""
        key = (_normal(host), port)
        now = self._clock()
        cached = self._checked.get(key)
        if cached is not None and now - cached[0] < self._ttl_s:
            self._checked.move_to_end(key)
            return cached[1]
        try:
            literal = ipaddress.ip_address(key[0])
        except ValueError:
            addresses = await resolve_allowed(key[0], port, allow_insecure=self._allow_insecure)
        else:
            if not address_allowed(literal, allow_insecure=self._allow_insecure):
                raise EndpointRefused("internal-address")
            addresses = [str(literal)]
        self._checked[key] = (now, addresses)
        self._checked.move_to_end(key)
        while len(self._checked) > self._max_hosts:
            self._checked.popitem(last=False)
        return addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        # Expiry is not applied here: `send` checks (and refreshes) right before its
        # request, and whatever is stored was checked.
        cached = self._checked.get((_normal(host), port))
        if cached is None:
            raise UncheckedHost(f"{host}:{port} was not checked")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": socket.IPPROTO_TCP,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in cached[1]
        ]

    async def close(self) -> None:
        self._checked.clear()
