"""The end-to-end bench: Stedi webhook in -> 835 fetched from a mock Stedi -> sink delivery."""

from __future__ import annotations

import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from receiver.bench import loadgen, peers
from receiver.bench.payloads import stedi_body
from receiver.bench.report import end_to_end_figures, share
from receiver.bench.servers import (
    HOST,
    START_TIMEOUT_S,
    Server,
    cpu_split,
    free_port,
    kernel_share,
    python_module,
    run_cli,
    run_pinned,
    running_server,
)
from receiver.bench.setup import (
    INBOUND_ENV,
    LOADGEN_TIMEOUT_S,
    STEDI_PATH,
    BenchOptions,
    EndToEndResult,
    Progress,
    _base_env,
    add_account,
    receiver_env,
)

MAX_EVENTS = 2000  # events sent at most, whatever --requests says, to stay well under a minute
API_KEY_ENV = "RECEIVER_BENCH_STEDI_API_KEY"  # the key receiver sends to the mock Stedi
DELIVERY_TIMEOUT_S = 60.0  # after the last webhook is answered
POLL_S = 0.01
PACED_EVENTS = 200  # at most, sent one at a time after the saturating run
PACED_RATE = 25  # events/s: well below what the pipeline drains


def events_for(options: BenchOptions) -> tuple[int, int]:
    """(measured events, warm-up events) for `options`: at most MAX_EVENTS, 5% warm-up."""
    events = min(options.requests, MAX_EVENTS)
    return events, max(1, events // 20)


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not healthy after {START_TIMEOUT_S}s")


def _send(
    server: Server,
    transaction_ids: list[str],
    headers: dict[str, str],
    account_id: str,
    options: BenchOptions,
    cpu: int | None,
) -> dict[str, Any]:
    """One Stedi webhook per transaction id from a load-generator process; its result."""
    spec = {
        "host": HOST,
        "port": server.port,
        "path": STEDI_PATH,
        "headers": headers,
        "kind": "stedi",
        "account_id": account_id,
        "requests": len(transaction_ids),
        "warmup": 0,
        "concurrency": options.concurrency,
        "body_bytes": options.body_bytes,
        "timeout_s": LOADGEN_TIMEOUT_S,
        "transaction_ids": transaction_ids,
        "record_sends": True,
    }
    out = run_pinned(
        python_module(loadgen.__name__),
        orjson.dumps(spec),
        _base_env(),
        cpu,
        LOADGEN_TIMEOUT_S + 60,
    )
    result: dict[str, Any] = orjson.loads(out)
    return result


def _send_paced(
    server: Server,
    transaction_ids: list[str],
    headers: dict[str, str],
    account_id: str,
    options: BenchOptions,
) -> dict[str, int]:
    """One webhook at a time, PACED_RATE a second (below saturation, so latency is the
    pipeline's, not the queue's); wall-clock send time per transaction id."""
    sent: dict[str, int] = {}
    interval = 1 / PACED_RATE
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        next_at = time.monotonic()
        for transaction_id in transaction_ids:
            body = stedi_body(str(uuid.uuid4()), transaction_id, account_id, options.body_bytes)
            sent[transaction_id] = time.time_ns()
            client.post(
                STEDI_PATH, content=body, headers={**headers, "content-type": "application/json"}
            )
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
    return sent


def _wait_for_deliveries(sink_url: str, count: int, timeout_s: float) -> None:
    """Until the sink has seen `count` deliveries, or `timeout_s` passed (missing ones count
    as errors)."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=sink_url, timeout=5.0) as client:
        while time.monotonic() < deadline:
            if int(client.get("/count").json()["count"]) >= count:
                return
            time.sleep(POLL_S)


def _setup(env: dict[str, str], account_id: str, hook_url: str) -> None:
    """The account (inbound x-api-key, API key for Stedi) and a `claim.*` subscription."""
    add_account(env, account_id, "--api-key-env", API_KEY_ENV)
    run_cli(["subscriptions", "add", hook_url, "--type", "claim.*", "--json"], env)


def run_end_to_end(
    workdir: Path, options: BenchOptions, cpus: tuple[int, int] | None, progress: Progress
) -> EndToEndResult:
    """`receiver serve` with its worker and dispatcher, a mock Stedi and a sink (one process, on
    the load generator's CPU): Stedi webhooks in, `claim.remittance.received` deliveries out."""
    workdir.mkdir(parents=True)
    events, warmup = events_for(options)
    inbound, api_key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    account_id = str(uuid.uuid4())
    stedi_port, sink_port, port = free_port(), free_port(), free_port()
    stedi_url = f"http://{HOST}:{stedi_port}"
    loadgen_cpu = cpus[1] if cpus else None
    peers_command = peers.command(HOST, stedi_port, sink_port)
    peers_env = {**_base_env(), peers.API_KEY_ENV: api_key}
    with running_server(
        peers_command, sink_port, peers_env, workdir / "peers.log", loadgen_cpu
    ) as sink:
        _wait_up(stedi_url)
        env = receiver_env(
            workdir,
            port,
            **{
                INBOUND_ENV: inbound,
                API_KEY_ENV: api_key,
                "RECEIVER_STEDI_HEALTHCARE_URL": stedi_url,
                "RECEIVER_STEDI_CORE_URL": stedi_url,
                "RECEIVER_ALLOW_INSECURE_DESTINATIONS": "true",
            },
        )
        _setup(env, account_id, sink.url + peers.HOOK_PATH)
        command = python_module("receiver", "serve", "--host", HOST, "--port", str(port))
        headers = {"x-api-key": inbound}
        with running_server(
            command, port, env, workdir / "receiver.log", cpus[0] if cpus else None
        ) as server:
            progress("end to end: warm-up")
            warm_ids = [str(uuid.uuid4()) for _ in range(warmup)]
            _send(server, warm_ids, headers, account_id, options, loadgen_cpu)
            _wait_for_deliveries(sink.url, warmup, DELIVERY_TIMEOUT_S)
            progress(f"end to end: {events} events")
            ids = [str(uuid.uuid4()) for _ in range(events)]
            cpu_before, wall_before = cpu_split(server.proc.pid), time.monotonic()
            sent = _send(server, ids, headers, account_id, options, loadgen_cpu)
            _wait_for_deliveries(sink.url, warmup + events, DELIVERY_TIMEOUT_S)
            cpu_after, wall_after = cpu_split(server.proc.pid), time.monotonic()
            paced_events = min(PACED_EVENTS, max(20, events // 10))
            progress(f"end to end: {paced_events} events paced at {PACED_RATE}/s")
            paced_ids = [str(uuid.uuid4()) for _ in range(paced_events)]
            paced_sent = _send_paced(server, paced_ids, headers, account_id, options)
            _wait_for_deliveries(sink.url, warmup + events + paced_events, DELIVERY_TIMEOUT_S)
        arrivals = httpx.get(sink.url + "/results", timeout=30.0).json()["arrivals"]
    figures = end_to_end_figures(
        dict(zip(ids, sent["sent_at_ns"], strict=True)),
        ((str(key), int(ns)) for key, ns in arrivals),
    )
    paced = end_to_end_figures(paced_sent, ((str(key), int(ns)) for key, ns in arrivals))
    server_cpu = None
    if cpu_before is not None and cpu_after is not None:
        server_cpu = share(sum(cpu_after) - sum(cpu_before), wall_after - wall_before)
    note = (
        f"{events} events (--requests, at most {MAX_EVENTS}) after {warmup} warm-up; "
        "one serve process with its worker and dispatcher"
    )
    if figures.errors:
        note += f"; {figures.errors} not delivered within {DELIVERY_TIMEOUT_S:g}s"
    return EndToEndResult(
        measured=True,
        note=note,
        events_per_s=figures.events_per_s,
        p50_ms=figures.p50_ms,
        p99_ms=figures.p99_ms,
        errors=figures.errors,
        events=figures.events,
        server_cpu=server_cpu,
        server_kernel=kernel_share(cpu_before, cpu_after),
        paced_rate=PACED_RATE,
        paced_p50_ms=paced.p50_ms,
        paced_p99_ms=paced.p99_ms,
        paced_errors=paced.errors,
    )
