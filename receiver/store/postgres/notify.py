"""Wake-ups across processes on PostgreSQL: LISTEN on the channels the store NOTIFYs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from receiver.errors import StoreUnavailableError
from receiver.store.postgres.base import PostgresBase


class PostgresNotify(PostgresBase):
    """LISTEN on a dedicated connection (a pooled one would be handed to other work)."""

    async def listen(
        self, *, on_jobs: Callable[[], None], on_deliveries: Callable[[], None]
    ) -> Callable[[], Awaitable[None]]:
        """Call `on_jobs` when new or revived jobs are committed anywhere, `on_deliveries`
        when deliveries are; returns the coroutine function that stops listening."""
        try:
            conn: Any = await asyncpg.connect(self.dsn)
            await conn.add_listener(self.channel("jobs"), lambda *_: on_jobs())
            await conn.add_listener(self.channel("deliveries"), lambda *_: on_deliveries())
        except (asyncpg.PostgresError, OSError) as exc:
            raise StoreUnavailableError(f"cannot LISTEN: {exc}") from exc

        async def stop() -> None:
            if not conn.is_closed():
                await conn.close()

        return stop
