"""`receiver eligibility submit|status|follow`: batch eligibility checks from a file, their
progress, and following a batch another system submitted."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from receiver.app import build_eligibility_client
from receiver.cli.base import emit_json, settings_with_logs, with_store
from receiver.clock import utc_now
from receiver.eligibility.csv_rows import CsvChecks, read_checks
from receiver.eligibility.records import Origin
from receiver.ops import eligibility as use
from receiver.store.base import Store

BAR_WIDTH = 30


def read_items(path: Path, data: bytes) -> tuple[object, list[str], CsvChecks | None]:
    """The checks in a file: CSV (one check per row, by its `.csv` name or a first character
    that is not `[` or `{`) or JSON (a list of checks, or `{"items": [...]}`); the problems
    that stop the read (by row and column for CSV); and the CSV read, to locate rule errors."""
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if path.suffix.lower() != ".csv" and text[:1] in (b"[", b"{"):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            return None, [f"the file is not valid JSON: {exc}"], None
        if isinstance(parsed, dict):
            return parsed.get("items"), [], None
        return parsed, [], None
    checks = read_checks(data)
    if not checks.ok:
        return None, [str(issue) for issue in checks.errors], checks
    return list(checks.checks), [], checks


def bar(stored: int, expected: int, width: int = BAR_WIDTH) -> str:
    """`[#####.....] 120/1200` for a terminal."""
    filled = width if expected <= 0 else min(width, width * stored // expected)
    return f"[{'#' * filled}{'.' * (width - filled)}] {stored}/{expected}"


@click.group()
def eligibility() -> None:
    """Stedi batch eligibility: submit checks, show progress, follow a batch."""


@eligibility.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", required=True, help="The local Stedi account name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def submit(file: Path, account: str, as_json: bool) -> None:
    """Validate FILE's checks (JSON or CSV with one check per row), submit them in batches
    and let the worker poll the results. Nothing is sent if any check is invalid."""
    data = file.read_bytes()
    items, problems, csv = read_items(file, data)
    if problems:
        for problem in problems:
            click.echo(f"{file.name}: {problem}", err=True)
        sys.exit(1)
    settings = settings_with_logs()

    async def action(store: Store) -> use.Submitted | use.InvalidChecksError:
        client = build_eligibility_client(settings)
        try:
            return await use.submit_checks(
                store,
                client,
                account_name=account,
                items=items,
                origin=Origin.CLI,
                today=utc_now().date(),
                now=utc_now,
                batch_size=settings.eligibility_batch_size,
            )
        except use.InvalidChecksError as exc:
            return exc
        finally:
            await client.aclose()

    submitted = with_store(action)
    if isinstance(submitted, use.InvalidChecksError):
        for issue in submitted.issues:
            where = csv.locate(issue) if csv is not None else issue
            click.echo(f"{file.name}: {where}", err=True)
        click.echo(f"{len(submitted.issues)} problems; nothing was sent to Stedi", err=True)
        sys.exit(1)
    answer = use.submitted_json(submitted)
    if as_json:
        emit_json(answer)
        return
    for warning in submitted.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"{submitted.submission.id}: {submitted.submission.item_count} checks in "
        f"{len(submitted.batches)} batches ({', '.join(b.batch_id for b in submitted.batches)})"
    )


@eligibility.command()
@click.argument("submission_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(submission_id: str, as_json: bool) -> None:
    """Show a submission's progress: results stored of expected, per batch."""
    settings_with_logs()

    async def action(store: Store) -> dict[str, object]:
        return await use.progress(store, submission_id)

    shown = with_store(action)
    if as_json:
        emit_json(shown)
        return
    stored, expected = int(str(shown["stored"])), int(str(shown["expected"]))
    line = bar(stored, expected) if sys.stdout.isatty() else f"{stored}/{expected}"
    click.echo(f"{shown['id']} {shown['status']} {line} {shown['results']}")
    batches = shown["batches"]
    for batch in batches if isinstance(batches, list) else []:
        done, total = batch["stored"], batch["expected"]
        progress = bar(done, total) if sys.stdout.isatty() else f"{done}/{total}"
        reason = f" ({batch['reason']})" if batch["reason"] else ""
        click.echo(f"  {batch['batch_id']} {batch['status']} {progress}{reason}")


@eligibility.command()
@click.argument("batch_id")
@click.option("--account", required=True, help="The local Stedi account name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def follow(batch_id: str, account: str, as_json: bool) -> None:
    """Follow a batch another system submitted: poll, store and publish its results."""
    settings = settings_with_logs()

    async def action(store: Store) -> dict[str, object]:
        client = build_eligibility_client(settings)
        try:
            submission = await use.follow_batch(
                store, client, account_name=account, batch_id=batch_id, now=utc_now()
            )
        finally:
            await client.aclose()
        return await use.progress(store, submission.id)

    shown = with_store(action)
    if as_json:
        emit_json(shown)
        return
    click.echo(f"{shown['id']}: following {batch_id} ({shown['expected']} checks)")
