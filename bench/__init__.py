"""The benchmark: `python -m bench.run` (throughput, latency, CPU, memory against a
baseline) and `python -m bench.data_scale` (a million apps). See docs/performance.md.

Modules: ``environment`` (the benchmark's own database, exchange and service process),
``cpu`` (CPU time by part of the machine), ``observer`` (event arrival times),
``levels`` (load generators: one measured level each), ``oauth2`` (the token
endpoint's operations), ``report`` (tables and targets).
"""
