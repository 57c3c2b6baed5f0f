"""`receiver era-enrollment submit|status|release`: ERA enrollment submissions to Optum."""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from receiver.app import build_optum_client
from receiver.cli.base import emit_json, settings_with_logs, with_store
from receiver.cli.render import confirm
from receiver.clock import utc_now
from receiver.enrollment.submissions import EraSubmission
from receiver.ops import enrollment as use
from receiver.ops.trail import cli_actor
from receiver.store.base import Store


@click.group("era-enrollment")
def era_enrollment() -> None:
    """ERA enrollment submissions to Optum (polled for their results by the worker)."""


@era_enrollment.command("submit")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--optum", "connection", required=True, help="The Optum connection to submit on.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def submit(file: Path, connection: str, as_json: bool) -> None:
    """Submit FILE (a JSON array of enrollment records); the worker polls the result."""
    try:
        records = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError:
        raise click.UsageError(f"{file} is not JSON") from None
    settings = settings_with_logs()

    async def action(store: Store) -> EraSubmission:
        client = build_optum_client(settings)
        try:
            return await use.submit(
                store, client, connection_name=connection, records=records, now=utc_now
            )
        finally:
            await client.aclose()

    submitted = with_store(action)  # a ReceiverError (bad records by path, 409) is a message
    if as_json:
        emit_json(use.submission_json(submitted))
    else:
        click.echo(f"{submitted.id}\tpayloadId {submitted.payload_id}\t{submitted.status.value}")


@era_enrollment.command("status")
@click.argument("submission_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(submission_id: str, as_json: bool) -> None:
    """Show a submission's status, poll state and (once final) its result."""
    found = with_store(lambda store: use.status(store, submission_id))
    if as_json:
        emit_json(use.submission_json(found))
        return
    click.echo(f"{found.id}\t{found.status.value}\tpolls {found.attempts}\t{found.reason or '-'}")


@era_enrollment.command("release")
@click.argument("submission_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def release(submission_id: str, yes: bool, as_json: bool) -> None:
    """Give up a submission whose Optum answer was lost (status unknown, or submitting for 10
    minutes): it is marked dead and its records may be submitted again. Check with Optum
    first that it did not accept them: accepted records must not be submitted twice."""
    confirm(
        f"Release the records of {submission_id} for resubmission?",
        yes=yes,
        refusal="pass --yes to release",
    )
    settings_with_logs()

    async def action(store: Store) -> EraSubmission:
        return await use.release(store, submission_id, now=utc_now(), actor=cli_actor())

    released = with_store(action)
    if as_json:
        emit_json(use.submission_json(released))
        return
    click.echo(f"released {released.id}: {released.record_count} records may be submitted again")
