"""The address guard: which IP addresses a crawl may connect to, and the resolver that enforces it.

A news page can point the crawler anywhere: at a router's admin page, a cloud metadata address, a
database on the same machine. So before any connection, every address a host name resolves to is
checked, and the connection is refused when any of them is loopback, private, link-local,
unique-local, carrier-grade NAT, multicast, unspecified, reserved, or one of these wrapped in an
IPv6 form (IPv4-mapped, IPv4-compatible, 6to4, NAT64) — unless it is in the explicit allow list
(`TIPWATCH_ALLOW_ADDRESSES`, or `allow_addresses` in the sources file).

The check sits in the name resolver itself: the endpoint connects only to the addresses the
guard passed on, so no second lookup (DNS rebinding) can swap the address after the check.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from scrapy.resolver import CachingHostnameResolver
from twisted.internet.interfaces import IResolutionReceiver
from zope.interface import implementer

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")

# (test, reason) in the order the reason is reported
_CATEGORIES = (
    (lambda ip: ip.is_unspecified, "unspecified"),
    (lambda ip: ip.is_loopback, "loopback"),
    (lambda ip: ip.is_link_local, "link-local"),
    (lambda ip: ip.version == 4 and ip in _CGNAT, "carrier-grade NAT (100.64/10)"),
    (lambda ip: ip.version == 6 and ip in _UNIQUE_LOCAL, "unique-local"),
    (lambda ip: ip.version == 6 and ip.is_site_local, "site-local"),
    (lambda ip: ip.is_multicast, "multicast"),
    (lambda ip: ip.is_private, "private"),
    (lambda ip: ip.is_reserved, "reserved"),
    (lambda ip: not ip.is_global, "not a public address"),
)


class AllowListError(ValueError):
    """An entry of the address allow list is not an IP address or network."""


def parse_allow_list(entries: str | Iterable[str] | None) -> tuple[Network, ...]:
    """'127.0.0.1, ::1' or ['127.0.0.0/8'] → networks. Host names are refused: an allow list
    that needed DNS could be moved by whoever answers it."""
    if entries is None:
        return ()
    if isinstance(entries, str):
        entries = entries.split(",")
    networks = []
    for entry in entries:
        entry = str(entry).strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise AllowListError(f"allow_addresses: {entry!r} is not an IP address or network "
                                 "(like 127.0.0.1 or 10.0.0.0/8)") from None
    return tuple(networks)


def embedded_ipv4(ip: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: ::ffff:a.b.c.d, ::a.b.c.d, 2002:a.b.c.d::,
    64:ff9b::a.b.c.d. Each reaches the IPv4 host on some networks."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):  # not :: nor ::1
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _category(ip: Address) -> str | None:
    for test, reason in _CATEGORIES:
        if test(ip):
            return reason
    return None


def _allowed(ip: Address, allow: tuple[Network, ...]) -> bool:
    return any(ip.version == net.version and ip in net for net in allow)


def address_refusal(address: str, allow: tuple[Network, ...] = ()) -> str | None:
    """Why the crawl must not connect to *address* ('loopback', 'private', …), or None when it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # fe80::1%eth0: the scope is no excuse
    except ValueError:
        return "not an IP address"
    inner = embedded_ipv4(ip)
    if _allowed(ip, allow) or (inner is not None and _allowed(inner, allow)):
        return None
    if inner is not None:
        reason = _category(inner)
        if reason:
            return f"{reason} (as {ip})"
    return _category(ip)


# Host name → (address, reason) of the last refusal in this process. The resolver is one per
# process (installed on the reactor); the spider's errback reads this to name the failure.
_refusals: dict[str, tuple[str, str]] = {}


def refusal_for(host: str | None) -> tuple[str, str] | None:
    return _refusals.get((host or "").strip("[]").lower())


@implementer(IResolutionReceiver)
class _GuardedReceiver:
    """Holds the resolved addresses until resolution completes, then passes them on only when
    none of them is refused: a host that also resolves to an internal address is not a host to
    fetch from."""

    def __init__(self, receiver, host: str, allow: tuple[Network, ...]):
        self.receiver, self.host, self.allow = receiver, host, allow
        self.addresses: list = []

    def resolutionBegan(self, resolution) -> None:
        self.receiver.resolutionBegan(resolution)

    def addressResolved(self, address) -> None:
        self.addresses.append(address)

    def resolutionComplete(self) -> None:
        refused = [(a.host, why) for a in self.addresses
                   if (why := address_refusal(a.host, self.allow))]
        key = self.host.strip("[]").lower()
        if refused:
            _refusals[key] = refused[0]
        else:
            _refusals.pop(key, None)  # a later plain DNS failure of this host is not a refusal
            for address in self.addresses:
                self.receiver.addressResolved(address)
        self.receiver.resolutionComplete()


class GuardedResolver(CachingHostnameResolver):
    """Scrapy's caching resolver (IPv4 and IPv6), with every answer checked by the address guard.
    Set as TWISTED_DNS_RESOLVER; the allow list comes from the settings."""

    def __init__(self, reactor, cache_size: int, allow: tuple[Network, ...]):
        super().__init__(reactor, cache_size)
        self.allow = allow

    @classmethod
    def from_crawler(cls, crawler, reactor):
        # `crawler` is the CrawlerProcess here: only its settings are read
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        return cls(reactor, cache_size, allow_list_from_settings(settings))

    def resolveHostName(self, resolutionReceiver, hostName, portNumber=0, addressTypes=None,
                        transportSemantics="TCP"):
        guarded = _GuardedReceiver(resolutionReceiver, hostName, self.allow)
        return super().resolveHostName(guarded, hostName, portNumber, addressTypes, transportSemantics)


def allow_list_from_settings(settings) -> tuple[Network, ...]:
    """TIPWATCH_ALLOW_ADDRESSES (a comma-separated string or a list) and the sources file's
    top-level `allow_addresses`."""
    from pipeline.sources import SourcesError, load_allow_addresses

    value = settings.get("TIPWATCH_ALLOW_ADDRESSES") or ""
    allowed = parse_allow_list(value)
    sources_file = settings.get("TIPWATCH_SOURCES")
    if not sources_file:
        return allowed  # the spider fails on the missing setting, naming it
    try:
        allowed += parse_allow_list(load_allow_addresses(sources_file))
    except SourcesError:
        pass  # the spider reports an unreadable sources file when it loads its sources
    return allowed


def guard_installed() -> bool:
    """Whether the running reactor resolves names through the guard (a crawl refuses to start
    without it: a settings override must not switch the guard off unnoticed)."""
    from twisted.internet import reactor

    return isinstance(getattr(reactor, "nameResolver", None), GuardedResolver)
