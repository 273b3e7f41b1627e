"""Deliberately broken services: each scenario must fail against the mutant that breaks
the behaviour it guards. They also show how a team plugs its own service in
(``--stigma-cmd`` / ``--zigflow-cmd``): a mutant is just another command line.
"""
