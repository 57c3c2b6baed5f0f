"""`receiver demo`: the whole pipeline, offline, on a temporary SQLite database."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from receiver.demo.run import DemoError, Running, running_demo
from receiver.demo.story import tell
from receiver.logs import configure_logging


@click.command()
@click.option("--keep", is_flag=True, help="Keep it all running afterwards, for curl and the CLI.")
def demo(keep: bool) -> None:
    """Run receiver between local stand-ins for Stedi, Optum and a subscriber that verifies
    signatures, push the fixtures through and print each stage (nothing leaves this machine)."""
    configure_logging("console", "warning", final=True)
    try:
        with running_demo() as running:
            click.echo(f"receiver demo: receiver on {running.receiver_url}, a temporary database")
            click.echo(f"  Stedi stand-in {running.stedi_url}, subscriber {running.sink_url}")
            token = tell(running, click.echo)
            if keep:
                _keep(running, token)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None


def _keep(running: Running, token: str) -> None:
    """Print how to explore, then wait for Ctrl-C or SIGTERM."""
    url = running.receiver_url
    click.echo("")
    click.echo("Kept running (Ctrl-C stops it and removes the temporary database):")
    click.echo(f"  receiver        {url}")
    click.echo(f"  Stedi stand-in  {running.stedi_url}")
    click.echo(f"  subscriber      {running.sink_url}")
    click.echo(f"  token           {token}")
    click.echo(f"  (scopes events:read events:replay subscriptions:write, for {url})")
    click.echo("Try:")
    click.echo(f"  curl -H 'authorization: Bearer {token}' {url}/events")
    click.echo(f"  RECEIVER_DATABASE_URL={running.database_url} receiver deliveries list")
    stopped = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    stopped.wait()
