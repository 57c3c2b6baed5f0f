"""`receiver bench`: baseline vs receiver throughput and latency over loopback."""
