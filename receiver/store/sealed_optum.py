"""The Optum verbs SealedStore seals: a connection's client secret (receiver must send it, so
it cannot be a hash) and an ERA enrollment result (Optum's answer about providers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from receiver.crypto import Keyring
from receiver.enrollment.submissions import EraSubmission, StoredConnection
from receiver.store.base import Store
from receiver.store.sealed_values import aad, open_json, open_text, seal_json, seal_text


class SealedOptum:
    """Optum connections and ERA submissions through the sealing of SealedStore, which
    provides `inner`, `_fresh` (the keyring to seal with) and `_opened` (open, reloading
    keys once if a value names a newer one)."""

    inner: Store

    async def _fresh(self) -> Keyring:
        raise NotImplementedError

    async def _opened_connections(
        self, found: Sequence[StoredConnection]
    ) -> list[StoredConnection]:
        raise NotImplementedError

    async def add_optum_connection(self, stored: StoredConnection) -> None:
        """Seal the client secret, then add."""
        await self.inner.add_optum_connection(seal_connection(await self._fresh(), stored))

    async def update_optum_connection(self, stored: StoredConnection) -> bool:
        """Seal the client secret, then replace."""
        ring = await self._fresh()
        return await self.inner.update_optum_connection(seal_connection(ring, stored))

    async def fetch_optum_connection(self, name: str) -> StoredConnection | None:
        """Fetch and open."""
        found = await self.inner.fetch_optum_connection(name)
        if found is None:
            return None
        (opened,) = await self._opened_connections([found])
        return opened

    async def list_optum_connections(self) -> list[StoredConnection]:
        """List and open."""
        return await self._opened_connections(await self.inner.list_optum_connections())

    async def fetch_era_submission(self, submission_id: str) -> EraSubmission | None:
        """Fetch and open its result."""
        found = await self.inner.fetch_era_submission(submission_id)
        if found is None:
            return None
        (opened,) = await self._opened_submissions([found])
        return opened

    async def save_era_submission(self, submission: EraSubmission) -> None:
        """Seal its result, then store."""
        ring = await self._fresh()
        await self.inner.save_era_submission(seal_submission(ring, submission))

    async def claim_due_era_submissions(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[EraSubmission]:
        """Claim and open their results."""
        found = await self.inner.claim_due_era_submissions(
            now=now, lease_until=lease_until, limit=limit
        )
        return await self._opened_submissions(found)

    async def _opened_submissions(self, found: Sequence[EraSubmission]) -> list[EraSubmission]:
        raise NotImplementedError


def _secret_aad(name: str) -> bytes:
    return aad("optum_connections", "client_secret", name)


def seal_connection(ring: Keyring, stored: StoredConnection) -> StoredConnection:
    """`stored` with its client secret sealed."""
    secret = seal_text(ring, stored.connection.client_secret, _secret_aad(stored.name))
    return replace(stored, connection=replace(stored.connection, client_secret=secret or ""))


def open_connection(ring: Keyring, stored: StoredConnection) -> StoredConnection:
    """`stored` with its client secret opened (a plain one, from before, as it is)."""
    secret = open_text(ring, stored.connection.client_secret, _secret_aad(stored.name))
    return replace(stored, connection=replace(stored.connection, client_secret=secret or ""))


def _result_aad(submission: EraSubmission) -> bytes:
    return aad("era_submissions", "result", submission.id)


def seal_submission(ring: Keyring, submission: EraSubmission) -> EraSubmission:
    """`submission` with its result sealed."""
    if submission.result is None:
        return submission
    return replace(submission, result=seal_json(ring, submission.result, _result_aad(submission)))


def open_submission(ring: Keyring, submission: EraSubmission) -> EraSubmission:
    """`submission` with its result opened."""
    if submission.result is None:
        return submission
    return replace(submission, result=open_json(ring, submission.result, _result_aad(submission)))
