"""Request-level serving simulator: workloads, schedulers, paged KV cache, cluster, metrics."""
