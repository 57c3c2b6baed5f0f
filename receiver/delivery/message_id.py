"""How a published message's id (its Standard Webhooks `webhook-id`) follows from what it
describes."""

from __future__ import annotations

import hashlib
import json

# Part of what is hashed: a change to the rule below gets a new version, never old ids.
_RULE = "receiver.message.v1"
_HEX_DIGITS = 32  # 128 bits


def message_id(
    *,
    account: str | None,
    about: tuple[str, ...],
    message_type: str,
    content_digest: str | None = None,
) -> str:
    """The id of the message of `message_type` about `about` in `account`: `msg_` and 32 hex
    digits of a SHA-256 over those parts.

    The rule: one fact, one id. The same fact always carries the same id, whichever product
    or poll told receiver of it and however often a job runs, so subscribers dedupe on it and
    the one delivery row per (message, subscription) means nothing is owed twice.
    - `about` names what the message describes, never the event that told us: a Stedi
      transaction is `("stedi-transaction", transaction_id)`, a file execution
      `("stedi-file", file_execution_id)`, an Optum task `("optum-task", task_id, status)`.
      Only a message about nothing better known is `("event", event_id)`.
    - `content_digest` is for content read from a fetched document (a 277CA, an 835): None
      for the document first stored for the fact, and the SHA-256 hex digest of the document
      when a later fetch (a reprocess) brought different bytes, such as a corrected report.
      So a reprocess that fetches the same content keeps the id (subscribers dedupe), while
      changed content is a new message.
    """
    parts = [_RULE, account, message_type, *about]
    if content_digest is not None:
        parts.append(f"sha256:{content_digest}")
    canonical = json.dumps(parts, separators=(",", ":"), ensure_ascii=True)
    return "msg_" + hashlib.sha256(canonical.encode("ascii")).hexdigest()[:_HEX_DIGITS]
