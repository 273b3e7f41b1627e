"""A deployed target: services the harness did not start, certified where they run.

``profile``  the target profile: a ``[tool.handshake.targets.NAME]`` table (or
             ``[targets.NAME]`` of a handshake.toml), strict like the rest of the file
``needs``    what each scenario needs of a target, and what a profile provides
``hooks``    the profile's kill/start/restart/pause/resume commands as faults that
             undo themselves, every invocation recorded
``kill_seen`` / ``pause_seen``  a kill or a pause seen to land on the service (its
             grpc.health.v1), or the scenario cannot pass
``plan``     the dry run: what a run on the target would do, touching nothing

A base package like ``harness.settings`` (which validates profiles with it): it
imports no harness layer. What needs the servers layer (the external Toxiproxy's
API), preflight and cleanup, is ``harness.faults.deployment``.
"""
