"""Load runs with Locust: real handshakes at a rate, against the local stack or staging.

Pieces (each process has one job):
  run.py        the one command (`make load`): brings up the local stack unless a
                target is given, runs Locust (single or master + workers), samples the
                services' memory, writes the figures and judges the thresholds
  locustfile.py the Locust side (gevent): users ask a bridge for handshakes and
                report each stage to Locust's statistics
  bridge.py     a plain asyncio process that owns the temporalio client: temporalio
                (asyncio + a Rust core) cannot run under gevent's monkey-patching;
                under `make load` it reads the stage timings after the load
  target.py     where to send load: Temporal address, namespace, TLS, API key, queues
  figures.py    latency figures (nearest rank), thresholds, the memory-leak verdict (pure)
  shapes.py     Locust load shapes: step, spike, soak
  gameday.py    a game day on a target profile: run.py at a steady --rate while a
                fault schedule runs, figures and exactly-once per fault window
"""
