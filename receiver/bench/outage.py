"""`receiver bench --outage`: Stedi answers 503 while events arrive, then recovers; how fast the
backlog drains with one serve process and with an extra `receiver worker`, each on a fresh
database."""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from receiver.bench import peers
from receiver.bench.end_to_end import API_KEY_ENV, _send, _wait_up
from receiver.bench.report import outage_figures, share
from receiver.bench.servers import (
    HOST,
    free_port,
    pick_cpus,
    python_module,
    run_cli,
    running_process,
    running_server,
)
from receiver.bench.setup import (
    INBOUND_ENV,
    BenchOptions,
    Progress,
    _base_env,
    account_args,
    receiver_env,
)

POSTGRES_DSN_ENV = "RECEIVER_BENCH_POSTGRES_DSN"  # an admin DSN: each run creates its database
OUTAGE_EVENTS = 5000
STORES = ("postgresql", "sqlite")
POLL_S = 0.05
GRACE_S = 0.5  # after the last expected delivery, for any repeat to arrive
# The follow-up retry schedule of the run (RECEIVER_JOB_RETRY_BASE_SECONDS), short so that
# the 503 phase does not push retries minutes out; what the report says it used.
JOB_RETRY_BASE_SECONDS = 1
RETRY_SCHEDULE = (
    f"follow-up retries: RECEIVER_JOB_RETRY_BASE_SECONDS={JOB_RETRY_BASE_SECONDS}, doubling "
    "with each failure (1, 2, 4, 8 s...) +-20% jitter, Retry-After honoured; a job that met k "
    "503s waits up to 2^(k-1) s once Stedi is back, and that wait is part of the drain"
)


def drain_timeout_s(events: int) -> float:
    """How long a run waits for its backlog: 300 s, or 200 ms per event when that is more
    (5,000 events drained at 20-23/s in the first runs, on a crowded machine)."""
    return max(300.0, events * 0.2)


def admin_dsn(store: str) -> str | None:
    """The admin DSN runs on PostgreSQL create their databases with; RuntimeError if unset."""
    if store != "postgresql":
        return None
    dsn = os.environ.get(POSTGRES_DSN_ENV, "")
    if not dsn:
        raise RuntimeError(
            f"--outage on PostgreSQL needs {POSTGRES_DSN_ENV}, an admin DSN that may create "
            "and drop databases (e.g. postgresql://postgres@127.0.0.1:5432/postgres); or pass "
            "--outage-store sqlite"
        )
    return dsn


async def _admin(dsn: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database(dsn: str | None, workdir: Path) -> Iterator[str]:
    """The URL of a new database: on the server `dsn` names (created, dropped afterwards), or
    without `dsn` a SQLite file in `workdir`."""
    if dsn is None:
        yield f"sqlite:///{workdir.resolve() / 'receiver.db'}"
        return
    name = f"receiver_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(dsn, f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))
    finally:
        asyncio.run(_admin(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _wait_for(sink_url: str, count: int, timeout_s: float) -> bool:
    """Until the sink has seen `count` deliveries (True), or `timeout_s` passed (False)."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=sink_url, timeout=5.0) as client:
        while time.monotonic() < deadline:
            if int(client.get("/count").json()["count"]) >= count:
                return True
            time.sleep(POLL_S)
    return False


def states(metrics_text: str, gauge: str) -> dict[str, int]:
    """`{state: value}` of the Prometheus gauge `gauge{state="..."}` in a /metrics text."""
    found: dict[str, int] = {}
    prefix = gauge + '{state="'
    for line in metrics_text.splitlines():
        if line.startswith(prefix):
            label, _, value = line[len(prefix) :].partition('"} ')
            found[label] = int(float(value))
    return found


def _prepare(env: dict[str, str], account_id: str, hook_url: str) -> None:
    """The key files (on PostgreSQL), the schema, the bench account and a `claim.*`
    subscription; steps that do not depend on each other at once (each is a `receiver`
    process, mostly its start-up)."""
    steps: list[list[list[str]]] = []
    if "RECEIVER_ENCRYPTION_KEY_PATH" in env:
        steps.append(
            [
                ["keys", "generate", env["RECEIVER_SIGNING_KEY_PATH"]],
                ["keys", "create-kek", env["RECEIVER_ENCRYPTION_KEY_PATH"]],
            ]
        )
    steps.append([["migrate"]])
    steps.append(
        [
            account_args(account_id, "--api-key-env", API_KEY_ENV),
            ["subscriptions", "add", hook_url, "--type", "claim.*", "--json"],
        ]
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        for step in steps:
            list(pool.map(lambda args: run_cli(args, env), step))


def run_once(
    workdir: Path,
    database_url: str,
    events: int,
    extra_workers: int,
    options: BenchOptions,
    cpus: tuple[int, int] | None,
    progress: Progress,
) -> dict[str, Any]:
    """One outage: mock Stedi in 503 while `events` webhooks arrive, then healthy; the drain."""
    workdir.mkdir(parents=True)
    inbound, api_key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    account_id = str(uuid.uuid4())
    stedi_port, sink_port, port = free_port(), free_port(), free_port()
    stedi_url = f"http://{HOST}:{stedi_port}"
    side_cpu = cpus[1] if cpus else None
    peers_command = peers.command(HOST, stedi_port, sink_port, outage=True)
    env = receiver_env(
        workdir,
        port,
        **{
            INBOUND_ENV: inbound,
            API_KEY_ENV: api_key,
            "RECEIVER_DATABASE_URL": database_url,
            "RECEIVER_STEDI_HEALTHCARE_URL": stedi_url,
            "RECEIVER_STEDI_CORE_URL": stedi_url,
            "RECEIVER_ALLOW_INSECURE_DESTINATIONS": "true",
            "RECEIVER_JOB_RETRY_BASE_SECONDS": str(JOB_RETRY_BASE_SECONDS),
        },
    )
    hook_url = f"http://{HOST}:{sink_port}{peers.HOOK_PATH}"
    if not database_url.startswith("sqlite:"):  # on SQLite serve creates both beside the file
        env["RECEIVER_ENCRYPTION_KEY_PATH"] = str(workdir.resolve() / "receiver-encryption.key")
    _prepare(env, account_id, hook_url)
    with ExitStack() as stack:
        sink = stack.enter_context(
            running_server(
                peers_command,
                sink_port,
                {**_base_env(), peers.API_KEY_ENV: api_key},
                workdir / "peers.log",
                side_cpu,
            )
        )
        _wait_up(stedi_url)
        command = python_module("receiver", "serve", "--host", HOST, "--port", str(port))
        server = stack.enter_context(
            running_server(command, port, env, workdir / "receiver.log", cpus[0] if cpus else None)
        )
        workers = [
            stack.enter_context(
                running_process(
                    python_module("receiver", "worker"), env, workdir / f"worker-{i}.log", None
                )
            )
            for i in range(extra_workers)
        ]
        ids = [str(uuid.uuid4()) for _ in range(events)]
        progress(f"outage: {events} events while Stedi answers 503")
        sent = _send(server, ids, {"x-api-key": inbound}, account_id, options, side_cpu)
        for worker in workers:
            if worker.poll() is not None:
                raise RuntimeError(f"receiver worker exited with {worker.returncode}")
        healthy_ns = int(
            httpx.post(stedi_url + peers.OUTAGE_PATH, json={"on": False}).json()["changed_at_ns"]
        )
        progress("outage: Stedi healthy, draining")
        drained = _wait_for(sink.url, events, drain_timeout_s(events))
        time.sleep(GRACE_S)
        results = httpx.get(sink.url + "/results", timeout=30.0).json()
        metrics = httpx.get(server.url + "/metrics", timeout=10.0).text
        served = _served(stedi_url)
    arrivals = (
        (str(key), int(ns), str(webhook_id))
        for (key, ns), webhook_id in zip(results["arrivals"], results["webhook_ids"], strict=True)
    )
    figures = outage_figures(ids, healthy_ns, arrivals)
    return {
        "extra_workers": extra_workers,
        **asdict(figures),
        "drained": drained,
        "outage_s": round((healthy_ns - min(sent["sent_at_ns"])) / 1e9, 3),
        "intake_errors": int(sent["errors"]),
        "fetches_failed_in_outage": served.get("503", 0),  # none after it turned healthy
        "fetches": served,
        "jobs": states(metrics, "receiver_jobs"),
        "deliveries_by_state": states(metrics, "receiver_deliveries"),
    }


def _served(stedi_url: str) -> dict[str, int]:
    answer = httpx.get(stedi_url + peers.STATS_PATH, timeout=5.0).json()
    return {str(k): int(v) for k, v in answer["served"].items()}


def run_outage(
    options: BenchOptions, events: int, store: str, progress: Progress
) -> dict[str, Any]:
    """Both outage runs (one serve; serve plus one `receiver worker`), each on a fresh
    database of `store`; the scenario's part of the report."""
    dsn = admin_dsn(store)
    cpus = pick_cpus()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="receiver-bench-outage-") as tmp:
        for extra in (0, 1):
            workdir = Path(tmp) / f"run-{extra}"
            workdir.mkdir()
            progress(f"outage: {'serve' if extra == 0 else 'serve + 1 worker'} on {store}")
            with fresh_database(dsn, workdir) as url:
                runs.append(run_once(workdir / "run", url, events, extra, options, cpus, progress))
    one, two = runs
    return {
        "title": "outage recovery (Stedi 503, then back)",
        "measured": True,
        "outage": True,
        "store": store,
        "events": events,
        "concurrency": options.concurrency,
        "retry_schedule": RETRY_SCHEDULE,
        "serve": one,
        "serve_and_worker": two,
        "ratio": share(two["events_per_s"], one["events_per_s"]),
        "exactly_once": bool(one["exactly_once"] and two["exactly_once"]),
    }
