"""`receiver bench`: intake throughput and latency against a minimal baseline, in one run."""

from __future__ import annotations

import click

from receiver.bench.instructions import (
    INSTRUCTIONS_REQUESTS,
    format_instructions,
    run_instructions,
)
from receiver.bench.outage import OUTAGE_EVENTS, POSTGRES_DSN_ENV, STORES, run_outage
from receiver.bench.report import format_outage_report, format_report
from receiver.bench.runner import machine, run_bench
from receiver.bench.scale import run_scale
from receiver.bench.scale_report import format_scale_report
from receiver.bench.setup import BenchOptions
from receiver.cli.base import emit_json


@click.command()
@click.option(
    "--requests",
    "count",
    default=20000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Measured requests per server and scenario (5% more are sent first as warm-up).",
)
@click.option(
    "--concurrency",
    default=32,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="Keep-alive connections, one request in flight on each.",
)
@click.option(
    "--scale",
    is_flag=True,
    help="Run only the scale scenario: seed a database of --scale-events events, then intake "
    "(vs an empty database), GET /events latency and server memory on it. Needs several GB of "
    "free disk (refused below 3x the estimate) and a few minutes.",
)
@click.option(
    "--scale-events",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(min=1000),
    help="Events seeded for --scale.",
)
@click.option(
    "--outage",
    is_flag=True,
    help="Run only the outage-recovery scenario: a mock Stedi answers 503 while "
    "--outage-events events arrive, then recovers; the drain with one serve process and with "
    f"an extra `receiver worker`, each on a fresh database ({POSTGRES_DSN_ENV}, an admin DSN, "
    "on PostgreSQL). The default run includes it when that variable is set.",
)
@click.option(
    "--outage-events",
    default=OUTAGE_EVENTS,
    show_default=True,
    type=click.IntRange(min=1),
    help="Events sent during the outage.",
)
@click.option(
    "--outage-store",
    type=click.Choice(STORES),
    default="postgresql",
    show_default=True,
    help="The store the outage scenario runs on.",
)
@click.option(
    "--instructions",
    is_flag=True,
    help="Run only the instruction counts: each server under valgrind's callgrind for loads of "
    "N and 2N requests (--instructions-requests), subtracted and divided by N: the minimal and "
    "durable baselines, Stedi intake, an end-to-end event (N/2). About 50x slower than native.",
)
@click.option(
    "--instructions-requests",
    default=INSTRUCTIONS_REQUESTS,
    show_default=True,
    type=click.IntRange(min=2),
    help="N for --instructions.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bench(
    count: int,
    concurrency: int,
    scale: bool,
    scale_events: int,
    outage: bool,
    outage_events: int,
    outage_store: str,
    instructions: bool,
    instructions_requests: int,
    as_json: bool,
) -> None:
    """Benchmark intake over loopback: a minimal Starlette baseline vs receiver.

    For Stedi webhooks (x-api-key) and Optum callbacks (Bearer token from /oauth/token), each
    server runs as its own uvicorn process on a fresh SQLite database in a temporary directory
    (deleted afterwards) and gets the same load of 4 KB bodies with unique ids; prints req/s,
    p50, p99, errors and receiver/baseline. Progress goes to stderr.
    """

    def progress(message: str) -> None:
        click.echo(f"bench: {message}", err=True)

    options = BenchOptions(requests=count, concurrency=concurrency)
    try:
        if scale:
            report = run_scale(options, scale_events, progress)
            text = format_scale_report
        elif instructions:
            counts = run_instructions(instructions_requests, progress)
            report = {"machine": machine(None), "instructions": counts}
            text = format_instructions
        elif outage:
            scenario = run_outage(options, outage_events, outage_store, progress)
            report = {"machine": machine(None), "scenarios": {"outage": scenario}}
            text = format_outage_report
        else:
            report = run_bench(
                options, progress, outage_events=outage_events, outage_store=outage_store
            )
            text = format_report
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json(report)
    else:
        click.echo(text(report))
