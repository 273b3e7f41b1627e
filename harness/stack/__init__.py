"""A running stack: Temporal, Stigma and Zigflow behind the links, and the harness's own
workers in it.
"""
