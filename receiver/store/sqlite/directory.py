"""OAuth clients, Stedi accounts and poll cursors on SQLite."""

from __future__ import annotations

from datetime import datetime

from receiver.errors import ConflictError, NotFoundError
from receiver.models import (
    Account,
    Client,
)
from receiver.store import rows
from receiver.store.sqlite.base import SqliteBase, param, to_text


class SqliteDirectory(SqliteBase):
    """OAuth clients, Stedi accounts and poll cursors on SQLite."""

    # -- clients -------------------------------------------------------------------------------
    async def add_client(self, client: Client) -> None:
        """Insert; ConflictError on a taken name or id."""
        try:
            async with self._transaction() as conn:
                await conn.execute(
                    f"INSERT INTO clients ({rows.CLIENT_COLUMNS}) "  # noqa: S608
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    _client_params(client),
                )
        except ConflictError:
            raise ConflictError(f"a client named {client.name!r} already exists") from None

    async def fetch_client(self, client_id: str) -> Client | None:
        """By client_id."""
        row = await self._fetchone(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients WHERE client_id = ?",  # noqa: S608
            (client_id,),
        )
        return rows.client_from_row(row) if row else None

    async def fetch_client_by_name(self, name: str) -> Client | None:
        """By local name."""
        row = await self._fetchone(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients WHERE name = ?",  # noqa: S608
            (name,),
        )
        return rows.client_from_row(row) if row else None

    async def list_clients(self) -> list[Client]:
        """Oldest first."""
        found = await self._fetchall(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients ORDER BY created_at, name"  # noqa: S608
        )
        return [rows.client_from_row(row) for row in found]

    async def update_client(self, client: Client) -> None:
        """Replace by client_id."""
        async with self._transaction() as conn:
            cur = await conn.execute(
                "UPDATE clients SET name = ?, scopes = ?, secret_hash = ?, "
                "previous_secret_hash = ?, previous_expires_at = ?, created_at = ?, "
                "revoked_at = ? WHERE client_id = ?",
                (*_client_params(client)[1:], client.client_id),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"no client {client.client_id}")

    # -- accounts ------------------------------------------------------------------------------
    async def add_account(self, account: Account) -> None:
        """Insert; ConflictError on a taken name."""
        try:
            async with self._transaction() as conn:
                await conn.execute(
                    f"INSERT INTO accounts ({rows.ACCOUNT_COLUMNS}) "  # noqa: S608
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    _account_params(account),
                )
        except ConflictError:
            raise ConflictError(f"an account named {account.name!r} already exists") from None

    async def fetch_account(self, name: str) -> Account | None:
        """By local name."""
        row = await self._fetchone(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE name = ?",  # noqa: S608
            (name,),
        )
        return rows.account_from_row(row) if row else None

    async def list_accounts(self) -> list[Account]:
        """By name."""
        found = await self._fetchall(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts ORDER BY name"  # noqa: S608
        )
        return [rows.account_from_row(row) for row in found]

    async def update_account(self, account: Account) -> None:
        """Replace by name."""
        async with self._transaction() as conn:
            cur = await conn.execute(
                "UPDATE accounts SET stedi_account_id = ?, credentials = ?, api_key = ?, "
                "created_at = ?, stedi_account_uuid = ? WHERE name = ?",
                (*_account_params(account)[1:], account.name),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"no account named {account.name!r}")

    async def remove_account(self, name: str) -> bool:
        """Delete by name."""
        async with self._transaction() as conn:
            cur = await conn.execute("DELETE FROM accounts WHERE name = ?", (name,))
            return cur.rowcount > 0

    # -- poll cursors --------------------------------------------------------------------------
    async def fetch_poll_cursor(self, name: str) -> str | None:
        """The stored value, or None."""
        row = await self._fetchone("SELECT value FROM poll_cursors WHERE name = ?", (name,))
        return str(row["value"]) if row else None

    async def save_poll_cursor(self, name: str, value: str, now: datetime) -> None:
        """Upsert by name."""
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO poll_cursors (name, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (name, value, to_text(now)),
            )


def _client_params(client: Client) -> tuple[object, ...]:
    return tuple(param(v) for v in rows.client_params(client))


def _account_params(account: Account) -> tuple[object, ...]:
    return tuple(param(v) for v in rows.account_params(account))
