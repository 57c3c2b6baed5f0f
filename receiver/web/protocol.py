"""HTTP/1.1 connections as `receiver serve` runs them: uvicorn's httptools protocol with a cap
on the request head and deadlines for reading the head and the body.

httptools (llhttp) buffers a header of any size before the app sees a request, and uvicorn's
only timer runs between requests, so a client could otherwise hold memory with one huge
header, or a connection for ever by sending a byte at a time. Here a head over the cap is
answered 431 and one read too slowly 408, before any authentication. The checks cost next to
nothing on a request that arrives in one read: a timer is armed only when a head or a body
spans several reads.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import httptools
import orjson
import structlog
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# After a refusal, how long the client may keep sending (what it sends is thrown away) while
# it reads the answer: closing with unread data in the buffer would reset the connection and
# could destroy the answer before the client read it (nginx's lingering close).
LINGER_SECONDS = 2.0

_HEAD, _BODY, _DONE = 0, 1, 2  # reading a head, reading its body, message complete
_log = structlog.get_logger("receiver.web")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one connection may take: the request head's size, and the time to send the head
    (from its first byte, or from the connection's start) and the body (after the head)."""

    max_head_bytes: int
    head_timeout_seconds: float
    body_timeout_seconds: float


class _Refused(Exception):
    """Raised from a parser callback to stop parsing and refuse the request."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol enforcing `limits` (set by `limited_protocol`)."""

    limits: ClassVar[ConnectionLimits]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the connection in the head phase: its first request is due in time."""
        super().connection_made(transport)
        self._max_head = self.limits.max_head_bytes
        self._phase = _HEAD
        self._head_bytes = 0
        self._discarding = False
        self._timer: asyncio.TimerHandle | None = None
        self._arm(self.limits.head_timeout_seconds, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the pending deadline with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Parse `data` as uvicorn does, counting head bytes and arming deadlines."""
        if self._discarding:
            return
        if self._phase == _DONE:
            self._phase, self._head_bytes = _HEAD, 0
        if self._phase == _HEAD:
            self._head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _Refused):
                self._refuse(exc.__context__.status, exc.__context__.detail)
            else:
                self._invalid_request()
            return
        except httptools.HttpParserError:
            self._invalid_request()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._phase == _HEAD:
            if self._head_bytes > self._max_head:
                self._refuse(431, self._too_large())
            elif self._timer is None:
                self._arm(self.limits.head_timeout_seconds, self._head_timed_out)
        elif self._phase == _BODY and self._timer is None:
            self._arm(self.limits.body_timeout_seconds, self._body_timed_out)

    def on_headers_complete(self) -> None:
        """Refuse a head over the cap; else start the body phase."""
        # The bytes read since this head began bound its size from above, unless they hold
        # its body too (then they may be over the cap while the head is not) or the head began
        # after another request in the same read (phase _DONE: not counted). Only then is the
        # head itself measured. (A pipelined head that began in an earlier read is counted
        # from the next read on: it can pass the cap by at most that one read.)
        if self._phase != _HEAD or self._head_bytes > self._max_head:
            size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
            if size > self._max_head:
                raise _Refused(431, self._too_large())
        if self._timer is not None:
            self._disarm()
        self._phase = _BODY
        HttpToolsProtocol.on_headers_complete(self)

    def on_message_complete(self) -> None:
        """The body is in: no deadline runs while the app answers."""
        if self._timer is not None:
            self._disarm()
        self._phase = _DONE
        HttpToolsProtocol.on_message_complete(self)

    def _head_timed_out(self) -> None:
        self._timer = None
        if self._head_bytes == 0:
            self.transport.close()  # a connection that never sent anything gets no answer
        else:
            self._refuse(408, "the request headers were not received in time")

    def _body_timed_out(self) -> None:
        self._timer = None
        self._refuse(408, "the request body was not received in time")

    def _refuse(self, status: int, detail: str) -> None:
        """Answer `status` unless a response is under way, read no more requests, and close
        once the client has read the answer (or after LINGER_SECONDS)."""
        if self.transport.is_closing():
            return
        self._disarm()
        self._unset_keepalive_if_required()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The app's receive() now answers http.disconnect, and what it sends is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
            if cycle.response_started:
                self.transport.close()
                return
        _log.info(
            "request.refused",
            status=status,
            detail=detail,
            peer=self.client[0] if self.client else "unknown",
        )
        self.transport.write(self._answer(status, detail))
        self._discarding = True
        self.flow.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _answer(self, status: int, detail: str) -> bytes:
        code = {408: "request_timeout", 431: "request_header_fields_too_large"}[status]
        body = orjson.dumps({"error": code, "detail": detail})
        lines = [STATUS_LINE[status]]
        defaults = self.server_state.default_headers
        lines += [name + b": " + value + b"\r\n" for name, value in defaults]
        lines += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
            b"x-request-id: %s\r\n" % os.urandom(16).hex().encode(),
            b"\r\n",
            body,
        ]
        return b"".join(lines)

    def _too_large(self) -> str:
        return f"the request headers are over the limit of {self.limits.max_head_bytes} bytes"

    def _invalid_request(self) -> None:
        # What uvicorn answers to a request httptools cannot parse.
        message = "Invalid HTTP request received."
        self.logger.warning(message)
        self.send_400_response(message)

    def _arm(self, seconds: float, callback: Callable[[], object]) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def limited_protocol(limits: ConnectionLimits) -> type[LimitedHttpToolsProtocol]:
    """The protocol class to give uvicorn as `http=`, enforcing `limits`."""

    class Configured(LimitedHttpToolsProtocol):
        pass

    Configured.limits = limits
    return Configured
