"""OAuth clients, Stedi accounts and poll cursors, written once in `?`-style SQL."""

from __future__ import annotations

from datetime import datetime

from receiver.errors import ConflictError, NotFoundError
from receiver.models import Account, Client
from receiver.store import rows
from receiver.store.sql import SqlCalls, marks


class DirectoryRows(SqlCalls):
    """OAuth clients, Stedi accounts and poll cursors, over an adapter's `_rows`/`_write`."""

    # -- clients -------------------------------------------------------------------------------
    async def add_client(self, client: Client) -> None:
        """Insert; ConflictError on a taken name or id."""
        try:
            await self._write(
                f"INSERT INTO clients ({rows.CLIENT_COLUMNS}) VALUES ({marks(8)})",  # noqa: S608
                rows.client_params(client),
            )
        except ConflictError:
            raise ConflictError(f"a client named {client.name!r} already exists") from None

    async def fetch_client(self, client_id: str) -> Client | None:
        """By client_id."""
        found = await self._rows(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients WHERE client_id = ?",  # noqa: S608
            (client_id,),
        )
        return rows.client_from_row(found[0]) if found else None

    async def fetch_client_by_name(self, name: str) -> Client | None:
        """By local name."""
        found = await self._rows(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients WHERE name = ?",  # noqa: S608
            (name,),
        )
        return rows.client_from_row(found[0]) if found else None

    async def list_clients(self) -> list[Client]:
        """Oldest first."""
        found = await self._rows(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients ORDER BY created_at, name"  # noqa: S608
        )
        return [rows.client_from_row(row) for row in found]

    async def update_client(self, client: Client) -> None:
        """Replace by client_id."""
        try:
            count = await self._write(
                "UPDATE clients SET name = ?, scopes = ?, secret_hash = ?, "
                "previous_secret_hash = ?, previous_expires_at = ?, created_at = ?, "
                "revoked_at = ? WHERE client_id = ?",
                (*rows.client_params(client)[1:], client.client_id),
            )
        except ConflictError:
            raise ConflictError(f"a client named {client.name!r} already exists") from None
        if count == 0:
            raise NotFoundError(f"no client {client.client_id}")

    # -- accounts ------------------------------------------------------------------------------
    async def add_account(self, account: Account) -> None:
        """Insert; ConflictError on a taken name."""
        try:
            await self._write(
                f"INSERT INTO accounts ({rows.ACCOUNT_COLUMNS}) VALUES ({marks(6)})",  # noqa: S608
                rows.account_params(account),
            )
        except ConflictError:
            raise ConflictError(f"an account named {account.name!r} already exists") from None

    async def fetch_account(self, name: str) -> Account | None:
        """By local name."""
        found = await self._rows(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE name = ?",  # noqa: S608
            (name,),
        )
        return rows.account_from_row(found[0]) if found else None

    async def list_accounts(self) -> list[Account]:
        """By name."""
        found = await self._rows(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts ORDER BY name"  # noqa: S608
        )
        return [rows.account_from_row(row) for row in found]

    async def update_account(self, account: Account) -> None:
        """Replace by name."""
        count = await self._write(
            "UPDATE accounts SET stedi_account_id = ?, credentials = ?, api_key = ?, "
            "created_at = ?, stedi_account_uuid = ? WHERE name = ?",
            (*rows.account_params(account)[1:], account.name),
        )
        if count == 0:
            raise NotFoundError(f"no account named {account.name!r}")

    async def remove_account(self, name: str) -> bool:
        """Delete by name."""
        return await self._write("DELETE FROM accounts WHERE name = ?", (name,)) > 0

    # -- poll cursors --------------------------------------------------------------------------
    async def fetch_poll_cursor(self, name: str) -> str | None:
        """The stored value, or None."""
        found = await self._rows("SELECT value FROM poll_cursors WHERE name = ?", (name,))
        return str(found[0]["value"]) if found else None

    async def save_poll_cursor(self, name: str, value: str, now: datetime) -> None:
        """Upsert by name."""
        await self._write(
            "INSERT INTO poll_cursors (name, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, "
            "updated_at = EXCLUDED.updated_at",
            (name, value, now),
        )
