"""POST /events/{id}/reprocess over HTTP: a reprocess job queued once while owed, 404 for an
unknown event, refused without events:replay, and audited."""

from __future__ import annotations

from receiver.models import AuditFilter, JobFilter
from receiver.store.reprocess_sql import REPROCESS_JOB
from receiver.store.sqlite import SqliteStore
from tests.audit_seed import claim_told
from tests.integration.builders import on_store
from tests.integration.harness import LiveServer


def test_reprocess_queues_one_job_and_is_audited(server: LiveServer) -> None:
    event_id = on_store(server.db_path, claim_told)
    admin = server.bearer("admin")  # events:replay
    first = server.http.post(f"/events/{event_id}/reprocess", headers=admin)
    assert first.status_code == 202, first.text
    assert first.json() == {"event_id": event_id, "queued": True}
    again = server.http.post(f"/events/{event_id}/reprocess", headers=admin)
    assert again.json() == {"event_id": event_id, "queued": False}  # still pending

    async def reprocess_jobs(store: SqliteStore) -> list[tuple[str, str]]:
        page = await store.list_jobs(JobFilter(event_id=event_id), limit=10, cursor=None)
        return [(j.kind, j.status) for j in page.items if j.kind == REPROCESS_JOB]

    assert on_store(server.db_path, reprocess_jobs) == [(REPROCESS_JOB, "pending")]

    async def audit_rows(store: SqliteStore) -> list[tuple[str, str | None, dict[str, int]]]:
        page = await store.list_audit(AuditFilter(action="event.reprocess"), limit=10, cursor=None)
        return [(e.actor, e.target, e.counts) for e in reversed(page.items)]

    admin_id = server.seed.admin.client_id
    assert on_store(server.db_path, audit_rows) == [
        (admin_id, event_id, {"queued": 1}),
        (admin_id, event_id, {"queued": 0}),
    ]


def test_reprocess_refusals(server: LiveServer) -> None:
    resp = server.http.post("/events/evt_nope/reprocess", headers=server.bearer("admin"))
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_found"
    event_id = on_store(server.db_path, claim_told)
    read_only = server.http.post(f"/events/{event_id}/reprocess", headers=server.bearer("ops"))
    assert read_only.status_code == 403
    assert read_only.json()["error"] == "insufficient_scope"
    assert server.http.post(f"/events/{event_id}/reprocess").status_code == 401
