"""Connection limits of `receiver serve` over raw loopback sockets: an oversized head is 431
before it is read in full, slow heads and bodies are cut off, idle connections are closed, and
the token endpoint counts failures per client address as a trusted proxy names it.

The timeouts are set to a second, so each case takes a few seconds at most."""

from __future__ import annotations

import json
import select
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import Server, clean_env

TIMEOUT = "1"
READ_LIMIT_S = 10.0  # generous: a socket read that outlives it means nobody closed
PROXY = "127.0.0.2"  # the one peer trusted to name the client (RECEIVER_FORWARDED_ALLOW_IPS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("limits")
    env = clean_env(
        RECEIVER_HEADER_TIMEOUT_SECONDS=TIMEOUT,
        RECEIVER_BODY_TIMEOUT_SECONDS=TIMEOUT,
        RECEIVER_KEEPALIVE_TIMEOUT_SECONDS=TIMEOUT,
        RECEIVER_FORWARDED_ALLOW_IPS=PROXY,
    )
    running = Server(directory, directory / "serve.log", env=env).start(workers=False)
    try:
        yield running
    finally:
        running.kill()


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """With the default limits, as the attack would meet them (and so that a loaded machine
    cannot make a one-second timeout fire first)."""
    directory = tmp_path_factory.mktemp("defaults")
    running = Server(directory, directory / "serve.log").start(workers=False)
    try:
        yield running
    finally:
        running.kill()


def connect(server: Server, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), source_address=(source, 0))
    sock.settimeout(READ_LIMIT_S)
    return sock


def read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; fails if it keeps the connection open."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pytest.fail(f"the server kept the connection open; got {received[:200]!r}")
    finally:
        sock.close()
    return received


def answer_of(raw: bytes) -> tuple[int, dict[str, str], dict[str, str]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, json.loads(body)


def test_a_64_kib_header_is_431_and_the_connection_closes(server: Server) -> None:
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
    status, headers, body = answer_of(read_to_close(sock))
    assert status == 431
    assert headers["connection"] == "close"
    assert headers["x-request-id"]
    assert body["error"] == "request_header_fields_too_large"


def test_a_head_under_the_cap_is_served(server: Server) -> None:
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: ")
    sock.sendall(b"a" * 16000 + b"\r\nX-Other: " + b"b" * 16000 + b"\r\n\r\n")
    assert answer_of(read_to_close(sock))[0] == 200


def test_headers_sent_a_byte_a_second_are_cut_off_after_the_header_timeout(
    server: Server,
) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    sock = connect(server)
    sent = 0
    for byte in request:
        sock.send(bytes([byte]))
        sent += 1
        if select.select([sock], [], [], 1.0)[0]:  # a second's wait, unless it answers
            break
    status, headers, body = answer_of(read_to_close(sock))
    assert (status, body["error"]) == (408, "request_timeout")
    assert sent < len(request), "the whole head went through before any cut-off"


def test_a_stalled_body_is_408(server: Server) -> None:
    sock = connect(server)
    sock.sendall(
        b"POST /oauth/token HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
        b"grant_type=client_"
    )
    status, _, body = answer_of(read_to_close(sock))
    assert (status, body["error"]) == (408, "request_timeout")


def test_an_idle_keep_alive_connection_is_closed(server: Server) -> None:
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.settimeout(4.0)  # uvicorn's own default keep-alive is 5 s; ours is set to 1 s
    raw = b""
    while b'{"status":"ok"}' not in raw:
        raw += sock.recv(65536)
    assert raw.startswith(b"HTTP/1.1 200")
    try:
        assert sock.recv(65536) == b""  # closed, with nothing more said
    except TimeoutError:
        pytest.fail("the idle keep-alive connection was not closed")
    finally:
        sock.close()


def test_a_connection_that_never_sends_is_closed(server: Server) -> None:
    assert read_to_close(connect(server)) == b""


def _rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_huge_headers_in_parallel_are_refused_before_they_are_read(
    default_server: Server,
) -> None:
    """The attack of the trust issue: 8 connections each sending a 32 MB header."""
    server = default_server
    size, parallel, chunk = 32 * 1024 * 1024, 8, b"a" * 65536
    assert server.proc is not None
    before = _rss_kib(server.proc.pid, "VmRSS")
    results: list[tuple[int, bytes]] = []

    def attack() -> None:
        sock = connect(server)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = 0
        while sent < size and not select.select([sock], [], [], 0)[0]:
            sock.sendall(chunk)
            sent += len(chunk)
        if sent >= size:
            sock.sendall(b"\r\n\r\n")
        results.append((sent, read_to_close(sock)))

    threads = [threading.Thread(target=attack) for _ in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == parallel
    for sent, raw in results:
        assert answer_of(raw)[0] == 431
        assert sent < size, "the server let a whole 32 MB header in"
    peak_growth_mib = (_rss_kib(server.proc.pid, "VmHWM") - before) / 1024
    assert peak_growth_mib < 64, f"the server grew by {peak_growth_mib:.0f} MiB"
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_failures_count_per_client_address_as_the_trusted_proxy_names_it(
    server: Server,
) -> None:
    """Wrong secrets for a client id, from three clients behind the proxy and one beside it."""

    def failing(source: str, forwarded_for: str) -> int:
        with httpx.Client(transport=httpx.HTTPTransport(local_address=source)) as http:
            return http.post(
                server.url + "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("cli_01jaaaaaaaaaaaaaaaaaaaaaaa", "wrong"),
                headers={"x-forwarded-for": forwarded_for},
            ).status_code

    assert [failing(PROXY, "203.0.113.9") for _ in range(10)] == [401] * 10
    assert failing(PROXY, "203.0.113.9") == 429
    assert failing(PROXY, "203.0.113.10") == 401  # another client behind the same proxy
    # A peer that is not the proxy cannot pick the address it is counted under.
    assert failing("127.0.0.1", "203.0.113.9") == 401
    log = server.log_text()
    (locked,) = [
        json.loads(line) for line in log.splitlines() if '"oauth.client.locked_out"' in line
    ]
    assert locked["address"] == "203.0.113.9"
    assert "wrong" not in json.dumps(locked)
