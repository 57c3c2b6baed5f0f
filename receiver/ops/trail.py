"""Recording the audit trail: who is acting, and one row per ops action or PHI read.

Every use case in ops/ that changes something or hands out PHI calls `record` once it has
done so (and before the PHI is returned), so the API and the CLI leave the same trace. Rows
carry ids, times, statuses and counts; never bodies or secrets.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from datetime import datetime

from receiver.ids import new_id
from receiver.models import Actor, AuditAction, AuditEntry
from receiver.store.ports import AuditTrail


def cli_actor() -> Actor:
    """The person at the command line: `cli:<os user>`, with a fresh request id."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment or the password database
        user = f"uid{os.getuid()}"
    return Actor(who=f"cli:{user}", request_id=new_id("req"))


async def record(
    trail: AuditTrail,
    actor: Actor,
    action: AuditAction,
    *,
    now: datetime,
    target: str | None = None,
    filter: Mapping[str, object] | None = None,
    counts: Mapping[str, int] | None = None,
) -> None:
    """Append one audit row for `actor` doing `action` to `target`."""
    await trail.append_audit(
        AuditEntry(
            id=new_id("aud"),
            created_at=now,
            actor=actor.who,
            action=action.value,
            target=target,
            request_id=actor.request_id,
            filter={k: v for k, v in (filter or {}).items() if v is not None},
            counts=dict(counts or {}),
        )
    )
