"""The `receiver` command: serve, migrate, clients, accounts, events, jobs, replay, keys, demo."""

from __future__ import annotations

import click

from receiver.cli import (
    accounts,
    audit,
    bench,
    clients,
    datakeys,
    deliveries,
    demo,
    eligibility,
    enrollment,
    events,
    keys,
    optum,
    purge,
    replay,
    reprocess,
    serve,
    subscriptions,
)


@click.group()
@click.version_option(package_name="receiver")
@click.option(
    "--database",
    metavar="URL",
    default=None,
    help="The database (sqlite:///path.db or postgresql://...) [default: RECEIVER_DATABASE_URL].",
)
def main(database: str | None) -> None:
    """receiver: durable intake for Stedi webhooks and Optum callbacks."""


main.add_command(serve.serve)
main.add_command(serve.migrate)
main.add_command(serve.worker)
main.add_command(clients.clients)
main.add_command(accounts.accounts)
main.add_command(events.events)
main.add_command(events.jobs)
main.add_command(events.claims)
main.add_command(subscriptions.subscriptions)
main.add_command(deliveries.deliveries)
main.add_command(replay.replay_)
main.add_command(keys.keys)
datakeys.register(keys.keys)
main.add_command(bench.bench)
main.add_command(demo.demo)
main.add_command(eligibility.eligibility)
main.add_command(audit.audit)
main.add_command(purge.purge_)
events.events.add_command(reprocess.reprocess_one)
events.jobs.add_command(reprocess.reprocess_dead)
main.add_command(optum.optum)
main.add_command(enrollment.era_enrollment)
