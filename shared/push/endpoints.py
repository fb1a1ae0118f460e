"""Which push endpoints Herald will connect to: the SSRF rules for Web Push.

A push subscription's endpoint is a URL chosen by the client, and the push service
POSTs to it. Unchecked, that lets any account make Herald send requests into its own
network (a metadata service, an admin port on loopback). So an endpoint must be
`https`, carry no userinfo, and every address its host resolves to must be a public
unicast address. The feed checks at subscribe time and the push service again at every
send, connecting to the address it checked (DNS may answer differently the second time).

`allow_insecure` (setting `HERALD_PUSH_ALLOW_INSECURE_ENDPOINTS`, refused in production)
admits `http` and internal addresses, for a test push receiver on loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

# Browsers' push endpoints are well under 1 KiB; the column and every request stay bounded.
MAX_ENDPOINT_LENGTH = 2048
# A resolver that hangs must not hold a subscribe request (or a send) for long.
RESOLVE_TIMEOUT_S = 5.0
_DEFAULT_PORTS = {"https": 443, "http": 80}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges refused beyond what the `ipaddress` flags cover (and, for clarity, some they do
# cover: the flags' exact ranges have moved between Python releases).
_REFUSED_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT (RFC 6598): internal to a provider
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata services
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
        "::/128",  # unspecified
        "::1/128",  # loopback
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo, benchmarking, ORCHID…)
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique-local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
# IPv6 prefixes that embed an IPv4 address: judged by the address they carry.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_6TO4 = ipaddress.IPv6Network("2002::/16")


class EndpointRefused(ValueError):
    """An endpoint Herald will not deliver to. `reason` is a short fixed code, safe to
    show a client: it names the rule, never an address or a resolver's error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Endpoint:
    """A parsed push endpoint. `host` is bare (no IPv6 brackets), ready for a resolver;
    `port` is explicit or the scheme's default; `origin` is `scheme://host[:port]` as a
    browser writes it (the VAPID `aud`, and all of the endpoint a user is ever shown)."""

    url: str
    scheme: str
    host: str
    port: int
    origin: str


def parse_endpoint(url: str, *, allow_insecure: bool) -> Endpoint:
    """Parse and check the form of a push endpoint URL (no resolution: see
    `resolve_allowed`). Raises `EndpointRefused` for anything but an absolute `https` URL
    (`http` too when `allow_insecure`) of at most 2048 characters, with a host, without
    userinfo, fragment, whitespace or control characters."""
    if len(url) > MAX_ENDPOINT_LENGTH:
        raise EndpointRefused("too-long")
    # For ASCII, every whitespace character but the space is also unprintable: one pass
    # in C instead of a Python loop over the characters (this runs for every push).
    if not url.isascii() or not url.isprintable() or " " in url:
        raise EndpointRefused("malformed")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise EndpointRefused("malformed") from None
    scheme = parts.scheme.lower()
    allowed_schemes = ("https", "http") if allow_insecure else ("https",)
    if scheme not in allowed_schemes:
        raise EndpointRefused("not-https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise EndpointRefused("userinfo")
    if parts.fragment:
        raise EndpointRefused("malformed")
    host = _host(parts)
    if port == 0:
        raise EndpointRefused("malformed")
    effective_port = port if port is not None else _DEFAULT_PORTS[scheme]
    shown_host = f"[{host}]" if ":" in host else host
    origin = f"{scheme}://{shown_host}"
    if effective_port != _DEFAULT_PORTS[scheme]:
        origin += f":{effective_port}"
    return Endpoint(url=url, scheme=scheme, host=host, port=effective_port, origin=origin)


def _host(parts: SplitResult) -> str:
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise EndpointRefused("no-host")
    if "%" in host:  # an IPv6 zone id names an interface of ours
        raise EndpointRefused("malformed")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise EndpointRefused("malformed") from None
        return host
    labels = host.split(".")
    if any(not label or len(label) > 63 for label in labels) or len(host) > 253:
        raise EndpointRefused("malformed")
    if not all(ch.isalnum() or ch in "-." for ch in host):
        raise EndpointRefused("malformed")
    return host


def address_allowed(ip: IPAddress, *, allow_insecure: bool) -> bool:
    """Whether Herald may connect to `ip` for a push: public unicast only.

    Refused: loopback, private, link-local, carrier-grade NAT (100.64/10), unique-local
    (fc00::/7), multicast, unspecified, reserved and documentation ranges. An IPv6
    address that carries an IPv4 one (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`,
    6to4 `2002::/16`) is judged by the IPv4 address. With `allow_insecure` everything is
    allowed except unspecified and multicast addresses, which are never a push service.
    """
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return address_allowed(embedded, allow_insecure=allow_insecure)
    if ip.is_unspecified or ip.is_multicast:
        return False
    if allow_insecure:
        return True
    if any(ip in network for network in _REFUSED_NETWORKS):
        return False
    flagged = (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )
    return not flagged and ip.is_global


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _6TO4:
        return ip.sixtofour
    return None


async def resolve_allowed(
    host: str, port: int, *, allow_insecure: bool, timeout_s: float = RESOLVE_TIMEOUT_S
) -> list[str]:
    """Resolve `host` (a name or a literal address) with the running loop's resolver and
    return its addresses, each checked by `address_allowed`, in the resolver's order
    without duplicates. Raises `EndpointRefused` ("unresolvable") when nothing resolves
    within `timeout_s`, and ("internal-address") when **any** address is refused: a name
    with one public and one internal address would let a later connection pick the
    internal one. Connect only to an address returned here, never resolve again."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            infos = await loop.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
    except (OSError, TimeoutError, UnicodeError):
        raise EndpointRefused("unresolvable") from None
    addresses: list[str] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        try:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        except ValueError:
            raise EndpointRefused("unresolvable") from None
        if not address_allowed(ip, allow_insecure=allow_insecure):
            raise EndpointRefused("internal-address")
        if str(ip) not in addresses:
            addresses.append(str(ip))
    if not addresses:
        raise EndpointRefused("unresolvable")
    return addresses
