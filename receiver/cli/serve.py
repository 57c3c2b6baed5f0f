"""`receiver serve` and `receiver migrate`."""

from __future__ import annotations

import click
import structlog
import uvicorn

from receiver.app import create_app
from receiver.cli.base import load_or_exit, with_store
from receiver.logs import configure_logging
from receiver.store.base import Store


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Run the web service (SQLite ./receiver.db unless RECEIVER_DATABASE_URL says otherwise)."""
    settings = load_or_exit()
    configure_logging(settings.log_format, settings.log_level)
    where = settings.sqlite_path if settings.is_sqlite else "postgresql"
    structlog.get_logger("receiver").info(
        "service.starting",
        url=f"http://{host}:{port}",
        database=str(where),
        signing_key=str(settings.resolved_signing_key_path),
    )
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


@click.command()
def migrate() -> None:
    """Apply pending database migrations (serve also applies them at start)."""

    async def action(store: Store) -> list[str]:
        return await store.migrate()

    with_store(action)
    click.echo("migrations: up to date")
