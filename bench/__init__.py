"""Benchmarks of the xsp emulator, each figure beside a baseline measured in the same run.

``python -m bench`` (``make bench``) runs them all and writes ``bench/results/latest.json``:

- ``handshake``: server CPU per 1,000 mutual-TLS handshakes against ``openssl s_server``;
- ``events``: event delivery rate and latency, 100 channels and 1,000 subscriptions,
  against a bare aiohttp chunked stream;
- ``scale``: memory per idle channel at 1,000 and 10,000 channels, and request latency
  with them open;
- ``shell``: start-up, command and completion latency with 1,000 trust anchors and 100
  interfaces.

Shared pieces: ``common`` (process CPU and memory, statistics, worker processes, the
table), ``state`` (states built through the CLI engine), ``nodeproc`` (the node in a
process of its own).
"""
