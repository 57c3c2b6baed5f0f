"""Intake: verify and parse what each inbound source sends (Stedi, event destinations, Optum)."""
