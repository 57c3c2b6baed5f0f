"""`receiver bench`: intake throughput and latency against a minimal baseline, in one run."""

from __future__ import annotations

import click

from receiver.bench.report import format_report
from receiver.bench.runner import run_bench
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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bench(count: int, concurrency: int, scale: bool, scale_events: int, as_json: bool) -> None:
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
        else:
            report = run_bench(options, progress)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json(report)
    else:
        click.echo(format_scale_report(report) if scale else format_report(report))
