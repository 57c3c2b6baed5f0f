"""Outbound clients for the upstream APIs receiver fetches from (Stedi reports)."""
