"""The audit trail: who did what to which target, and who read PHI, kept append-only."""
