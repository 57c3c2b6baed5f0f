"""An httpx transport that refuses response bodies over a size limit, for the token endpoint
(read by Authlib) and the APIs alike."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from receiver.policy import FailureKind
from receiver.upstream.optum.errors import OptumError


class CappedTransport(httpx.AsyncBaseTransport):
    """Wraps a transport; a body larger than `limit` bytes (by Content-Length, or once read
    past it) raises a permanent OptumError, since asking again fetches the same body."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limit: int, *, owns_inner: bool) -> None:
        if limit < 1:
            raise ValueError("the response size limit must be at least 1 byte")
        self._inner = inner
        self._limit = limit
        self._owns_inner = owns_inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        declared = response.headers.get("Content-Length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self._limit:
            await response.aclose()
            raise _too_large(response.status_code, self._limit)
        stream = response.stream
        if not isinstance(stream, httpx.AsyncByteStream):
            raise TypeError("CappedTransport needs an async transport")
        response.stream = _CappedStream(stream, self._limit, response.status_code)
        return response

    async def aclose(self) -> None:
        if self._owns_inner:
            await self._inner.aclose()


class _CappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, limit: int, status: int) -> None:
        self._inner = inner
        self._limit = limit
        self._status = status

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self._inner:
            size += len(chunk)
            if size > self._limit:
                raise _too_large(self._status, self._limit)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def _too_large(status: int, limit: int) -> OptumError:
    return OptumError(
        FailureKind.PERMANENT, status=status, reason=f"response larger than {limit} bytes"
    )
