"""A small deployment supervisor for the local staging rehearsal.

``python -m reference_services.deploy --state DIR up`` deploys the reference services
as long-running processes that outlive it (a Temporal dev server, Toxiproxy, Stigma,
Zigflow), each detached in its own session, and writes ``DIR/handshake.toml``: a target
profile (``[targets.rehearsal]``) for ``handshake certify --target rehearsal``, whose
hooks call this supervisor back (``kill``, ``start``, ``pause`` ...).

It is deliberately *not* the harness's stack (harness.stack, harness.servers,
harness.links): certifying a deployment must exercise the harness's target code
against processes it did not start and cannot see, as on a real staging cluster. It
borrows only names (harness.contract), the pairing commands (harness.config) and the
profile schema it validates its output with (harness.target.profile).

Every process is known by its pid *and* its start time (``/proc/PID/stat`` field 22),
so a pid file left behind after a reboot or a crash never makes the supervisor signal
a stranger that got the same pid.
"""
