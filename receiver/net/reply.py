"""Reply: an aiohttp response as receiver's outbound calls read it, its body decoded as httpx
would decode it (gzip and deflate; other codings as sent), without httpx's Response."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Mapping

import aiohttp
import httpx

from receiver.net.transport import body_chunks


class Reply:
    """The status, the headers (case-insensitive) and the body of one answer, read inside the
    request's block. Decoding errors are httpx.DecodingError and network errors
    httpx.TransportError, as an httpx.Response would raise them."""

    __slots__ = ("_response", "headers", "status_code")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status_code: int = response.status
        self.headers: Mapping[str, str] = response.headers

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives, decoded by its Content-Encoding."""
        decoders = content_decoders(self.headers.get("Content-Encoding", ""))
        async for chunk in body_chunks(self._response):
            for decoder in decoders:
                chunk = decoder.decode(chunk)
            if chunk:
                yield chunk
        tail = b""
        for decoder in decoders:
            tail = decoder.decode(tail) + decoder.flush()
        if tail:
            yield tail


class _Decoder:
    """One Content-Encoding layer (zlib's gzip, zlib or raw deflate framing)."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        # deflate is meant to be zlib-wrapped; servers send raw deflate too (httpx tries both).
        self._wbits = zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS
        self._zlib = zlib.decompressobj(self._wbits)
        self._started = False

    def decode(self, data: bytes) -> bytes:
        try:
            if not self._started and data and self._coding == "deflate":
                self._started = True
                try:
                    return self._zlib.decompress(data)
                except zlib.error:
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._zlib.decompress(data)
        except zlib.error as exc:
            raise httpx.DecodingError(f"body does not decode as {self._coding}: {exc}") from None

    def flush(self) -> bytes:
        try:
            return self._zlib.flush()
        except zlib.error as exc:
            raise httpx.DecodingError(f"body does not decode as {self._coding}: {exc}") from None


def content_decoders(header: str) -> list[_Decoder]:
    """The decoders for a Content-Encoding value, outermost (last applied) first; codings
    other than gzip and deflate (receiver asks for no others) are passed through, as httpx
    passes through a coding it cannot decode."""
    codings = [part.strip().lower() for part in header.split(",")]
    return [_Decoder(coding) for coding in reversed(codings) if coding in ("gzip", "deflate")]
