"""Ops: the use cases the HTTP ops API (web/) and the `receiver` command (cli/) both call."""
