"""The eligibility stage's pure core: request rules, CSV rows, batching, summaries, polling.

- `rules`: the one set of request rules both paths (real-time, batch) apply before calling Stedi,
  with `encounter` (service dates and codes) and `fields` (typed reads, `Issue`) beneath it.
- `x12text`: the X12 character sets and code lists those rules check against.
- `csv_rows`: CSV with one check per row, read into the same request dicts.
- `batching`: validated items split into Stedi batches.
- `summary`: the PHI-free summaries published with `eligibility.check.completed` and
  `eligibility.batch.completed`.
- `polling`: what to do next for a submitted batch, from its persisted poll state, with
  `schedule` (the poll schedule setting); the wait after a 429 is `policy.throttle_delay`.
- `events` and `records`: results as inbound events and the messages they publish; the stored
  submission and batch records.

All of the above is pure: no I/O, no clock (callers pass `today` / `now`). The one shell is
`poller`, which claims due batches, polls Stedi and records results.
"""
