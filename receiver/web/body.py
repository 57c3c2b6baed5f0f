"""Reading request bodies with a hard size limit, without buffering more than the limit."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from receiver.errors import BadRequestError, PayloadTooLargeError


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or PayloadTooLargeError as soon as it (or its Content-Length) passes `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequestError("content-length is not a number")
        if int(declared) > limit:
            raise PayloadTooLargeError(f"body is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(f"body is over the limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise BadRequestError("client disconnected before the body was complete") from None
    return b"".join(chunks)
