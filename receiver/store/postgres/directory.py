"""OAuth clients, Stedi accounts and poll cursors on PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from receiver.errors import ConflictError, NotFoundError
from receiver.models import (
    Account,
    Client,
)
from receiver.store import rows
from receiver.store.postgres.base import PostgresBase


class PostgresDirectory(PostgresBase):
    """OAuth clients, Stedi accounts and poll cursors on PostgreSQL."""

    # -- clients -------------------------------------------------------------------------------
    async def add_client(self, client: Client) -> None:
        """Insert; ConflictError on a taken name or id."""
        try:
            await self._execute(
                f"INSERT INTO clients ({rows.CLIENT_COLUMNS}) "  # noqa: S608
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                *rows.client_params(client),
            )
        except ConflictError:
            raise ConflictError(f"a client named {client.name!r} already exists") from None

    async def fetch_client(self, client_id: str) -> Client | None:
        """By client_id."""
        row = await self._fetchrow(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients WHERE client_id = $1",  # noqa: S608
            client_id,
        )
        return rows.client_from_row(row) if row else None

    async def fetch_client_by_name(self, name: str) -> Client | None:
        """By local name."""
        row = await self._fetchrow(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients WHERE name = $1",  # noqa: S608
            name,
        )
        return rows.client_from_row(row) if row else None

    async def list_clients(self) -> list[Client]:
        """Oldest first."""
        found = await self._fetch(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients ORDER BY created_at, name"  # noqa: S608
        )
        return [rows.client_from_row(row) for row in found]

    async def update_client(self, client: Client) -> None:
        """Replace by client_id."""
        try:
            count = await self._execute(
                "UPDATE clients SET name = $1, scopes = $2, secret_hash = $3, "
                "previous_secret_hash = $4, previous_expires_at = $5, created_at = $6, "
                "revoked_at = $7 WHERE client_id = $8",
                *rows.client_params(client)[1:],
                client.client_id,
            )
        except ConflictError:
            raise ConflictError(f"a client named {client.name!r} already exists") from None
        if count == 0:
            raise NotFoundError(f"no client {client.client_id}")

    # -- accounts ------------------------------------------------------------------------------
    async def add_account(self, account: Account) -> None:
        """Insert; ConflictError on a taken name."""
        try:
            await self._execute(
                f"INSERT INTO accounts ({rows.ACCOUNT_COLUMNS}) "  # noqa: S608
                "VALUES ($1, $2, $3, $4, $5, $6)",
                *rows.account_params(account),
            )
        except ConflictError:
            raise ConflictError(f"an account named {account.name!r} already exists") from None

    async def fetch_account(self, name: str) -> Account | None:
        """By local name."""
        row = await self._fetchrow(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE name = $1",  # noqa: S608
            name,
        )
        return rows.account_from_row(row) if row else None

    async def list_accounts(self) -> list[Account]:
        """By name."""
        found = await self._fetch(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts ORDER BY name"  # noqa: S608
        )
        return [rows.account_from_row(row) for row in found]

    async def update_account(self, account: Account) -> None:
        """Replace by name."""
        count = await self._execute(
            "UPDATE accounts SET stedi_account_id = $1, credentials = $2, api_key = $3, "
            "created_at = $4, stedi_account_uuid = $5 WHERE name = $6",
            *rows.account_params(account)[1:],
            account.name,
        )
        if count == 0:
            raise NotFoundError(f"no account named {account.name!r}")

    async def remove_account(self, name: str) -> bool:
        """Delete by name."""
        return await self._execute("DELETE FROM accounts WHERE name = $1", name) > 0

    # -- poll cursors --------------------------------------------------------------------------
    async def fetch_poll_cursor(self, name: str) -> str | None:
        """The stored value, or None."""
        row = await self._fetchrow("SELECT value FROM poll_cursors WHERE name = $1", name)
        return str(row["value"]) if row else None

    async def save_poll_cursor(self, name: str, value: str, now: datetime) -> None:
        """Upsert by name."""
        await self._execute(
            "INSERT INTO poll_cursors (name, value, updated_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, "
            "updated_at = EXCLUDED.updated_at",
            name,
            value,
            now,
        )
