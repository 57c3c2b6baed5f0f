"""Stedi's eligibility APIs: real-time checks, batch submission, batch status and batch polling."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from receiver.metrics import Metrics
from receiver.net.client import AIOHTTP, streaming_client
from receiver.policy import FailureKind, classify_status, throttle_delay
from receiver.upstream.failure import describe_upstream_failure
from receiver.upstream.stedi import Fetched, UpstreamError, exchange

REALTIME_PATH = "/change/medicalnetwork/eligibility/v3"
BATCH_PATH = "/eligibility-manager/batch-eligibility"
POLL_PATH = "/eligibility-manager/polling/batch-eligibility"
BATCH_STATUS_PATH = "/eligibility-manager/batch/"
MAX_POLL_PAGE = 200
CUSTOMER_LIMIT = "CUSTOMER_LIMIT"
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024


def is_customer_limit(status: int, body: bytes) -> bool:
    """True for Stedi's concurrency throttle: a 429 (its body says `...throttled:
    CUSTOMER_LIMIT` with code TOO_MANY_REQUESTS, or nothing readable)."""
    if status != 429:
        return False
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return True
    if not isinstance(parsed, dict):
        return True
    message, code = parsed.get("message"), parsed.get("code")
    return (isinstance(message, str) and CUSTOMER_LIMIT in message) or code in (
        None,
        "TOO_MANY_REQUESTS",
    )


class StediEligibilityClient:
    """One shared HTTP client for Stedi's eligibility endpoints, with at most
    `max_in_flight_per_account` real-time checks in flight per account (the rest queue)."""

    def __init__(
        self,
        *,
        healthcare_url: str,
        manager_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        max_in_flight_per_account: int = 5,
        connect_timeout: float = 5.0,
        read_timeout: float = 75.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        metrics: Metrics | None = None,
        jitter: Callable[[], float] = random.random,
        outbound_http: str = AIOHTTP,
    ) -> None:
        if max_in_flight_per_account < 1:
            raise ValueError("max_in_flight_per_account must be at least 1")
        self._healthcare_url = healthcare_url.rstrip("/")
        self._manager_url = manager_url.rstrip("/")
        self._max_in_flight = max_in_flight_per_account
        self._max_response_bytes = max_response_bytes
        self._metrics = metrics
        self._jitter = jitter
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._read_timeout = read_timeout
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._http = streaming_client(backend=outbound_http, timeout=timeout, transport=transport)

    async def check(
        self, *, account: str, api_key: str, request: Mapping[str, object], deadline_seconds: float
    ) -> dict[str, object]:
        """One real-time check: Stedi's JSON answer (a 200), or UpstreamError.

        A 429 CUSTOMER_LIMIT is retried with backoff while `deadline_seconds` (from now) allow;
        the wait is spent outside the account's in-flight bound, so others go on meanwhile.
        An UpstreamError with kind TRANSIENT and status None after the deadline is a timeout.
        """
        started = time.monotonic()
        attempt = 0
        body = json.dumps(request).encode()
        while True:
            remaining = deadline_seconds - (time.monotonic() - started)
            if remaining <= 0:
                raise UpstreamError(
                    FailureKind.TRANSIENT, status=None, reason="deadline passed while throttled"
                )
            async with self._semaphore(account):
                remaining = deadline_seconds - (time.monotonic() - started)
                response = await self._send(
                    "POST",
                    self._healthcare_url + REALTIME_PATH,
                    api_key,
                    endpoint="eligibility_check",
                    content=body,
                    timeout_seconds=max(0.001, min(remaining, self._read_timeout)),
                )
            if response.status_code == 200:
                return _json_object(response, "eligibility response")
            attempt += 1
            if is_customer_limit(response.status_code, response.content):
                elapsed = time.monotonic() - started
                delay = throttle_delay(
                    attempt, elapsed=elapsed, deadline=deadline_seconds, jitter=self._jitter()
                )
                if delay is not None:
                    await asyncio.sleep(delay)
                    continue
            raise _status_error(response)

    async def submit_batch(
        self, *, api_key: str, items: list[dict[str, object]], name: str | None = None
    ) -> dict[str, object]:
        """Submit one batch (`{items, name?}`); Stedi's `{batchId, submittedAt}`, or
        UpstreamError."""
        payload: dict[str, object] = {"items": items}
        if name is not None:
            payload["name"] = name
        response = await self._send(
            "POST",
            self._manager_url + BATCH_PATH,
            api_key,
            endpoint="eligibility_batch_submit",
            content=json.dumps(payload).encode(),
        )
        if response.status_code != 200:
            raise _status_error(response)
        answer = _json_object(response, "batch submission answer")
        if not isinstance(answer.get("batchId"), str) or not answer["batchId"]:
            raise UpstreamError(
                FailureKind.PERMANENT, status=200, reason="batch submission answer has no batchId"
            )
        return answer

    async def batch_status(self, *, api_key: str, batch_id: str) -> dict[str, object]:
        """`GET {manager}/eligibility-manager/batch/{batchId}`: the batch's counts and status."""
        url = self._manager_url + BATCH_STATUS_PATH + quote(batch_id, safe="")
        response = await self._send("GET", url, api_key, endpoint="eligibility_batch_status")
        if response.status_code != 200:
            raise _status_error(response)
        return _json_object(response, "batch status")

    async def poll_batch(
        self, *, api_key: str, batch_id: str, page_token: str | None, page_size: int = 100
    ) -> dict[str, object]:
        """One page of a batch's results (`{items, nextPageToken?}`), gzip accepted (Stedi
        compresses pages of more than 20), or UpstreamError."""
        if not 1 <= page_size <= MAX_POLL_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_POLL_PAGE}")
        params = {"batchId": batch_id, "pageSize": str(page_size)}
        if page_token is not None:
            params["pageToken"] = page_token
        url = f"{self._manager_url}{POLL_PATH}?{urlencode(params)}"
        response = await self._send("GET", url, api_key, endpoint="eligibility_batch_poll")
        if response.status_code != 200:
            raise _status_error(response)
        return _json_object(response, "batch poll page")

    async def aclose(self) -> None:
        """Close the shared HTTP client."""
        await self._http.aclose()

    def _semaphore(self, account: str) -> asyncio.Semaphore:
        semaphore = self._semaphores.get(account)
        if semaphore is None:
            semaphore = self._semaphores[account] = asyncio.Semaphore(self._max_in_flight)
        return semaphore

    async def _send(
        self,
        method: str,
        url: str,
        api_key: str,
        *,
        endpoint: str,
        content: bytes | None = None,
        timeout_seconds: float | None = None,
    ) -> Fetched:
        headers = {
            "Authorization": api_key,
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
        }
        if content is not None:
            headers["Content-Type"] = "application/json"
        options: dict[str, Any] = {}
        if timeout_seconds is not None:
            options["timeout"] = httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0))
        return await exchange(
            self._http,
            method,
            url,
            endpoint=endpoint,
            metrics=self._metrics,
            max_response_bytes=self._max_response_bytes,
            headers=headers,
            content=content,
            **options,
        )


def _status_error(response: Fetched) -> UpstreamError:
    kind = classify_status(response.status_code) or FailureKind.PERMANENT
    reason = describe_upstream_failure(response.status_code, response.headers, response.content)
    return UpstreamError(kind, status=response.status_code, reason=reason)


def _json_object(response: Fetched, what: str) -> dict[str, object]:
    try:
        parsed = json.loads(response.content)
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise UpstreamError(FailureKind.TRANSIENT, status=200, reason=f"invalid {what}")
    return parsed
