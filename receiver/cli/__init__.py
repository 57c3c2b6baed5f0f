"""The `receiver` command: serve, migrate, clients, accounts, events, jobs, replay, keys."""

from __future__ import annotations

import click

from receiver.cli import (
    accounts,
    bench,
    clients,
    deliveries,
    enrollment,
    events,
    keys,
    optum,
    replay,
    serve,
    subscriptions,
)


@click.group()
@click.version_option(package_name="receiver")
def main() -> None:
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
main.add_command(bench.bench)
main.add_command(optum.optum)
main.add_command(enrollment.era_enrollment)
