"""Reference Zigflow: a Temporal worker whose workflow runs a plan of states.

One kind of state calls an agent through the ``ExecuteAgent`` activity, which
hands its task token to Stigma and goes "result pending".
"""
