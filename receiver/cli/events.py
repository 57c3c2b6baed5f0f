"""`receiver events list|show|redeliver`, `receiver jobs list|retry` and `receiver claims show`,
through the ops use cases (the changes and the reads of PHI are audited)."""

from __future__ import annotations

import click

from receiver.cli import tail
from receiver.cli.base import emit_json, with_store
from receiver.cli.filters import check_time, enum_filter
from receiver.cli.render import fields, human_time, table
from receiver.clock import utc_now
from receiver.errors import ReceiverError
from receiver.models import JobFilter, TimelineEntry
from receiver.ops.deliveries import redeliver
from receiver.ops.events import (
    event_filter,
    event_json,
    job_filter,
    job_json,
    read_event,
    read_timeline,
    retry_job,
    timeline_json,
)
from receiver.ops.filters import EVENT_STATUSES, JOB_KINDS, JOB_STATUSES, SOURCES
from receiver.ops.trail import cli_actor
from receiver.store.base import Store


@click.group()
def events() -> None:
    """Inbound events."""


@events.command("list")
@enum_filter("--source", SOURCES)
@click.option("--type", "type_")
@click.option("--account")
@enum_filter("--status", EVENT_STATUSES)
@click.option("--since", callback=check_time, metavar="TIME", help="ISO-8601 time with a timezone.")
@click.option("--until", callback=check_time, metavar="TIME", help="ISO-8601 time with a timezone.")
@click.option("--limit", default=50, show_default=True)
@click.option("--cursor")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(
    source: str | None,
    type_: str | None,
    account: str | None,
    status: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """Events, newest first."""
    query = {
        "source": source,
        "type": type_,
        "account": account,
        "status": status,
        "since": since,
        "until": until,
    }
    try:
        flt = event_filter({k: v for k, v in query.items() if v is not None})
    except ReceiverError as exc:
        raise click.UsageError(exc.detail) from None
    page = with_store(lambda store: store.list_events(flt, limit=limit, cursor=cursor))
    if as_json:
        emit_json({"items": [event_json(e) for e in page.items], "next_cursor": page.next_cursor})
        return
    now = utc_now()
    table(
        ["ID", "RECEIVED", "SOURCE", "TYPE", "ACCOUNT", "STATUS"],
        [
            [e.id, human_time(e.received_at, now), e.source, e.type, e.account, e.status]
            for e in page.items
        ],
        empty="no events",
    )
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}")


@events.command("show")
@click.argument("event_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the default).")
def show(event_id: str, as_json: bool) -> None:
    """One event as JSON, with its body exactly as received."""
    actor = cli_actor()
    event = with_store(lambda store: read_event(store, event_id, now=utc_now(), actor=actor))
    if event is None:
        raise click.ClickException(f"no event {event_id}")
    emit_json(event_json(event))


@events.command("tail")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per event.")
def tail_(as_json: bool) -> None:
    """Follow new events live (the store is polled every second); Ctrl-C stops."""
    tail.tail(as_json)


@events.command("redeliver")
@click.argument("event_id")
@click.option("--subscription", help="Only this subscription's deliveries.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def redeliver_(event_id: str, subscription: str | None, as_json: bool) -> None:
    """Send an event's published messages again (same webhook-id and body) to the
    subscriptions that had them: delivered and dead deliveries go back in the queue."""

    async def action(store: Store) -> dict[str, object]:
        return await redeliver(store, event_id, utc_now(), subscription, actor=cli_actor())

    counts = with_store(action)
    if as_json:
        emit_json(counts)
        return
    click.echo(
        f"requeued {counts['requeued']} deliveries of {event_id}; "
        f"{counts['already_pending']} already pending"
    )


@click.group()
def jobs() -> None:
    """Follow-up jobs."""


@jobs.command("list")
@enum_filter("--status", JOB_STATUSES)
@enum_filter("--kind", JOB_KINDS)
@click.option("--event-id")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def jobs_list(
    status: str | None, kind: str | None, event_id: str | None, limit: int, as_json: bool
) -> None:
    """Jobs, newest first."""
    flt = job_filter({"status": status, "kind": kind, "event_id": event_id})
    page = with_store(lambda store: store.list_jobs(flt, limit=limit, cursor=None))
    if as_json:
        emit_json({"items": [job_json(j) for j in page.items], "next_cursor": page.next_cursor})
        return
    now = utc_now()
    table(
        ["ID", "EVENT", "KIND", "STATUS", "ATTEMPTS", "NEXT ATTEMPT", "UPDATED", "LAST ERROR"],
        [
            [
                j.id,
                j.event_id,
                j.kind,
                j.status,
                j.attempts,
                human_time(j.next_attempt_at, now),
                human_time(j.updated_at, now),
                j.last_error,
            ]
            for j in page.items
        ],
        empty="no jobs",
    )


@jobs.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def jobs_show(job_id: str, as_json: bool) -> None:
    """One job: its state, attempts, next attempt and last error."""
    page = with_store(lambda store: store.list_jobs(JobFilter(id=job_id), limit=1, cursor=None))
    if not page.items:
        raise click.ClickException(f"no job {job_id}")
    job = page.items[0]
    if as_json:
        emit_json(job_json(job))
        return
    now = utc_now()
    fields(
        {
            **job_json(job),
            "next_attempt_at": human_time(job.next_attempt_at, now),
            "lease_until": human_time(job.lease_until, now) if job.lease_until else None,
            "created_at": human_time(job.created_at, now),
            "updated_at": human_time(job.updated_at, now),
        }
    )


@jobs.command("retry")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def jobs_retry(job_id: str, as_json: bool) -> None:
    """Put a dead job back in the queue (after fixing what killed it, e.g. an API key)."""

    async def action(store: Store) -> bool:
        return await retry_job(store, job_id, now=utc_now(), actor=cli_actor())

    if not with_store(action):
        raise click.ClickException(f"job {job_id} is not dead (or does not exist)")
    if as_json:
        emit_json({"requeued": job_id})
        return
    click.echo(f"requeued {job_id}")


@click.group()
def claims() -> None:
    """Claim timelines."""


@claims.command("show")
@click.argument("patient_control_number")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def claims_show(patient_control_number: str, as_json: bool) -> None:
    """What every event said about one claim (277CA acknowledgments, 835 remittances)."""
    actor = cli_actor()
    entries = with_store(
        lambda store: read_timeline(store, patient_control_number, now=utc_now(), actor=actor)
    )
    if not entries:
        raise click.ClickException("no events mention this claim")
    if not as_json:
        now = utc_now()
        table(
            ["RECEIVED", "KIND", "EVENT", "TRANSACTION"],
            [
                [human_time(e.received_at, now), _entry_kind(e), e.event_id, e.transaction_id]
                for e in entries
            ],
            empty="no events mention this claim",
        )
        return
    emit_json(
        {
            "patient_control_number": patient_control_number,
            "timeline": [timeline_json(e) for e in entries],
        }
    )


def _entry_kind(entry: TimelineEntry) -> str:
    """An entry's kind, and for one read from a corrected report, which revision it was."""
    return f"{entry.kind} (revision {entry.revision})" if entry.revision else entry.kind
