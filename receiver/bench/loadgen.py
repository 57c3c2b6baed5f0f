"""The bench load generator: an asyncio HTTP/1.1 keep-alive client on raw protocols."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from receiver.bench.payloads import BODY_BYTES, bodies

_NO_BODY = frozenset({204, 304})


def build_request(
    host: str, port: int, path: str, headers: Mapping[str, str], body: bytes
) -> bytes:
    """The exact bytes of one keep-alive `POST path` with a JSON body."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"host: {host}:{port}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def build_get_request(host: str, port: int, path: str, headers: Mapping[str, str]) -> bytes:
    """The exact bytes of one keep-alive `GET path` (no body)."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"host: {host}:{port}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class PhaseResult:
    """What one phase measured: a latency per answered request, errors, wall time."""

    latencies_ns: array[int]
    errors: int
    elapsed_ns: int
    statuses: dict[int, int] = field(default_factory=dict)
    sent_at_ns: array[int] | None = None  # wall-clock send time per request, in list order


class _Phase:
    """A fixed list of requests shared by every connection; done when all are answered."""

    def __init__(
        self,
        requests: Sequence[bytes],
        loop: asyncio.AbstractEventLoop,
        record_sends: bool = False,
    ) -> None:
        self.requests = requests
        # time.time_ns() (comparable across processes) when each request was taken to send.
        self.sent_at: array[int] | None = (
            array("q", bytes(8 * len(requests))) if record_sends else None
        )
        self.taken = 0
        self.outstanding = len(requests)
        self.latencies: array[int] = array("q")
        self.errors = 0
        self.statuses: dict[int, int] = {}
        self.started_ns = time.perf_counter_ns()
        self.ended_ns = self.started_ns
        self.done: asyncio.Future[None] = loop.create_future()
        if not requests:
            self.done.set_result(None)

    def take(self) -> bytes | None:
        if self.taken >= len(self.requests):
            return None
        if self.sent_at is not None:
            self.sent_at[self.taken] = time.time_ns()
        self.taken += 1
        return self.requests[self.taken - 1]

    def finish(self, latency_ns: int | None, status: int | None) -> None:
        """Record one request: answered with `status` after `latency_ns`, or lost (None)."""
        if status is None or latency_ns is None:
            self.errors += 1
        else:
            self.latencies.append(latency_ns)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if not 200 <= status < 300:
                self.errors += 1
        self.outstanding -= 1
        if self.outstanding == 0 and not self.done.done():
            self.ended_ns = time.perf_counter_ns()
            self.done.set_result(None)


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, on_lost: Callable[[_Connection], None]) -> None:
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.phase: _Phase | None = None
        self.buffer = bytearray()
        self.sent_ns = 0
        self.in_flight = False
        self.status = 0
        self.response_end = -1
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def start(self, phase: _Phase) -> None:
        self.phase = phase
        self._send_next()

    def _send_next(self) -> None:
        request = self.phase.take() if self.phase is not None else None
        if request is None or self.transport is None:
            self.phase = None
            return
        self.in_flight = True
        self.sent_ns = time.perf_counter_ns()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if self.response_end < 0 and not self._parse_head():
            return
        if len(buffer) < self.response_end:
            return
        latency = time.perf_counter_ns() - self.sent_ns
        del buffer[: self.response_end]
        self.response_end = -1
        self.in_flight = False
        phase = self.phase
        if phase is not None:
            phase.finish(latency, self.status)
        if self.keep_alive:
            self._send_next()
        elif self.transport is not None:
            self.transport.close()

    def _parse_head(self) -> bool:
        """Read the status line and headers once complete; False until they are."""
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return False
        head = bytes(self.buffer[:head_end]).lower()
        self.status = int(head[9:12])
        self.keep_alive = b"\r\nconnection: close" not in head
        length = 0
        if self.status not in _NO_BODY and self.status >= 200:
            marker = head.find(b"\r\ncontent-length:")
            if marker >= 0:
                line_end = head.find(b"\r\n", marker + 2)
                length = int(head[marker + 17 : line_end if line_end >= 0 else None])
            elif b"\r\ntransfer-encoding: chunked" in head:
                self.keep_alive = False  # not expected from these servers: read no further
        self.response_end = head_end + 4 + length
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        phase, self.phase = self.phase, None
        if phase is not None and self.in_flight:
            phase.finish(None, None)
        self.in_flight = False
        self.on_lost(self)


class LoadClient:
    """`concurrency` keep-alive connections to one server, driven phase by phase."""

    def __init__(self, host: str, port: int, concurrency: int) -> None:
        self.host = host
        self.port = port
        self.concurrency = concurrency
        self.connections: list[_Connection] = []
        self.phase: _Phase | None = None
        self.closing = False
        self.reconnects: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        """Open every connection before any request is sent."""
        self.connections = [await self._connect() for _ in range(self.concurrency)]

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(
            lambda: _Connection(self._lost), self.host, self.port
        )
        return protocol

    def _lost(self, connection: _Connection) -> None:
        """Replace a closed connection (if none can be made, what it would send fails)."""
        if self.closing:
            return
        if connection in self.connections:
            self.connections.remove(connection)
        task = asyncio.get_running_loop().create_task(self._replace())
        self.reconnects.add(task)
        task.add_done_callback(self.reconnects.discard)

    async def _replace(self) -> None:
        while not self.closing:
            try:
                connection = await self._connect()
            except OSError:
                phase = self.phase
                if phase is None or phase.take() is None:
                    return
                phase.finish(None, None)  # what this connection would have sent fails
                await asyncio.sleep(0.01)
                continue
            self.connections.append(connection)
            if self.phase is not None:
                connection.start(self.phase)
            return

    async def run(
        self, requests: Sequence[bytes], timeout_s: float, record_sends: bool = False
    ) -> PhaseResult:
        """Send every request (one in flight per connection); unanswered ones count as errors."""
        phase = _Phase(requests, asyncio.get_running_loop(), record_sends)
        self.phase = phase
        for connection in list(self.connections):
            connection.start(phase)
        try:
            await asyncio.wait_for(asyncio.shield(phase.done), timeout_s)
        except TimeoutError:
            phase.errors += phase.outstanding
            phase.ended_ns = time.perf_counter_ns()
        self.phase = None
        return PhaseResult(
            phase.latencies,
            phase.errors,
            phase.ended_ns - phase.started_ns,
            phase.statuses,
            phase.sent_at,
        )

    def close(self) -> None:
        self.closing = True
        for connection in self.connections:
            if connection.transport is not None:
                connection.transport.close()


async def drive(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Warm up, then measure, one server as `spec` describes; the result as JSON-able data.

    Optional: `transaction_ids` (one per warm-up and measured Stedi body, in order) and
    `record_sends` (the result adds `sent_at_ns`, each measured request's wall-clock send time)."""
    host, port = str(spec["host"]), int(spec["port"])
    count, warmup = int(spec["requests"]), int(spec["warmup"])
    record_sends = bool(spec.get("record_sends", False))
    transaction_ids = spec.get("transaction_ids")
    payloads = bodies(
        str(spec["kind"]),
        warmup + count,
        account_id=str(spec.get("account_id", "")),
        size=int(spec.get("body_bytes", BODY_BYTES)),
        transaction_ids=None if transaction_ids is None else [str(t) for t in transaction_ids],
    )
    headers = {str(k): str(v) for k, v in dict(spec.get("headers", {})).items()}
    requests = [build_request(host, port, str(spec["path"]), headers, b) for b in payloads]
    del payloads
    if spec.get("method", "POST") == "GET":  # optional: GET `paths` in turn, no bodies
        paths = [str(p) for p in spec["paths"]]
        requests = [
            build_get_request(host, port, paths[i % len(paths)], headers)
            for i in range(warmup + count)
        ]
    client = LoadClient(host, port, int(spec["concurrency"]))
    timeout_s = float(spec.get("timeout_s", 300.0))
    await client.open()
    try:
        warm = await client.run(requests[:warmup], timeout_s)
        cpu_started = time.process_time()
        measured = await client.run(requests[warmup:], timeout_s, record_sends)
        cpu_s = time.process_time() - cpu_started
    finally:
        client.close()
    result: dict[str, Any] = {
        "requests": count,
        "errors": measured.errors,
        "elapsed_ns": measured.elapsed_ns,
        "latencies_ns": measured.latencies_ns.tolist(),
        "statuses": {str(k): v for k, v in sorted(measured.statuses.items())},
        "warmup_errors": warm.errors,
        "cpu_s": cpu_s,
    }
    if measured.sent_at_ns is not None:
        result["sent_at_ns"] = measured.sent_at_ns.tolist()
    return result


def _run(spec: Mapping[str, Any]) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        return asyncio.run(drive(spec))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(drive(spec))


def main() -> None:
    """`python -m receiver.bench.loadgen`: a JSON spec on stdin, the JSON result on stdout."""
    spec = orjson.loads(sys.stdin.buffer.read())
    result = orjson.dumps(_run(spec))
    # libuv (uvloop) can leave the standard streams non-blocking: a result larger than the
    # pipe then went out cut short (seen once at exactly 128 KiB). Block, then write it all.
    os.set_blocking(sys.stdout.fileno(), True)
    sys.stdout.buffer.write(result)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
