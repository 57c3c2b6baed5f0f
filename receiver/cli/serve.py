"""`receiver serve` and `receiver migrate`."""

from __future__ import annotations

import asyncio
import signal
from urllib.parse import urlsplit

import click
import structlog
import uvicorn

from receiver.app import build_key_ring, create_app, freeze_startup_heap, running_worker
from receiver.cli.base import encryption_keys_or_exit, load_or_exit, with_store
from receiver.clock import utc_now
from receiver.errors import ConfigError, ReceiverError
from receiver.logs import configure_logging
from receiver.settings import Settings
from receiver.store.base import Store
from receiver.store.sealing import build_sealed_store, load_encryption_keys
from receiver.web.protocol import ConnectionLimits, limited_protocol


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--no-workers", is_flag=True, help="Web only; run `receiver worker` elsewhere.")
def serve(host: str, port: int, no_workers: bool) -> None:
    """Run the web service and, unless --no-workers, the follow-up worker in-process
    (SQLite ./receiver.db unless RECEIVER_DATABASE_URL says otherwise)."""
    settings = load_or_exit()
    configure_logging(settings.log_format, settings.log_level, final=True)
    try:
        keys = build_key_ring(settings)
        keks = load_encryption_keys(settings)  # missing or unsafe: exit 2, before serving
    except ConfigError as exc:
        raise click.UsageError(f"configuration: {exc.detail}") from None
    where = settings.sqlite_path if settings.is_sqlite else "postgresql"
    structlog.get_logger("receiver").info(
        "service.starting",
        url=f"http://{host}:{port}",
        database=str(where),
        signing_keys=str(keys.path),
        kids=[entry.key.kid for entry in keys.entries],
    )
    for warning in startup_warnings(settings, host=host, port=port):
        structlog.get_logger("receiver").warning("service.misconfigured", problem=warning)
    limits = ConnectionLimits(
        max_head_bytes=settings.max_header_bytes,
        head_timeout_seconds=settings.header_timeout_seconds,
        body_timeout_seconds=settings.body_timeout_seconds,
    )
    uvicorn.run(
        create_app(settings, keys=keys, keks=keks, run_workers=not no_workers, freeze_heap=True),
        host=host,
        port=port,
        http=limited_protocol(limits),
        ws="none",
        timeout_keep_alive=settings.keepalive_timeout_seconds,
        # Which peers may name the client in X-Forwarded-For: the token endpoint throttles
        # failures per client address.
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def startup_warnings(settings: Settings, *, host: str, port: int) -> list[str]:
    """What `serve` warns of at start: settings that work but are likely not what was meant."""
    warnings: list[str] = []
    public = urlsplit(settings.public_url)
    if public.hostname in _LOOPBACK:
        public_port = public.port or (443 if public.scheme == "https" else 80)
        if public_port != port:
            warnings.append(
                f"RECEIVER_PUBLIC_URL ({settings.public_url}) names port {public_port} but serve "
                f"listens on {port}: tokens name the public URL as their issuer and audience"
            )
        if host not in _LOOPBACK:
            warnings.append(
                f"serve listens on {host} but RECEIVER_PUBLIC_URL is {settings.public_url}: "
                "set it to the URL senders use"
            )
    if settings.allow_insecure_destinations:
        warnings.append(
            "RECEIVER_ALLOW_INSECURE_DESTINATIONS is on: subscriptions may use http and private "
            "addresses, and documents may download from private addresses (for local testing)"
        )
    return warnings


@click.command()
def migrate() -> None:
    """Apply pending database migrations (serve also applies them at start)."""

    async def action(store: Store) -> list[str]:
        return store.migrated_at_open + await store.migrate()

    applied = with_store(action, create=True)
    for name in applied:
        click.echo(f"applied {name}")
    click.echo(f"migrations: up to date ({len(applied)} applied now)")


@click.command()
def worker() -> None:
    """Run only the workers (follow-up jobs, deliveries, reconciliation, eligibility polling)
    until interrupted."""
    settings = load_or_exit()
    configure_logging(settings.log_format, settings.log_level, final=True)
    keks = encryption_keys_or_exit(settings)

    async def run() -> None:
        store = build_sealed_store(settings, keks)
        await store.open()
        try:
            async with running_worker(settings, store, utc_now):
                freeze_startup_heap()
                await _wait_for_signal()
        finally:
            await store.close()

    try:
        asyncio.run(run())
    except ReceiverError as exc:
        raise click.ClickException(exc.detail) from None


async def _wait_for_signal() -> None:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
