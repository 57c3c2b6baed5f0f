"""Follow-up: the worker, what a job fetches and publishes, claims, X12 reading, reconciliation."""
