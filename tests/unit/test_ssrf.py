"""Unit tests for receiver.net.ssrf: URL checks, public-address rules, and checked resolution."""

from __future__ import annotations

import ipaddress

import pytest

from receiver.net.ssrf import (
    DestinationError,
    check_destination_url,
    is_public_address,
    resolve_public,
    system_resolver,
)

pytestmark = pytest.mark.anyio

REFUSED = [
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "127.0.0.1",
    "169.254.169.254",
    "0.0.0.0",  # noqa: S104
    "224.0.0.1",
    "255.255.255.255",
    "100.64.0.1",
    "192.0.2.1",
    "198.51.100.1",
    "203.0.113.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::",
    "2002:a00:1::",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
]
PUBLIC = ["93.184.215.14", "1.1.1.1", "2606:4700::1111", "::ffff:93.184.215.14"]


class Fixed:
    """A resolver that answers every lookup with the same addresses and records the calls."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return list(self.addresses)


async def never(host: str, port: int) -> list[str]:
    raise AssertionError("literal IPs must not be resolved")


class TestCheckDestinationUrl:
    def test_https_default_port(self) -> None:
        assert check_destination_url("https://example.com/hook", allow_insecure=False) == (
            "https",
            "example.com",
            443,
        )

    def test_explicit_port_and_case(self) -> None:
        assert check_destination_url("HTTPS://Example.COM:8443/x?y=1", allow_insecure=False) == (
            "https",
            "example.com",
            8443,
        )

    def test_idna_host(self) -> None:
        _, host, _ = check_destination_url("https://bücher.example/", allow_insecure=False)
        assert host == "xn--bcher-kva.example"

    def test_ipv6_literal(self) -> None:
        assert check_destination_url("https://[2606:4700::1111]/", allow_insecure=False) == (
            "https",
            "2606:4700::1111",
            443,
        )

    def test_http_refused_without_insecure(self) -> None:
        with pytest.raises(DestinationError, match="https"):
            check_destination_url("http://example.com/", allow_insecure=False)

    def test_http_allowed_with_insecure(self) -> None:
        assert check_destination_url("http://127.0.0.1/x", allow_insecure=True) == (
            "http",
            "127.0.0.1",
            80,
        )

    @pytest.mark.parametrize("insecure", [False, True])
    @pytest.mark.parametrize(
        "url", ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "example.com"]
    )
    def test_other_schemes_refused(self, url: str, insecure: bool) -> None:
        with pytest.raises(DestinationError, match="scheme"):
            check_destination_url(url, allow_insecure=insecure)

    @pytest.mark.parametrize(
        "url",
        [
            "https://user:pass@example.com/",
            "https://user@example.com/",
            "https://@example.com/",
            "https://example.com@evil.test/",
        ],
    )
    def test_userinfo_refused(self, url: str) -> None:
        with pytest.raises(DestinationError, match="userinfo"):
            check_destination_url(url, allow_insecure=False)

    @pytest.mark.parametrize("url", ["https:///path", "https://:443/", "https:"])
    def test_host_required(self, url: str) -> None:
        with pytest.raises(DestinationError, match="host"):
            check_destination_url(url, allow_insecure=False)

    @pytest.mark.parametrize("url", ["https://" + "a" * 64 + ".example/", "https://a..b/"])
    def test_bad_idna_refused(self, url: str) -> None:
        with pytest.raises(DestinationError, match="domain name"):
            check_destination_url(url, allow_insecure=False)

    @pytest.mark.parametrize("url", ["https://example.com:99999/", "https://example.com:x/"])
    def test_bad_port_refused(self, url: str) -> None:
        with pytest.raises(DestinationError, match="malformed"):
            check_destination_url(url, allow_insecure=False)

    def test_is_a_value_error(self) -> None:
        assert issubclass(DestinationError, ValueError)


class TestIsPublicAddress:
    @pytest.mark.parametrize("address", REFUSED)
    def test_refused(self, address: str) -> None:
        assert not is_public_address(ipaddress.ip_address(address))

    @pytest.mark.parametrize("address", PUBLIC)
    def test_public(self, address: str) -> None:
        assert is_public_address(ipaddress.ip_address(address))


class TestResolvePublic:
    @pytest.mark.parametrize("address", REFUSED)
    async def test_literal_refused(self, address: str) -> None:
        with pytest.raises(DestinationError, match="non-public"):
            await resolve_public(address, 443, allow_insecure=False, resolver=never)

    @pytest.mark.parametrize("address", PUBLIC)
    async def test_literal_public(self, address: str) -> None:
        got = await resolve_public(address, 443, allow_insecure=False, resolver=never)
        assert got == str(ipaddress.ip_address(address))

    async def test_bracketed_literal(self) -> None:
        got = await resolve_public("[::1]", 443, allow_insecure=True, resolver=never)
        assert got == "::1"

    async def test_returns_first_public(self) -> None:
        resolver = Fixed("93.184.215.14", "2606:4700::1111")
        got = await resolve_public("example.com", 8443, allow_insecure=False, resolver=resolver)
        assert got == "93.184.215.14"
        assert resolver.calls == [("example.com", 8443)]

    @pytest.mark.parametrize("order", [("93.184.215.14", "10.0.0.1"), ("10.0.0.1", "1.1.1.1")])
    async def test_any_private_refused(self, order: tuple[str, str]) -> None:
        with pytest.raises(DestinationError) as info:
            await resolve_public(
                "rebind.example", 443, allow_insecure=False, resolver=Fixed(*order)
            )
        message = str(info.value)
        assert "rebind.example" in message
        assert "10.0.0.1" not in message
        assert "93.184.215.14" not in message

    async def test_allow_insecure_accepts_loopback(self) -> None:
        got = await resolve_public(
            "localhost", 80, allow_insecure=True, resolver=Fixed("127.0.0.1")
        )
        assert got == "127.0.0.1"

    async def test_no_addresses(self) -> None:
        with pytest.raises(DestinationError, match="did not resolve"):
            await resolve_public("empty.example", 443, allow_insecure=False, resolver=Fixed())

    async def test_resolver_failure(self) -> None:
        async def failing(host: str, port: int) -> list[str]:
            raise OSError("no such host")

        with pytest.raises(DestinationError, match="cannot resolve"):
            await resolve_public("nx.example", 443, allow_insecure=False, resolver=failing)

    async def test_unparseable_answer(self) -> None:
        with pytest.raises(DestinationError, match="unusable"):
            await resolve_public("odd.example", 443, allow_insecure=False, resolver=Fixed("nope"))

    async def test_scoped_link_local_refused(self) -> None:
        with pytest.raises(DestinationError, match="non-public"):
            await resolve_public(
                "ll.example", 443, allow_insecure=False, resolver=Fixed("fe80::1%eth0")
            )

    async def test_system_resolver_literal(self) -> None:
        # A numeric host resolves locally without any network traffic.
        assert "127.0.0.1" in await system_resolver("127.0.0.1", 80)
