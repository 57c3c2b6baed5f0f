"""ERA enrollment through Optum: the records submitted (validation, canonical form,
fingerprints) and the results polled for (reading them, deciding when to poll again)."""
