"""Asynchronous calls: a durable queue with bounded parallelism, retries, dead letters and callbacks."""
